"""Reads a waiting API process makes of job rows."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from common.jobs import repository
from common.models import JOBS, Job

# A waiter reads its job once it has ended: one Core statement built once, its row made into a
# Job without the ORM's load (identity lookup, loader options, instance events).
_BY_ID = select(*JOBS.c).where(JOBS.c.id == bindparam("job_id"))


def load_job(session: Session, *, job_id: str) -> Job:
    row = session.execute(_BY_ID, {"job_id": job_id}).first()
    if row is None:
        raise LookupError(job_id)
    return repository.job_from_row(session, row._asdict())


def find_terminal(session: Session, *, job_ids: list[str]) -> list[str]:
    """Which of these jobs have reached a terminal state."""
    return repository.terminal_among(session, job_ids)
