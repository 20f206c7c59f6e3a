"""Running one job: claim it, call the provider, store the audio, then capture — or release."""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy.exc
from sqlalchemy.orm import Session, sessionmaker
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from common.audio import codec
from common.audio.formats import stored_format
from common.config import Settings
from common.db import one_statement, transaction
from common.gallery.service import store_waveform
from common.jobs import repository, service
from common.models import Job
from common.notify import Notifier
from common.observability.logs import log_context
from common.observability.metrics import (
    CAPACITY_WAIT,
    JOB_DURATION,
    JOBS,
    PROVIDER_ERRORS,
    QUEUE_WAIT,
)
from common.pricing import SKUS, billed_duration_ms, format_usd
from common.providers.base import (
    GeneratedAudio,
    GenerationRequest,
    MusicProvider,
    ProviderFailure,
    ProviderTransientError,
)
from common.providers.limits import ConcurrencyLimiter
from common.storage.base import BlobStore, StorageError, StoredObject, delivery_key
from common.webhooks.service import send_due, target_url

log = logging.getLogger(__name__)


# Recording a job's progress must survive a database restart or a moment with no free pooled
# connection: a claim that gave up would leave the job queued, and a settle that gave up would
# leave it running, until the reaper expires it (and a stored track would go unpaid). Every
# recording step is a compare-and-set, so trying again is safe (a provider call may be counted
# twice if a connection drops just after its commit).
_DB_RETRYING = Retrying(
    retry=retry_if_exception_type(
        (
            sqlalchemy.exc.OperationalError,
            sqlalchemy.exc.InterfaceError,
            sqlalchemy.exc.TimeoutError,
        )
    ),
    stop=stop_after_delay(60),
    wait=wait_random_exponential(multiplier=0.5, max=5),
    reraise=True,
)


def db_retrying() -> Retrying:
    """The retry policy of the recording steps: one shared instance.

    tenacity keeps a call's state per thread, so threads can share it; building one per call
    makes a thread-local each time, whose teardown visits every thread (measured:
    bench/results.md). A retried function must not itself use it: the inner call would reset
    the outer one's state.
    """
    return _DB_RETRYING


@functools.lru_cache(maxsize=8)
def provider_retrying(max_attempts: int, initial_s: float, max_s: float) -> Retrying:
    """The retry policy of provider calls, shared like db_retrying's."""
    return Retrying(
        retry=retry_if_exception_type(ProviderTransientError),
        stop=stop_after_attempt(max_attempts),
        # Full jitter (random up to an exponential cap), so retries from many workers spread out.
        wait=wait_random_exponential(multiplier=initial_s, max=max_s),
        reraise=True,
    )


@dataclass
class JobContext:
    """What a worker needs to run jobs; built once per worker process."""

    settings: Settings
    sessions: sessionmaker[Session]
    store: BlobStore
    providers: dict[str, MusicProvider]
    notifier: Notifier
    limiter: ConcurrencyLimiter


def run_job(ctx: JobContext, job_id: str) -> str:
    """Run a job to a terminal state; return the outcome. Safe to call twice for one job."""
    job = db_retrying()(_claim, ctx, job_id)
    if job is None:
        log.info("job %s not claimable (already taken or finished)", job_id)
        return "skipped"
    ctx.notifier.publish(job_id, ended=False)
    provider = ctx.providers[job.model].name  # who really answers: "local" when offline
    with log_context(job_id=job.id, account_id=job.account_id, sku=job.model, provider=provider):
        started = time.perf_counter()
        queue_wait = (job.started_at - job.created_at).total_seconds() if job.started_at else 0
        QUEUE_WAIT.labels(job.model).observe(queue_wait)
        outcome, webhook = _produce(ctx, job)
        duration = time.perf_counter() - started
        if webhook:
            _notify_webhooks(ctx, job.id)
        JOBS.labels(job.model, provider, outcome).inc()
        JOB_DURATION.labels(job.model, provider).observe(duration)
        log.info(
            "job.ended",
            extra={
                "outcome": outcome,
                "duration_ms": round(duration * 1000),
                "queue_wait_ms": round(queue_wait * 1000),
                # The price held at acceptance, and what was charged: it only if it succeeded.
                "cost_usd": format_usd(job.cost_micro_usd),
                "charged_usd": format_usd(job.cost_micro_usd if outcome == "succeeded" else 0),
            },
        )
    return outcome


def _claim(ctx: JobContext, job_id: str) -> Job | None:
    with one_statement(ctx.sessions) as session:
        return service.claim_job(session, job_id=job_id)


def _count_call(ctx: JobContext, job_id: str) -> None:
    with one_statement(ctx.sessions) as session:
        repository.count_provider_call(session, job_id=job_id)


def _notify_webhooks(ctx: JobContext, job_id: str) -> None:
    """First attempt right away (the caller was already woken); beat retries what fails."""
    try:
        send_due(ctx.sessions, ctx.settings, job_id=job_id)
    except Exception:
        log.warning("webhook attempt failed; beat will retry", exc_info=True)


def _produce(ctx: JobContext, job: Job) -> tuple[str, bool]:
    """Make, store and settle the job: (outcome, whether a webhook delivery was recorded)."""
    try:
        audio = _generate(ctx, job)
        stored = _store(ctx, job, audio)
    except ProviderFailure as exc:
        return _fail(ctx, job.id, "provider_error", f"{job.model}: {exc.message}", exc)
    except StorageError as exc:
        log.warning("job %s: storage failed: %s", job.id, exc)
        return _fail(ctx, job.id, "storage_error", "The track could not be stored.", None)
    except Exception:
        log.exception("job %s failed unexpectedly", job.id)
        return _fail(ctx, job.id, "internal_error", "The track could not be produced.", None)
    return _complete(ctx, job, audio, stored)


def _generate(ctx: JobContext, job: Job) -> GeneratedAudio:
    """Call the provider, retrying only what cannot have started billable work."""
    sku = SKUS[job.model]
    provider = ctx.providers[sku.id]
    request = GenerationRequest(
        job_id=job.id,
        sku=sku,
        prompt=job.prompt,
        lyrics=job.lyrics,
        music_length_ms=job.music_length_ms,
        response_format=job.response_format,
    )
    settings = ctx.settings
    retrying = provider_retrying(
        settings.provider_max_attempts,
        settings.provider_retry_initial_s,
        settings.provider_retry_max_s,
    )
    return retrying(_attempt, ctx, job, provider, request)


def _attempt(
    ctx: JobContext, job: Job, provider: MusicProvider, request: GenerationRequest
) -> GeneratedAudio:
    waiting = time.perf_counter()
    with ctx.limiter.slot(provider.name, deadline=job.deadline_at):
        CAPACITY_WAIT.labels(provider.name).observe(time.perf_counter() - waiting)
        # Counted before the call, in its own transaction: a worker killed mid-call still
        # leaves the attempt on record.
        db_retrying()(_count_call, ctx, job.id)
        try:
            return provider.generate(request)
        except ProviderFailure as exc:
            PROVIDER_ERRORS.labels(provider.name, exc.provider_code or "unknown").inc()
            raise


def _store(ctx: JobContext, job: Job, audio: GeneratedAudio) -> StoredObject:
    """Store the delivery in the format and under the key its job calls for."""
    fmt = stored_format(job.response_format, saved=job.save_to_blob)
    key = delivery_key(
        account_id=job.account_id, job_id=job.id, extension=fmt.extension, saved=job.save_to_blob
    )
    data = audio.data
    if audio.format != fmt.name:
        data = codec.transcode(data, src_format=audio.format, dst_format=fmt.name)
    return ctx.store.put(key, data, content_type=fmt.content_type, public=job.save_to_blob)


def _complete(
    ctx: JobContext, job: Job, audio: GeneratedAudio, stored: StoredObject
) -> tuple[str, bool]:
    billed_ms = billed_duration_ms(
        SKUS[job.model], requested_ms=job.music_length_ms, delivered_ms=audio.duration_ms
    )
    retain_until = service.audio_retained_until(
        saved=job.save_to_blob, retention_hours=ctx.settings.retention_hours
    )
    try:
        webhook = db_retrying()(
            _record_completion, ctx, job, audio, stored, billed_ms, retain_until
        )
    except service.HoldAlreadySettled:
        # The reaper expired this job first: nothing is charged, the object belongs to no one.
        log.warning("job %s finished after it was expired; discarding its audio", job.id)
        ctx.store.delete(stored.key)
        return "late", False
    ctx.notifier.publish(job.id)
    if job.save_to_blob:
        _store_waveform(ctx, stored, audio)
    return "succeeded", webhook


def _store_waveform(ctx: JobContext, stored: StoredObject, audio: GeneratedAudio) -> None:
    """The saved track's picture, drawn once the caller has its answer and the hold is
    captured: a picture that fails is drawn again when a page first shows the track."""
    try:
        store_waveform(ctx.store, audio_key=stored.key, data=audio.data, audio_format=audio.format)
    except Exception:
        log.warning("the waveform of %s was not stored", stored.key, exc_info=True)


def _record_completion(
    ctx: JobContext,
    job: Job,
    audio: GeneratedAudio,
    stored: StoredObject,
    billed_ms: int,
    retain_until: datetime | None,
) -> bool:
    """Record the success; whether it queued a webhook delivery."""
    values: dict[str, Any] = {
        "job_id": job.id,
        "blob_key": stored.key,
        "blob_size": stored.size,
        "content_type": stored.content_type,
        "billed_duration_ms": billed_ms,
        "provider_ref": audio.provider_ref,
        "retain_until": retain_until,
        "public_url": stored.url,
    }
    with one_statement(ctx.sessions) as session:
        if service.complete_job_in_one_statement(session, **values) is not None:
            return False
    with transaction(ctx.sessions) as session:
        ended = service.complete_job(session, **values)
        return target_url(session, job=ended) is not None


def _fail(
    ctx: JobContext, job_id: str, code: str, message: str, failure: ProviderFailure | None
) -> tuple[str, bool]:
    def record() -> bool:
        with transaction(ctx.sessions) as session:
            ended = service.fail_job(
                session,
                job_id=job_id,
                code=code,
                message=message,
                provider_code=failure.provider_code if failure else None,
                suggestion=failure.suggestion if failure else None,
            )
            return ended is not None and target_url(session, job=ended) is not None

    webhook = db_retrying()(record)
    ctx.notifier.publish(job_id)
    return "failed", webhook


def reap(ctx: JobContext) -> list[str]:
    """Expire jobs stuck past their deadline and release their holds."""
    with transaction(ctx.sessions) as session:
        expired = service.expire_stuck_jobs(session)
    for job_id in expired:
        log.warning("expired stuck job %s", job_id)
        ctx.notifier.publish(job_id)
    return expired


def purge_expired_audio(ctx: JobContext) -> int:
    """Delete unsaved audio past its retention period; saved tracks are never touched."""
    with transaction(ctx.sessions) as session:
        due = service.purgeable_audio(session)
    for job_id, key in due:
        ctx.store.delete(key)
        with transaction(ctx.sessions) as session:
            service.forget_audio(session, job_id=job_id)
    return len(due)
