"""Issuing, revoking and resolving share links. A link is only as good as its token."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from common.db import utcnow
from common.errors import JobNotSavedError, NotFoundError
from common.jobs.states import JobStatus
from common.models import Job, ShareLink
from common.tokens import hash_token, new_token


def issue_link(session: Session, *, job: Job) -> str:
    """A new share token for a saved track; any earlier link of the job stops working."""
    if not (job.save_to_blob and job.status == JobStatus.SUCCEEDED and job.public_url):
        raise JobNotSavedError(f"Job {job.id} is not a saved track; only saved tracks are shared.")
    revoke_links(session, job_id=job.id)
    token = new_token()
    session.add(
        ShareLink(
            id=f"shr_{uuid.uuid4().hex}",
            job_id=job.id,
            token_hash=hash_token(token),
            created_at=utcnow(),
        )
    )
    session.flush()
    return token


def revoke_links(session: Session, *, job_id: str) -> int:
    """Revoke every active link of a job; return how many there were."""
    result = session.execute(
        update(ShareLink)
        .where(ShareLink.job_id == job_id, ShareLink.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .returning(ShareLink.id)
    )
    return len(result.all())


def active_link_jobs(session: Session, *, job_ids: list[str]) -> set[str]:
    """Which of these jobs have an active share link."""
    if not job_ids:
        return set()
    return set(
        session.scalars(
            select(ShareLink.job_id).where(
                ShareLink.job_id.in_(job_ids), ShareLink.revoked_at.is_(None)
            )
        )
    )


def resolve_link(session: Session, *, token: str) -> Job:
    """The saved track behind a live token; NotFound for unknown, revoked or unsaved."""
    job = session.scalars(
        select(Job)
        .join(ShareLink, ShareLink.job_id == Job.id)
        .where(ShareLink.token_hash == hash_token(token), ShareLink.revoked_at.is_(None))
    ).first()
    if job is None or not job.public_url:
        raise NotFoundError("No such shared track.")
    return job
