"""`musicgw accounts …` and `musicgw keys …`: accounts, balances, limits, sessions, API keys."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import click

from api.cli.base import (
    _emit,
    _micro,
    _sessions,
    _table,
    _usd,
    _when,
    json_option,
    main,
)
from common.account import service as accounts
from common.db import transaction, utcnow
from common.pricing import format_usd


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
