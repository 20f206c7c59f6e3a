"""`musicgw`: the operator's command line (accounts, keys, migrations, and the processes)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import click
from sqlalchemy import select

from common.account import service as accounts
from common.config import get_settings
from common.db import create_db_engine, create_session_factory, transaction, utcnow
from common.errors import AppError
from common.models import Account
from common.observability.logs import configure_logging
from common.pricing import format_usd, usd_to_micro


def _sessions():  # type: ignore[no-untyped-def]
    return create_session_factory(create_db_engine(get_settings()))


def _emit(payload: dict[str, Any]) -> None:
    click.echo(json.dumps(payload, indent=None if not sys.stdout.isatty() else 2))


def _micro(amount: str, *, allow_zero: bool) -> int:
    try:
        micro = usd_to_micro(Decimal(amount))
    except (InvalidOperation, ValueError) as exc:
        raise click.BadParameter(f"{amount!r} is not an amount in dollars (e.g. 12.50)") from exc
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
def accounts_show(account_id: str, entries: int) -> None:
    """Balance, held amount and recent ledger entries."""
    with transaction(_sessions()) as session:
        account = accounts.get_account(session, account_id)
        recent = accounts.recent_entries(session, account_id=account_id, limit=entries)
    _emit(
        {
            "account_id": account.id,
            "name": account.name,
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
        }
    )


@accounts_group.command("limits")
@click.argument("account_id")
@click.option("--rate", default=None, help="Requests per API key, e.g. 60/minute.")
@click.option("--max-concurrent", type=int, default=None, help="Jobs in flight at once.")
def accounts_limits(account_id: str, rate: str | None, max_concurrent: int | None) -> None:
    """Override the account's abuse limits (an option left out resets it to the default)."""
    with transaction(_sessions()) as session:
        account = accounts.set_limits(
            session, account_id=account_id, rate_limit=rate, max_concurrent_jobs=max_concurrent
        )
    _emit(
        {
            "account_id": account.id,
            "rate_limit": account.rate_limit,
            "max_concurrent_jobs": account.max_concurrent_jobs,
        }
    )


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


@keys_group.command("create")
@click.argument("account_id")
@click.option("--expires-in-days", type=float, default=None, help="Default: never expires.")
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
def ledger_verify(account_id: str | None) -> None:
    """Check the ledger invariants; exit 1 and list every violation if any fails."""
    from common.ledger.verify import verify_ledger

    with transaction(_sessions()) as session:
        problems = verify_ledger(session, account_id=account_id)
    for problem in problems:
        click.echo(f"violation: {problem}")
    if problems:
        sys.exit(1)
    click.echo("ledger ok", err=True)


@main.command("status")
def status_command() -> None:
    """Queue depth, active holds, jobs in flight per provider, and live workers."""
    import redis

    from common.health.service import status
    from worker.app import QUEUE, celery_app

    settings = get_settings()
    with transaction(_sessions()) as session:
        report = status(session)
    if settings.embedded:
        report |= {"queue_depth": None, "workers": "embedded in the API process"}
    else:
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=5)
        try:
            report["queue_depth"] = client.llen(QUEUE)
        finally:
            client.close()
        replies = celery_app.control.ping(timeout=1.0) or []
        report["workers"] = len(replies)
    _emit(report)


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


@main.command("gallery-link")
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


@main.command("demo")
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
    base = f"http://{settings.host}:{settings.port}"
    click.echo(f"\nDemo account: {account.id}\nDemo API key: {plaintext}\n\nTry it:\n")
    click.echo(
        f"  curl -sS -o track.mp3 -D - {base}/v1/audio/music \\\n"
        f"    -H 'Authorization: Bearer {plaintext}' -H 'Content-Type: application/json' \\\n"
        """    -d '{"prompt": "upbeat lo-fi hip hop with warm keys", "music_length_ms": 30000}'\n"""
    )
    click.echo(f"API docs: {base}/docs\n")


@main.command("serve")
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
@click.option("--workers", type=int, default=1, show_default=True)
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Run the HTTP API (with an in-process worker when no REDIS_URL is set)."""
    import uvicorn

    settings = get_settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers if not settings.embedded else 1,
        log_config=None,  # keep the JSON logging configured above
        access_log=False,  # the request-id middleware logs each request, with its id
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
    """Run periodic maintenance (the reaper of stuck jobs); safe to run more than one."""
    import signal
    import threading

    from worker.beat import run_periodic
    from worker.context import get_context

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
