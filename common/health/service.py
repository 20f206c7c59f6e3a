"""Checks of the gateway's dependencies, and a snapshot of its work in flight."""

from __future__ import annotations

from typing import Any

import redis
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from common.config import Settings
from common.jobs import states
from common.migrations import alembic_config
from common.models import Hold, Job
from common.storage.base import BlobStore

PROBE_KEY = "readyz/probe"


def check_database(session: Session, settings: Settings) -> str:
    """ "ok" when the database answers and its schema is at the migrations' head."""
    session.execute(text("SELECT 1"))
    current = MigrationContext.configure(session.connection()).get_current_revision()
    head = ScriptDirectory.from_config(alembic_config(settings)).get_current_head()
    return "ok" if current == head else f"schema at {current}, migrations at {head}"


def check_redis(settings: Settings) -> str:
    if settings.embedded:
        return "not used (embedded)"
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


def check_storage(store: BlobStore) -> str:
    store.size(PROBE_KEY)  # raises if the store cannot be reached
    return "ok"


def status(session: Session) -> dict[str, Any]:
    """Active holds and jobs in flight per provider, from the database."""
    holds = session.execute(
        select(func.count(), func.coalesce(func.sum(Hold.amount_micro_usd), 0)).where(
            Hold.state == "active"
        )
    ).one()
    in_flight = session.execute(
        select(Job.provider, Job.status, func.count())
        .where(Job.status.in_(states.ACTIVE))
        .group_by(Job.provider, Job.status)
    ).all()
    jobs: dict[str, dict[str, int]] = {}
    for provider, status_, count in in_flight:
        jobs.setdefault(provider or "unknown", {})[status_] = count
    return {"active_holds": holds[0], "active_holds_micro_usd": int(holds[1]), "jobs": jobs}
