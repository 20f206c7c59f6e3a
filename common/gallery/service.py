"""An account's saved tracks: listing them newest first (keyset cursor), their waveform
pictures, and deleting one."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from common.account.service import get_account
from common.audio import waveform
from common.audio.codec import CodecError
from common.audio.formats import DEFAULT_FORMAT
from common.db import utcnow
from common.errors import InvalidRequestError, NotFoundError
from common.jobs.service import get_job
from common.jobs.states import JobStatus
from common.models import Job
from common.share.service import active_link_jobs, revoke_links
from common.storage.base import BlobNotFound, BlobStore, StorageError, StoredObject, waveform_key

log = logging.getLogger(__name__)

MAX_PAGE = 100
PAGE_SIZE = 20


@dataclass(frozen=True)
class GalleryPage:
    jobs: list[Job]
    shared: set[str]
    next_cursor: str | None


@dataclass(frozen=True)
class GalleryView:
    page: GalleryPage
    balance_micro_usd: int


def list_saved(
    session: Session, *, account_id: str, limit: int = PAGE_SIZE, cursor: str | None = None
) -> GalleryPage:
    """One page of saved tracks; `cursor` is the previous page's `next_cursor`."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequestError(f"limit must be between 1 and {MAX_PAGE}.", param="limit")
    stmt = select(Job).where(
        Job.account_id == account_id,
        Job.save_to_blob.is_(True),
        Job.status == JobStatus.SUCCEEDED,
        Job.deleted_at.is_(None),
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


def view_gallery(
    session: Session, *, account_id: str, limit: int = PAGE_SIZE, cursor: str | None = None
) -> GalleryView:
    """A page of saved tracks with the account's balance, for the gallery's header."""
    page = list_saved(session, account_id=account_id, limit=limit, cursor=cursor)
    return GalleryView(page, get_account(session, account_id).balance_micro_usd)


def _parse_cursor(cursor: str) -> tuple[datetime, str]:
    """A `next_cursor` back into (created_at in UTC, job id). What this API never returned (no
    time zone, a moment that leaves the calendar once moved to UTC, a NUL) is a 400."""
    stamp, _, job_id = cursor.partition("~")
    try:
        if "\x00" in job_id:
            raise ValueError("NUL in cursor")
        created_at = datetime.fromisoformat(stamp)
        if created_at.tzinfo is None:
            raise ValueError("no time zone")
        return created_at.astimezone(UTC), job_id
    except (ValueError, OverflowError) as exc:
        raise InvalidRequestError("cursor is not one this API returned.", param="cursor") from exc


def get_saved(session: Session, *, job_id: str, account_id: str) -> Job:
    """The caller's saved track, not deleted; NotFound otherwise, as for another's job."""
    job = get_job(session, job_id=job_id, account_id=account_id)
    if not (job.save_to_blob and job.status == JobStatus.SUCCEEDED and job.blob_key):
        raise NotFoundError(f"No saved track {job_id}.", param="job_id")
    if job.deleted_at is not None:
        raise NotFoundError(f"No saved track {job_id}.", param="job_id")
    return job


def delete_track(session: Session, *, store: BlobStore, job_id: str, account_id: str) -> None:
    """Delete a saved track: its objects, its share links and its gallery row go; the job and
    its ledger entries stay, so the money still adds up."""
    job = get_saved(session, job_id=job_id, account_id=account_id)
    audio_key = job.blob_key or ""
    # The objects first: if the store fails, nothing has changed and deleting again works.
    store.delete(waveform_key(audio_key))
    store.delete(audio_key)
    revoke_links(session, job_id=job.id)
    job.deleted_at = utcnow()
    job.public_url = None
    session.flush()


def store_waveform(
    store: BlobStore, *, audio_key: str, data: bytes, audio_format: str
) -> StoredObject:
    """Draw the waveform picture of a saved track's audio and store it beside the track."""
    png = waveform.render_waveform(data, audio_format)
    return store.put(waveform_key(audio_key), png, content_type=waveform.CONTENT_TYPE, public=True)


def read_waveform(store: BlobStore, *, audio_key: str) -> bytes:
    """A saved track's waveform picture; drawn now, and stored, for a track saved before
    tracks had one (or whose drawing failed when it was saved)."""
    try:
        return b"".join(store.iter_chunks(waveform_key(audio_key)))
    except BlobNotFound:
        pass
    try:
        mp3 = b"".join(store.iter_chunks(audio_key))
        png = waveform.render_waveform(mp3, DEFAULT_FORMAT)
    except (BlobNotFound, CodecError) as exc:
        raise NotFoundError("This track has no waveform.") from exc
    try:
        store.put(waveform_key(audio_key), png, content_type=waveform.CONTENT_TYPE, public=True)
    except StorageError:
        # The picture is still shown; the next view tries to store it again.
        log.warning("could not store the waveform of %s", audio_key, exc_info=True)
    return png
