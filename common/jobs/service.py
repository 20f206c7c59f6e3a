"""What happens to a job: submit, claim, complete, fail, expire. Services never commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from common.account.limits import too_many_in_flight
from common.db import on_postgres, utcnow
from common.errors import NotCancellableError, NotFoundError
from common.jobs import idempotency as idempotency_keys
from common.jobs import repository
from common.jobs.states import JobStatus
from common.ledger import repository as ledger_sql
from common.ledger import service as ledger
from common.models import Job
from common.pricing import price_micro_usd
from common.storage.base import SAVED_PREFIX
from common.validation import MusicRequest
from common.webhooks.service import record_job_ended, target_url


class HoldAlreadySettled(Exception):
    """The job's hold was settled by someone else (the reaper) first: roll back and stop."""


def submit_job(
    session: Session,
    *,
    account_id: str,
    api_key_id: str | None,
    request: MusicRequest,
    max_runtime_s: int,
    save_to_blob: bool = False,
    job_id: str | None = None,
    max_in_flight: int | None = None,
) -> Job:
    """Create a queued job together with its hold: BillingError (402) when the balance is
    short, ledger.InFlightLimitReached when the account already has `max_in_flight` in flight.

    On Postgres the job's row and its hold are one statement: in a `one_statement` session it
    commits by itself, so the account row it locks is never held across a round trip."""
    job_id = job_id or new_job_id()
    cost = price_micro_usd(request.sku, music_length_ms=request.music_length_ms)
    now = utcnow()
    # Every column given, so the row is complete and the object needs no load after it.
    row: dict[str, Any] = dict.fromkeys(ledger_sql.JOB_COLUMNS) | {
        "id": job_id,
        "account_id": account_id,
        "api_key_id": api_key_id,
        "kind": "audio",
        "status": JobStatus.QUEUED,
        "model": request.sku.id,
        "prompt": request.prompt,
        "lyrics": request.lyrics,
        "music_length_ms": request.music_length_ms,
        "response_format": request.response_format,
        "save_to_blob": save_to_blob,
        "webhook_url": request.webhook_url,
        "cost_micro_usd": cost,
        "hold_id": ledger.new_hold_id(),
        "provider": request.sku.provider,
        "provider_calls": 0,
        "created_at": now,
        "deadline_at": now + timedelta(seconds=max_runtime_s),
    }
    ledger.place_hold(
        session,
        account_id=account_id,
        job_id=job_id,
        amount_micro_usd=cost,
        max_in_flight=max_in_flight,
        hold_id=row["hold_id"],
        job_row=row,
    )
    # The hold wrote the row; the object joins the session as loaded from it.
    job = repository.job_from_row(session, row)
    session.add(job)
    return job


def new_job_id() -> str:
    return f"job_{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Idempotency:
    key: str
    digest: str
    ttl_hours: float


def accept_job(
    session: Session,
    *,
    account_id: str,
    api_key_id: str | None,
    request: MusicRequest,
    max_runtime_s: int,
    save_to_blob: bool,
    max_in_flight: int,
    idempotency: Idempotency | None = None,
    job_id: str | None = None,
) -> tuple[Job, bool]:
    """Submit a job, or find the one an Idempotency-Key already made; (job, newly created).
    `max_in_flight`: the account's limit of jobs in flight (read with its key)."""
    job_id = job_id or new_job_id()
    if idempotency is not None:
        existing = idempotency_keys.reserve(
            session,
            account_id=account_id,
            key=idempotency.key,
            digest=idempotency.digest,
            job_id=job_id,
            ttl_hours=idempotency.ttl_hours,
        )
        if existing is not None:
            job = session.get(Job, existing)
            assert job is not None
            return job, False
    try:
        job = submit_job(
            session,
            account_id=account_id,
            api_key_id=api_key_id,
            request=request,
            max_runtime_s=max_runtime_s,
            save_to_blob=save_to_blob,
            job_id=job_id,
            max_in_flight=max_in_flight,
        )
    except ledger.InFlightLimitReached as exc:
        raise too_many_in_flight(exc.limit) from None
    return job, True


def get_job(session: Session, *, job_id: str, account_id: str) -> Job:
    """The caller's job; another account's job is NotFound exactly like a missing one."""
    job = session.get(Job, job_id) if "\x00" not in job_id else None
    if job is None or job.account_id != account_id:
        raise NotFoundError(f"No job {job_id}.", param="job_id")
    return job


def claim_job(session: Session, *, job_id: str) -> Job | None:
    """Take a queued job for running; None when it is not queued (redelivered, done, expired)."""
    return repository.claim(session, job_id=job_id, now=utcnow())


def complete_job(
    session: Session,
    *,
    job_id: str,
    blob_key: str,
    blob_size: int,
    content_type: str,
    billed_duration_ms: int,
    provider_ref: str | None,
    retain_until: datetime | None,
    public_url: str | None = None,
) -> Job:
    """Mark a running job done and capture its hold, together; raise if either lost a race.
    Idempotent: a job already succeeded with this very object (an earlier attempt committed,
    and its reply was lost) is returned as it is."""
    job = repository.transition(
        session,
        job_id=job_id,
        to=JobStatus.SUCCEEDED,
        blob_key=blob_key,
        blob_size=blob_size,
        content_type=content_type,
        billed_duration_ms=billed_duration_ms,
        provider_ref=provider_ref,
        retain_until=retain_until,
        public_url=public_url,
    )
    if job is None:
        ended = session.get(Job, job_id, populate_existing=True)
        if ended is not None and ended.status == JobStatus.SUCCEEDED and ended.blob_key == blob_key:
            return ended
        raise HoldAlreadySettled(job_id)
    if job.hold_id is None:
        raise HoldAlreadySettled(job_id)
    # Read before the capture locks the account row (the webhook step needs it), so the lock
    # is held for as few round trips as possible: every job of the account queues behind it.
    target_url(session, job=job)
    balance = ledger.capture_hold(session, hold_id=job.hold_id)
    if balance is None:
        raise HoldAlreadySettled(job_id)
    # The capture wrote it on the row; tell the loaded job without another UPDATE.
    set_committed_value(job, "balance_after_micro_usd", balance)
    record_job_ended(session, job=job)
    return job


def complete_job_in_one_statement(
    session: Session,
    *,
    job_id: str,
    blob_key: str,
    blob_size: int,
    content_type: str,
    billed_duration_ms: int,
    provider_ref: str | None,
    retain_until: datetime | None,
    public_url: str | None = None,
) -> Job | None:
    """complete_job as one statement, for a `one_statement` session: on Postgres the account
    row is then locked only while the statement runs. The job, or None when it wrote nothing
    (not Postgres, the job is not running or its hold is settled, or its end queues a webhook):
    then call complete_job in a transaction, which settles each of those cases."""
    if not on_postgres(session):
        return None
    completion = {
        "blob_key": blob_key,
        "blob_size": blob_size,
        "content_type": content_type,
        "billed_duration_ms": billed_duration_ms,
        "provider_ref": provider_ref,
        "retain_until": retain_until,
        "public_url": public_url,
    }
    row = ledger_sql.complete_and_capture(session, job_id=job_id, completion=completion)
    return None if row is None else repository.job_from_row(session, row._asdict())


def fail_job(
    session: Session,
    *,
    job_id: str,
    code: str,
    message: str,
    to: JobStatus = JobStatus.FAILED,
    provider_code: str | None = None,
    suggestion: str | None = None,
    only_from: JobStatus | None = None,
) -> Job | None:
    """End a job unsuccessfully and release its hold; None if it had already ended (or, with
    `only_from`, was not in that state)."""
    job = repository.transition(
        session,
        job_id=job_id,
        to=to,
        only_from=only_from,
        error_code=code,
        error_message=message[:2000],
        provider_code=provider_code[:64] if provider_code else None,
        error_suggestion=suggestion[:2000] if suggestion else None,
    )
    if job is not None and job.hold_id is not None:
        ledger.release_hold(session, hold_id=job.hold_id)
    if job is not None:
        record_job_ended(session, job=job)
    return job


def cancel_job(session: Session, *, job_id: str, account_id: str) -> Job:
    """Cancel the caller's queued job and release its hold; 409 once it is running or done."""
    job = get_job(session, job_id=job_id, account_id=account_id)
    cancelled = fail_job(
        session,
        job_id=job_id,
        code="cancelled",
        message="Cancelled by the caller before it started; nothing was charged.",
        only_from=JobStatus.QUEUED,
    )
    if cancelled is None:
        session.refresh(job)
        detail = (
            "it is already running and will be charged if it succeeds"
            if job.status == JobStatus.RUNNING
            else f"it has already ended ({job.status})"
        )
        raise NotCancellableError(
            f"Job {job_id} cannot be cancelled: {detail}.", extra={"status": job.status}
        )
    return cancelled


def expire_stuck_jobs(session: Session, *, now: datetime | None = None) -> list[str]:
    """Expire every job past its deadline and release its hold; return their ids."""
    expired = []
    for job_id in repository.stuck_job_ids(session, now=now or utcnow()):
        job = fail_job(
            session,
            job_id=job_id,
            code="job_expired",
            message="The job did not finish within its maximum runtime; nothing was charged.",
            to=JobStatus.EXPIRED,
        )
        if job is not None:
            expired.append(job_id)
    return expired


def audio_retained_until(*, saved: bool, retention_hours: float) -> datetime | None:
    """Until when a finished job's audio is kept: for ever once saved (its URL is permanent),
    else `retention_hours` from now, after which the purge deletes it."""
    return None if saved else utcnow() + timedelta(hours=retention_hours)


def purgeable_audio(session: Session, *, limit: int = 500) -> list[tuple[str, str]]:
    """(job id, blob key) of unsaved audio past its retention period."""
    rows = session.execute(
        select(Job.id, Job.blob_key)
        .where(
            Job.save_to_blob.is_(False),
            Job.blob_key.is_not(None),
            Job.retain_until < utcnow(),
        )
        .limit(limit)
    ).all()
    # Belt and braces: a saved object's key is never handed to the purge.
    return [(job_id, key) for job_id, key in rows if key and not key.startswith(SAVED_PREFIX)]


def forget_audio(session: Session, *, job_id: str) -> None:
    """Record that an unsaved job's audio is gone."""
    session.execute(
        update(Job).where(Job.id == job_id, Job.save_to_blob.is_(False)).values(blob_key=None)
    )
