"""Accounts and API keys: create, top up, show, authenticate, revoke."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from limits import parse as parse_rate
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from common.account import keys
from common.db import utcnow
from common.errors import AuthError, InvalidRequestError, NotFoundError
from common.ledger import service as ledger
from common.models import Account, ApiKey, LedgerEntry
from common.webhooks.signing import new_secret as new_webhook_secret


@dataclass(frozen=True)
class Principal:
    """Who is calling: the account and the key used."""

    account_id: str
    api_key_id: str
    rate_limit: str | None = None  # the account's override of the per-key request rate
    max_in_flight: int | None = None  # the account's override of the jobs-in-flight limit


def create_account(session: Session, *, name: str, balance_micro_usd: int = 0) -> Account:
    """A new account, with an opening deposit when a balance is given, and its webhook signing
    secret: every delivery is signed, whoever named the URL."""
    account = Account(
        id=f"acct_{uuid.uuid4().hex}",
        name=name,
        created_at=utcnow(),
        webhook_secret=new_webhook_secret(),
    )
    session.add(account)
    session.flush()
    if balance_micro_usd:
        ledger.deposit(
            session, account_id=account.id, amount_micro_usd=balance_micro_usd, memo="opening"
        )
        session.refresh(account)
    return account


def list_accounts(session: Session) -> list[tuple[Account, int]]:
    """Every account, oldest first, with its number of keys neither revoked nor expired."""
    active = (
        select(ApiKey.account_id, func.count().label("active_keys"))
        .where(
            ApiKey.revoked_at.is_(None),
            ApiKey.expires_at.is_(None) | (ApiKey.expires_at > utcnow()),
        )
        .group_by(ApiKey.account_id)
        .subquery()
    )
    rows = session.execute(
        select(Account, func.coalesce(active.c.active_keys, 0))
        .outerjoin(active, active.c.account_id == Account.id)
        .order_by(Account.created_at, Account.id)
    ).all()
    return [(account, int(keys)) for account, keys in rows]


def get_account(session: Session, account_id: str) -> Account:
    """The account, or NotFoundError."""
    account = session.get(Account, account_id)
    if account is None:
        raise NotFoundError(f"No account {account_id}.")
    return account


def top_up(session: Session, *, account_id: str, amount_micro_usd: int) -> int:
    """Deposit into an existing account; return the new balance."""
    get_account(session, account_id)
    return ledger.deposit(
        session, account_id=account_id, amount_micro_usd=amount_micro_usd, memo="top-up"
    )


def recent_entries(session: Session, *, account_id: str, limit: int = 20) -> list[LedgerEntry]:
    """The newest ledger entries of an account."""
    return list(
        session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.account_id == account_id)
            .order_by(LedgerEntry.id.desc())
            .limit(limit)
        )
    )


def create_key(
    session: Session, *, account_id: str, expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """A new key for the account; the plaintext is returned once and never stored."""
    get_account(session, account_id)
    prefix, plaintext = keys.new_key()
    api_key = ApiKey(
        id=f"key_{uuid.uuid4().hex}",
        account_id=account_id,
        prefix=prefix,
        key_hash=keys.hash_key(plaintext),
        created_at=utcnow(),
        expires_at=expires_at,
    )
    session.add(api_key)
    session.flush()
    return api_key, plaintext


def set_limits(
    session: Session,
    *,
    account_id: str,
    rate_limit: str | None,
    max_in_flight: int | None,
) -> Account:
    """Override (or, with None, reset to the defaults) an account's abuse limits."""
    if rate_limit is not None:
        try:
            parse_rate(rate_limit)
        except ValueError as exc:
            raise InvalidRequestError(f"{rate_limit!r} is not a rate like '60/minute'.") from exc
    account = get_account(session, account_id)
    account.rate_limit = rate_limit
    account.max_concurrent_jobs = max_in_flight
    session.flush()
    return account


def revoke_key(session: Session, *, key_id: str) -> None:
    """Revoke a key; it answers 401 from the next request on."""
    result = session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .returning(ApiKey.id)
    ).first()
    if result is None and session.get(ApiKey, key_id) is None:
        raise NotFoundError(f"No API key {key_id}.")


# Built once: every request authenticates, and a statement built per call is hashed into a
# new cache key each time (measured: bench/results.md).
_KEY_BY_PREFIX = (
    select(
        ApiKey.id,
        ApiKey.account_id,
        ApiKey.key_hash,
        ApiKey.revoked_at,
        ApiKey.expires_at,
        Account.rate_limit,
        Account.max_concurrent_jobs,
    )
    .join(Account, Account.id == ApiKey.account_id)
    .where(ApiKey.prefix == bindparam("prefix"))
)


def authenticate(session: Session, *, authorization: str | None) -> Principal:
    """The caller behind an `Authorization: Bearer` header, or AuthError (401)."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError("Send your API key as 'Authorization: Bearer <key>'.")
    prefix = keys.parse_prefix(token)
    row = None
    if prefix is not None:
        row = session.execute(_KEY_BY_PREFIX, {"prefix": prefix}).first()
    if not keys.key_matches(token, row.key_hash if row else None) or row is None:
        raise AuthError("Invalid API key.")
    if row.revoked_at is not None:
        raise AuthError("This API key has been revoked.")
    if row.expires_at is not None and row.expires_at <= utcnow():
        raise AuthError("This API key has expired.")
    return Principal(
        account_id=row.account_id,
        api_key_id=row.id,
        rate_limit=row.rate_limit,
        max_in_flight=row.max_concurrent_jobs,
    )
