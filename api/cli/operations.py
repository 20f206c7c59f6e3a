"""`musicgw ledger verify`, `status`, `webhooks redeliver`, `gallery-link`, `db upgrade` and
`demo`: checking and operating a running gateway."""

from __future__ import annotations

import sys
from typing import Any

import click
from sqlalchemy import select

from api.cli.base import (
    URL_BASE_HELP,
    _emit,
    _micro,
    _sessions,
    _table,
    _usd,
    json_option,
    main,
)
from common.account import service as accounts
from common.config import Settings, get_settings
from common.db import transaction
from common.models import Account
from common.pricing import format_usd


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
