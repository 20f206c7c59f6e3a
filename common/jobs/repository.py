"""The job table's SQL."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Update, bindparam, select, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from common.db import UTCDateTime, utcnow
from common.jobs.states import ACTIVE, ALLOWED_FROM, TERMINAL, JobStatus
from common.models import JOBS, Job


def transition(
    session: Session,
    *,
    job_id: str,
    to: JobStatus,
    only_from: JobStatus | None = None,
    **values: Any,
) -> Job | None:
    """Move a job to `to` if the map allows it from its current state; None otherwise.

    The WHERE on the current state makes every move a compare-and-set, so two workers, or a
    worker and the reaper, can never both win.
    """
    if to in TERMINAL:
        values.setdefault("finished_at", utcnow())
    allowed = ALLOWED_FROM[to]
    if only_from is not None:
        allowed = allowed & {only_from}
    statement = _transition_statement(frozenset(allowed), tuple(sorted(values)))
    params = {f"new_{name}": value for name, value in values.items()}
    return session.scalars(statement, {"job_id": job_id, "new_status": to, **params}).first()


@functools.cache
def _transition_statement(allowed: frozenset[JobStatus], names: tuple[str, ...]) -> Update:
    """One statement per kind of move, built once: a job's moves are the hot path of a worker."""
    return (
        update(Job)
        .where(Job.id == bindparam("job_id"), Job.status.in_(sorted(allowed)))
        .values({name: bindparam(f"new_{name}") for name in ("status", *names)})
        .returning(Job)
        # The RETURNING row refreshes any loaded copy, so no in-session evaluation of the WHERE.
        .execution_options(populate_existing=True, synchronize_session=False)
    )


_CLAIM = (
    update(JOBS)
    .where(
        JOBS.c.id == bindparam("job_id"),
        JOBS.c.status.in_(sorted(ALLOWED_FROM[JobStatus.RUNNING])),
    )
    .values(status=JobStatus.RUNNING, started_at=bindparam("now", type_=UTCDateTime()))
    .returning(*JOBS.c)
)


def claim(session: Session, *, job_id: str, now: datetime) -> Job | None:
    """The move to running as one Core statement: a worker claims every job it runs, so this
    skips the ORM's bulk-update machinery that `transition` goes through."""
    row = session.execute(_CLAIM, {"job_id": job_id, "now": now}).first()
    return None if row is None else job_from_row(session, row._asdict())


_BY_ID = select(*JOBS.c).where(JOBS.c.id == bindparam("job_id"))


def load(session: Session, *, job_id: str) -> Job | None:
    """The job as its row is now, read with one Core statement built once and made into a Job
    without the ORM's load (identity lookup, loader options, instance events)."""
    row = session.execute(_BY_ID, {"job_id": job_id}).first()
    return None if row is None else job_from_row(session, row._asdict())


def job_from_row(session: Session, values: Mapping[str, Any]) -> Job:
    """The Job a row of every column describes (a RETURNING row, or the row just inserted):
    the session's loaded copy brought up to date if it has one, else a new detached object (no
    ORM load, no query)."""
    loaded = session.identity_map.get(identity_key(Job, values["id"]))
    if isinstance(loaded, Job):
        for name, value in values.items():
            set_committed_value(loaded, name, value)
        return loaded
    job = Job(**values)
    make_transient_to_detached(job)
    return job


def stuck_job_ids(session: Session, *, now: datetime, limit: int = 500) -> list[str]:
    return list(
        session.scalars(
            select(Job.id)
            .where(Job.status.in_(ACTIVE), Job.deadline_at < now)
            .order_by(Job.deadline_at)
            .limit(limit)
        )
    )


def terminal_among(session: Session, job_ids: list[str]) -> list[str]:
    return list(
        session.scalars(select(Job.id).where(Job.id.in_(job_ids), Job.status.in_(TERMINAL)))
    )


_COUNT_CALL = (
    update(JOBS)
    .where(JOBS.c.id == bindparam("job_id"))
    .values(provider_calls=JOBS.c.provider_calls + 1)
)


def count_provider_call(session: Session, *, job_id: str) -> None:
    session.execute(_COUNT_CALL, {"job_id": job_id})
