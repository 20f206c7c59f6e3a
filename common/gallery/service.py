"""Listing an account's saved tracks, newest first, with a keyset cursor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from common.errors import InvalidRequestError
from common.jobs import states
from common.models import Job
from common.share.service import active_link_jobs

MAX_PAGE = 100


@dataclass(frozen=True)
class GalleryPage:
    jobs: list[Job]
    shared: set[str]
    next_cursor: str | None


def list_saved(
    session: Session, *, account_id: str, limit: int = 20, cursor: str | None = None
) -> GalleryPage:
    """One page of saved tracks; `cursor` is the previous page's `next_cursor`."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequestError(f"limit must be between 1 and {MAX_PAGE}.", param="limit")
    stmt = select(Job).where(
        Job.account_id == account_id, Job.save_to_blob.is_(True), Job.status == states.SUCCEEDED
    )
    if cursor:
        created_at, job_id = _parse_cursor(cursor)
        stmt = stmt.where(
            or_(Job.created_at < created_at, and_(Job.created_at == created_at, Job.id < job_id))
        )
    jobs = list(
        session.scalars(stmt.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit + 1))
    )
    more = len(jobs) > limit
    jobs = jobs[:limit]
    next_cursor = f"{jobs[-1].created_at.isoformat()}~{jobs[-1].id}" if more else None
    return GalleryPage(jobs, active_link_jobs(session, job_ids=[j.id for j in jobs]), next_cursor)


def _parse_cursor(cursor: str) -> tuple[datetime, str]:
    stamp, _, job_id = cursor.partition("~")
    try:
        if "\x00" in job_id:
            raise ValueError("NUL in cursor")
        return datetime.fromisoformat(stamp), job_id
    except ValueError as exc:
        raise InvalidRequestError("cursor is not one this API returned.", param="cursor") from exc
