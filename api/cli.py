"""`musicgw`: the operator's command line (accounts, keys, migrations, and the processes).

Commands print JSON, one object, for scripts; `accounts list`, `accounts show` and `status`
print a table instead when stdout is a terminal (`--json` asks for JSON there too). Every URL
printed starts with the base the server hands out (Settings.effective_public_base_url).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import click
from sqlalchemy import select

from common.account import service as accounts
from common.config import Settings, get_settings
from common.db import create_db_engine, create_session_factory, transaction, utcnow
from common.errors import AppError
from common.models import Account
from common.observability.logs import configure_logging
from common.pricing import format_usd, usd_to_micro


def _sessions():  # type: ignore[no-untyped-def]
    return create_session_factory(create_db_engine(get_settings()))


# Printed under --help of every command that prints a URL of the gateway.
URL_BASE_HELP = (
    "URLs start with PUBLIC_BASE_URL if set, else http://HOST:PORT (from the environment or "
    ".env), the same base the server uses in the links it hands out."
)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="JSON even on a terminal (piped, it always is)."
)


def _emit(
    payload: dict[str, Any],
    *,
    as_json: bool = True,
    human: Callable[[dict[str, Any]], str] | None = None,
) -> None:
    """JSON for scripts; on a terminal, the `human` rendering when there is one."""
    if human is not None and not as_json and sys.stdout.isatty():
        click.echo(human(payload))
        return
    click.echo(json.dumps(payload, indent=None if not sys.stdout.isatty() else 2))


def _table(rows: Iterable[Sequence[object]], *, header: Sequence[str] = (), right: int = 0) -> str:
    """Columns padded to their widest cell; the last `right` columns aligned right (amounts)."""
    cells = ([list(header)] if header else []) + [[str(c) for c in row] for row in rows]
    columns = len(cells[0])
    widths = [max(len(row[i]) for row in cells) for i in range(columns)]
    first_right = columns - right
    return "\n".join(
        "  ".join(
            cell.rjust(width) if i >= first_right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in cells
    )


def _usd(amount: str) -> str:
    return f"-${amount[1:]}" if amount.startswith("-") else f"${amount}"


def _when(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")


def _micro(amount: str, *, allow_zero: bool) -> int:
    try:
        micro = usd_to_micro(amount)
    except ValueError as exc:
        raise click.BadParameter(f"{exc}; give an amount in dollars, such as 12.50") from exc
    if micro < 0 or (micro == 0 and not allow_zero):
        raise click.BadParameter(f"{amount} must be {'≥' if allow_zero else '>'} 0")
    return micro


@click.group()
def main() -> None:
    """Operate the music gateway."""


@main.group("accounts")
def accounts_group() -> None:
    """Accounts and balances."""


@accounts_group.command("create")
@click.option("--name", required=True)
@click.option("--balance-usd", default="0", show_default=True)
def accounts_create(name: str, balance_usd: str) -> None:
    """Create an account and its first API key (printed once)."""
    balance = _micro(balance_usd, allow_zero=True)
    with transaction(_sessions()) as session:
        account = accounts.create_account(session, name=name, balance_micro_usd=balance)
        key, plaintext = accounts.create_key(session, account_id=account.id)
    _emit(
        {
            "account_id": account.id,
            "api_key": plaintext,
            "key_id": key.id,
            "balance_usd": format_usd(balance),
        }
    )


@accounts_group.command("list")
@json_option
def accounts_list(as_json: bool) -> None:
    """Every account: id, name, balance, active API keys, created (oldest first)."""
    with transaction(_sessions()) as session:
        rows = accounts.list_accounts(session)
    _emit(
        {
            "accounts": [
                {
                    "account_id": account.id,
                    "name": account.name,
                    "balance_usd": format_usd(account.balance_micro_usd),
                    "active_keys": active_keys,
                    "created_at": account.created_at.isoformat(),
                }
                for account, active_keys in rows
            ]
        },
        as_json=as_json,
        human=_accounts_text,
    )


def _accounts_text(payload: dict[str, Any]) -> str:
    if not payload["accounts"]:
        return "No accounts yet: `musicgw accounts create --name NAME` makes one."
    rows = [
        (
            a["account_id"],
            a["name"],
            _when(a["created_at"]),
            a["active_keys"],
            _usd(a["balance_usd"]),
        )
        for a in payload["accounts"]
    ]
    return _table(rows, header=("ID", "NAME", "CREATED", "ACTIVE KEYS", "BALANCE"), right=2)


@accounts_group.command("topup")
@click.argument("account_id")
@click.option("--usd", required=True)
def accounts_topup(account_id: str, usd: str) -> None:
    """Add money to an account."""
    amount = _micro(usd, allow_zero=False)
    with transaction(_sessions()) as session:
        balance = accounts.top_up(session, account_id=account_id, amount_micro_usd=amount)
    _emit({"account_id": account_id, "balance_usd": format_usd(balance)})


@accounts_group.command("show")
@click.argument("account_id")
@click.option("--entries", default=20, show_default=True, help="Recent ledger entries.")
@json_option
def accounts_show(account_id: str, entries: int, as_json: bool) -> None:
    """Balance, held amount and recent ledger entries."""
    with transaction(_sessions()) as session:
        account = accounts.get_account(session, account_id)
        recent = accounts.recent_entries(session, account_id=account_id, limit=entries)
    _emit(
        {
            "account_id": account.id,
            "name": account.name,
            "created_at": account.created_at.isoformat(),
            "balance_usd": format_usd(account.balance_micro_usd),
            "held_usd": format_usd(account.held_micro_usd),
            "available_usd": format_usd(account.balance_micro_usd - account.held_micro_usd),
            "entries": [
                {
                    "at": e.created_at.isoformat(),
                    "kind": e.kind,
                    "amount_usd": format_usd(e.amount_micro_usd),
                    "balance_after_usd": format_usd(e.balance_after_micro_usd),
                    "job_id": e.job_id,
                    "memo": e.memo,
                }
                for e in recent
            ],
        },
        as_json=as_json,
        human=_account_text,
    )


def _account_text(payload: dict[str, Any]) -> str:
    summary = _table(
        [
            ("Account", f"{payload['account_id']} ({payload['name']})"),
            ("Created", _when(payload["created_at"])),
            ("Balance", _usd(payload["balance_usd"])),
            ("Held", _usd(payload["held_usd"])),
            ("Available", _usd(payload["available_usd"])),
        ]
    )
    if not payload["entries"]:
        return f"{summary}\n\nNo ledger entries."
    rows = [
        (
            _when(e["at"]),
            e["kind"],
            e["job_id"] or "",
            e["memo"] or "",
            _usd(e["amount_usd"]),
            _usd(e["balance_after_usd"]),
        )
        for e in payload["entries"]
    ]
    header = ("AT", "KIND", "JOB", "MEMO", "AMOUNT", "BALANCE AFTER")
    entries = _table(rows, header=header, right=2)
    return f"{summary}\n\nRecent ledger entries (newest first):\n{entries}"


@accounts_group.command("limits")
@click.argument("account_id")
@click.option("--rate", default=None, help="Requests per API key, e.g. 60/minute.")
@click.option(
    "--max-concurrent", "max_in_flight", type=int, default=None, help="Jobs in flight at once."
)
def accounts_limits(account_id: str, rate: str | None, max_in_flight: int | None) -> None:
    """Override the account's abuse limits (an option left out resets it to the default)."""
    with transaction(_sessions()) as session:
        account = accounts.set_limits(
            session, account_id=account_id, rate_limit=rate, max_in_flight=max_in_flight
        )
    _emit(
        {
            "account_id": account.id,
            "rate_limit": account.rate_limit,
            "max_concurrent_jobs": account.max_concurrent_jobs,
        }
    )


@accounts_group.command("sign-out")
@click.argument("account_id")
def accounts_sign_out(account_id: str) -> None:
    """End every gallery session of an account (each browser must sign in again)."""
    from common.account.sessions import end_account_sessions

    with transaction(_sessions()) as session:
        accounts.get_account(session, account_id)
        ended = end_account_sessions(session, account_id=account_id)
    _emit({"account_id": account_id, "sessions_ended": ended})


@accounts_group.command("webhook")
@click.argument("account_id")
@click.option("--url", default=None, help="Where job-ended webhooks go (empty: none).")
@click.option("--rotate-secret", is_flag=True, help="Issue a new signing secret.")
def accounts_webhook(account_id: str, url: str | None, rotate_secret: bool) -> None:
    """Set the account's webhook URL; prints the signing secret (whsec_…)."""
    from common.webhooks.signing import new_secret

    with transaction(_sessions()) as session:
        account = accounts.get_account(session, account_id)
        account.webhook_url = url or None
        if rotate_secret or not account.webhook_secret:
            account.webhook_secret = new_secret()
    _emit(
        {
            "account_id": account_id,
            "webhook_url": account.webhook_url,
            "webhook_secret": account.webhook_secret,
        }
    )


@main.group("keys")
def keys_group() -> None:
    """API keys."""


MAX_KEY_DAYS = 3650


def _key_lifetime(_: click.Context, __: click.Parameter, days: float | None) -> float | None:
    if days is not None and not (math.isfinite(days) and 0 < days <= MAX_KEY_DAYS):
        raise click.BadParameter(
            f"{days} is not a number of days above 0 and at most {MAX_KEY_DAYS}; leave the "
            "option out for a key that never expires"
        )
    return days


@keys_group.command("create")
@click.argument("account_id")
@click.option(
    "--expires-in-days",
    type=float,
    default=None,
    callback=_key_lifetime,
    help=f"Above 0, at most {MAX_KEY_DAYS}. Left out: the key never expires.",
)
def keys_create(account_id: str, expires_in_days: float | None) -> None:
    """Issue a new API key for an account (printed once)."""
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    with transaction(_sessions()) as session:
        key, plaintext = accounts.create_key(session, account_id=account_id, expires_at=expires_at)
    _emit(
        {
            "key_id": key.id,
            "account_id": account_id,
            "api_key": plaintext,
            "expires_at": expires_at.isoformat() if expires_at else None,
        }
    )


@keys_group.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key."""
    with transaction(_sessions()) as session:
        accounts.revoke_key(session, key_id=key_id)
    _emit({"key_id": key_id, "revoked": True})


@main.group("ledger")
def ledger_group() -> None:
    """The money invariants."""


@ledger_group.command("verify")
@click.option("--account", "account_id", default=None, help="Only this account.")
@click.option(
    "--objects",
    is_flag=True,
    help="Also ask the blob store for every succeeded job's object (one request each).",
)
def ledger_verify(account_id: str | None, objects: bool) -> None:
    """Check the ledger invariants; exit 1 and list every violation if any fails. With
    --objects, a charged track whose stored object is missing is a violation too."""
    from common.ledger.verify import verify_ledger, verify_stored_objects
    from common.storage.registry import build_store

    with transaction(_sessions()) as session:
        problems = verify_ledger(session, account_id=account_id)
        if objects:
            store = build_store(get_settings())
            problems += verify_stored_objects(session, store, account_id=account_id)
    for problem in problems:
        click.echo(f"violation: {problem}")
    if problems:
        sys.exit(1)
    click.echo(
        "ledger ok" + (", every charged track's object present" if objects else ""), err=True
    )


@main.command("status")
@json_option
def status_command(as_json: bool) -> None:
    """Queue depth, active holds, jobs in flight per provider, and live workers.

    `workers` counts only workers that answer now: Celery workers that answer a ping within
    a second, or (embedded, no REDIS_URL) 1 if the API process, which runs the worker, answers
    /healthz on HOST:PORT on this machine, else 0.
    """
    from common.health.service import status

    settings = get_settings()
    with transaction(_sessions()) as session:
        report = status(session)
    report |= _embedded_workers(settings) if settings.embedded else _celery_workers(settings)
    _emit(report, as_json=as_json, human=_status_text)


def _embedded_workers(settings: Settings) -> dict[str, Any]:
    import httpx

    # The embedded API shares this machine's data directory, so ask it where it listens (the
    # public URL may be a proxy this machine cannot reach). Its queue lives in its memory:
    # only it could count it.
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(settings.host, settings.host)
    url = f"http://{f'[{host}]' if ':' in host else host}:{settings.port}"
    try:
        answering = httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        answering = False
    return {"mode": "embedded", "api_url": url, "queue_depth": None, "workers": int(answering)}


def _celery_workers(settings: Settings) -> dict[str, Any]:
    import redis

    from worker.app import QUEUE, celery_app

    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
    try:
        depth = client.llen(QUEUE)
    except redis.RedisError as exc:
        # No broker: no worker can be taking jobs, and a ping would only wait for it.
        return {"mode": "celery", "redis": f"unavailable: {exc}", "queue_depth": None, "workers": 0}
    finally:
        client.close()
    replies = celery_app.control.ping(timeout=1.0) or []
    return {"mode": "celery", "queue_depth": depth, "workers": len(replies)}


def _status_text(report: dict[str, Any]) -> str:
    workers = report["workers"]
    if report["mode"] == "embedded":
        where = f"the API at {report['api_url']}"
        worker_line = (
            f"1, embedded in {where}"
            if workers
            else f"none: {where} is not answering (the embedded worker runs inside it)"
        )
        queue_line = "not visible from here (embedded: it lives in the API process)"
    else:
        worker_line = f"{workers} answered a ping" if workers else "none answered a ping in 1 s"
        queue_line = (
            f"{report['queue_depth']} waiting"
            if report["queue_depth"] is not None
            else f"unknown: Redis {report.get('redis', 'unavailable')}"
        )
    holds = f"{report['active_holds']} ({_usd(format_usd(report['active_holds_micro_usd']))})"
    jobs = [
        (f"  {provider}", ", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
        for provider, counts in sorted(report["jobs"].items())
    ]
    rows = [
        ("Workers", worker_line),
        ("Queue", queue_line),
        ("Active holds", holds),
        ("Jobs in flight", "" if jobs else "none"),
        *jobs,
    ]
    return _table(rows)


@main.group("webhooks")
def webhooks_group() -> None:
    """Webhook deliveries."""


@webhooks_group.command("redeliver")
@click.argument("delivery_id")
def webhooks_redeliver(delivery_id: str) -> None:
    """Send a delivery again (beat picks it up on its next pass)."""
    from common.webhooks.service import redeliver

    with transaction(_sessions()) as session:
        redeliver(session, delivery_id=delivery_id)
    _emit({"delivery_id": delivery_id, "state": "pending"})


@main.command("gallery-link", epilog=URL_BASE_HELP)
@click.argument("account_id")
def gallery_link(account_id: str) -> None:
    """A one-time gallery sign-in link for an account (valid 15 minutes)."""
    from common.account.sessions import create_login_link

    settings = get_settings()
    with transaction(_sessions()) as session:
        accounts.get_account(session, account_id)
        token = create_login_link(session, account_id=account_id)
    _emit(
        {
            "account_id": account_id,
            "url": f"{settings.effective_public_base_url}/gallery/login/{token}",
        }
    )


@main.group("db")
def db_group() -> None:
    """The database schema."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations (to head by default)."""
    from common.migrations import upgrade

    upgrade(get_settings(), revision)
    click.echo(f"database at {revision}", err=True)


@main.command("demo", epilog=URL_BASE_HELP)
@click.option("--balance-usd", default="100")
def demo(balance_usd: str) -> None:
    """Make sure a 'demo' account exists with money on it; print a fresh key and a curl line."""
    settings = get_settings()
    target = _micro(balance_usd, allow_zero=False)
    with transaction(_sessions()) as session:
        account = session.scalars(select(Account).where(Account.name == "demo")).first()
        if account is None:
            account = accounts.create_account(session, name="demo", balance_micro_usd=target)
        elif account.balance_micro_usd < target:
            accounts.top_up(
                session, account_id=account.id, amount_micro_usd=target - account.balance_micro_usd
            )
        _, plaintext = accounts.create_key(session, account_id=account.id)
    base = settings.effective_public_base_url
    click.echo(f"\nDemo account: {account.id}\nDemo API key: {plaintext}\n\nTry it:\n")
    click.echo(
        f"  curl -sS -o track.mp3 -D - {base}/v1/audio/music \\\n"
        f"    -H 'Authorization: Bearer {plaintext}' -H 'Content-Type: application/json' \\\n"
        """    -d '{"prompt": "upbeat lo-fi hip hop with warm keys", "music_length_ms": 30000}'\n"""
    )
    click.echo(f"API docs: {base}/docs\n")


@main.command("serve")
@click.option(
    "--host",
    default=None,
    help="Listen here instead of HOST. Links the API hands out still use PUBLIC_BASE_URL or "
    "HOST:PORT, so set those to change them.",
)
@click.option("--port", type=int, default=None, help="Listen here instead of PORT (as --host).")
@click.option("--workers", type=int, default=1, show_default=True)
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Run the HTTP API (with an in-process worker when no REDIS_URL is set)."""
    import uvicorn

    from api.server import DeadlineProtocol, raise_open_file_limit

    settings = get_settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    # One descriptor per connection, plus the database, Redis and blob-store pools.
    raise_open_file_limit(settings.http_max_concurrency + 256)
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers if not settings.embedded else 1,
        log_config=None,  # keep the JSON logging configured above
        access_log=False,  # the request-id middleware logs each request, with its id
        # uvicorn's own read timeout is only the keep-alive one; the protocol adds head and body
        # deadlines (see api/server.py).
        http=DeadlineProtocol,
        timeout_keep_alive=settings.http_keepalive_timeout_s,
        # Counted per process over open connections and requests in flight: 4,096 leaves room
        # for the 2,000 callers a process is built to hold open, their polls and event streams.
        limit_concurrency=settings.http_max_concurrency,
        # Passed here so .env applies too (uvicorn would read only the process environment).
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


@main.command("worker")
@click.option("--concurrency", type=int, default=None, help="Threads (default: settings).")
def worker(concurrency: int | None) -> None:
    """Run a Celery worker (needs REDIS_URL)."""
    from worker.app import celery_app

    settings = get_settings()
    if settings.embedded:
        raise click.UsageError("set REDIS_URL: without it the API runs its own in-process worker")
    argv = [
        "worker",
        "-P",
        "threads",
        "-c",
        str(concurrency or settings.worker_concurrency),
        "-Q",
        "music",
        # unique per process, so several workers on one host don't collide
        "-n",
        f"musicgw-{os.getpid()}@%h",
        "--without-gossip",
        "--without-mingle",
        "-l",
        "INFO",
    ]
    celery_app.worker_main(argv)


@main.command("beat")
def beat() -> None:
    """Run the maintenance loop: reap stuck jobs, purge expired audio, retry due webhooks.

    Not Celery beat (the name is kept for existing deployments); safe to run more than one."""
    import signal
    import threading

    from worker.context import get_context
    from worker.maintenance import run_periodic

    settings = get_settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        run_periodic(get_context(), stop)


def run() -> None:
    try:
        main(standalone_mode=True)
    except AppError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    run()
