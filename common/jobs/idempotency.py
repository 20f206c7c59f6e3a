"""Idempotency-Key (Stripe's semantics): one key, one request, one job, one charge.

The key is scoped to the account and kept for `idempotency_ttl_hours`. Reserving it is an
INSERT … ON CONFLICT DO NOTHING inside the transaction that creates the job and its hold, so
concurrent duplicates wait on the unique index and then find the first one's job; if that
transaction rolls back (a 402, say) the key is free again.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from common.db import utcnow
from common.errors import IdempotencyConflictError, InvalidRequestError
from common.models import IdempotencyKey

MAX_KEY_LENGTH = 255


def request_hash(body: Any, *, save_to_blob: bool) -> str:
    """A stable hash of what was asked: the JSON body (key order ignored) and the query flag."""
    canonical = json.dumps([body, save_to_blob], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidRequestError(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.",
            param="Idempotency-Key",
        )
    return key


def reserve(
    session: Session, *, account_id: str, key: str, digest: str, job_id: str, ttl_hours: float
) -> str | None:
    """Bind the key to `job_id`; if it is already bound, return that job's id instead.

    Raises IdempotencyConflictError when the key was used for a different request.
    """
    now = utcnow()
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.account_id == account_id,
            IdempotencyKey.key == key,
            IdempotencyKey.expires_at < now,
        )
    )
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    inserted = session.execute(
        insert(IdempotencyKey)
        .values(
            id=f"idk_{uuid.uuid4().hex}",
            account_id=account_id,
            key=key,
            request_hash=digest,
            job_id=job_id,
            created_at=now,
            expires_at=now + timedelta(hours=ttl_hours),
        )
        .on_conflict_do_nothing(index_elements=["account_id", "key"])
        .returning(IdempotencyKey.id)
    ).first()
    if inserted is not None:
        return None
    existing = session.execute(
        select(IdempotencyKey.request_hash, IdempotencyKey.job_id).where(
            IdempotencyKey.account_id == account_id, IdempotencyKey.key == key
        )
    ).one()
    if existing.request_hash != digest:
        raise IdempotencyConflictError(
            "This Idempotency-Key was already used with a different request.",
            param="Idempotency-Key",
        )
    return str(existing.job_id)
