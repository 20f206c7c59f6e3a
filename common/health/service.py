"""Checks of the gateway's dependencies, and a snapshot of its work in flight."""

from __future__ import annotations

import functools
from typing import Any

import redis
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.config import Settings
from common.jobs.states import ACTIVE
from common.migrations import alembic_config
from common.models import Hold, Job
from common.storage.base import BlobStore

PROBE_KEY = "readyz/probe"


def check_database(session: Session, settings: Settings) -> str:
    """ "ok" when the database answers and its schema is at the migrations' head."""
    current = MigrationContext.configure(session.connection()).get_current_revision()
    head = migrations_head(settings.effective_database_url)
    return "ok" if current == head else f"schema at {current}, migrations at {head}"


@functools.cache
def migrations_head(database_url: str) -> str | None:
    """The head of the migration scripts this process was shipped with: read from disk once,
    not on every readiness probe."""
    settings = Settings(database_url=database_url)
    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


def check_redis(settings: Settings) -> str:
    if settings.embedded:
        return "not used (embedded)"
    _redis_client(settings.redis_url).ping()
    return "ok"


@functools.cache
def _redis_client(url: str) -> redis.Redis:
    """One client (and its small pool) per process for the probes, not a new connection each."""
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


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
        .where(Job.status.in_(ACTIVE))
        .group_by(Job.provider, Job.status)
    ).all()
    jobs: dict[str, dict[str, int]] = {}
    for provider, status_, count in in_flight:
        jobs.setdefault(provider or "unknown", {})[status_] = count
    return {"active_holds": holds[0], "active_holds_micro_usd": int(holds[1]), "jobs": jobs}
