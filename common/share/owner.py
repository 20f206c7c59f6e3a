"""Share-link steps for the owner of a job: one call each, checking the job is the caller's."""

from __future__ import annotations

from sqlalchemy.orm import Session

from common.jobs.service import get_job
from common.share import service


def share_own_job(session: Session, *, job_id: str, account_id: str) -> str:
    """Issue a link for the caller's saved track (404 for another account's job)."""
    return service.issue_link(session, job=get_job(session, job_id=job_id, account_id=account_id))


def unshare_own_job(session: Session, *, job_id: str, account_id: str) -> int:
    """Revoke the links of the caller's track (404 for another account's job)."""
    get_job(session, job_id=job_id, account_id=account_id)
    return service.revoke_links(session, job_id=job_id)
