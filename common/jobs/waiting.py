"""Reads a waiting API process makes of job rows."""

from __future__ import annotations

from sqlalchemy.orm import Session

from common.jobs import repository
from common.models import Job


def load_job(session: Session, *, job_id: str) -> Job:
    """The job a waiter was woken for (it reads it once the job has ended)."""
    job = repository.load(session, job_id=job_id)
    if job is None:
        raise LookupError(job_id)
    return job


def find_terminal(session: Session, *, job_ids: list[str]) -> list[str]:
    """Which of these jobs have reached a terminal state."""
    return repository.terminal_among(session, job_ids)
