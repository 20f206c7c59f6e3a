"""Turning job rows into HTTP answers."""

from __future__ import annotations

from starlette.responses import Response, StreamingResponse

from common.db import utcnow
from common.errors import (
    AppError,
    AudioGoneError,
    JobNotReadyError,
    ProviderError,
    StorageFailedError,
)
from common.jobs.present import upstream_detail
from common.jobs.states import JobStatus
from common.models import Job
from common.pricing import format_seconds, format_usd
from common.storage.base import BlobNotFound, BlobStore

# X-Kyma-* are the hosted gateway's public header names, kept so existing clients work.
JOB_ID_HEADER = "X-Kyma-Job-Id"
# Audio up to this size (a 16-second MP3 at 128 kbps) is read whole and sent in one piece; a
# streamed response costs a task group, a disconnect listener and a thread hop per chunk, which
# for a short track is most of the work of answering. Longer tracks stream in chunks.
WHOLE_RESPONSE_MAX_BYTES = 256 * 1024


def kyma_headers(job: Job) -> dict[str, str]:
    """The X-Kyma-* headers of a succeeded job."""
    return {
        "X-Kyma-Model": job.model,
        "X-Kyma-Duration-Sec": format_seconds(job.billed_duration_ms or 0),
        "X-Kyma-Cost-USD": format_usd(job.cost_micro_usd),
        "X-Kyma-Balance-USD": format_usd(job.balance_after_micro_usd or 0),
        JOB_ID_HEADER: job.id,
    }


def audio_response(job: Job, store: BlobStore) -> Response:
    """A succeeded job's stored audio with the X-Kyma-* headers: small tracks whole, larger ones
    streamed in chunks. Blocking (the store may be remote): call it from a worker thread."""
    if job.status != JobStatus.SUCCEEDED:
        raise JobNotReadyError(
            f"Job {job.id} is {job.status}; audio exists only once it has succeeded.",
            headers={JOB_ID_HEADER: job.id},
        )
    expired = job.retain_until is not None and job.retain_until < utcnow()
    size = store.size(job.blob_key) if job.blob_key and not expired else None
    if size is None:
        raise _gone(job)
    key = job.blob_key or ""
    if size <= WHOLE_RESPONSE_MAX_BYTES:
        try:
            body = b"".join(store.iter_chunks(key))
        except BlobNotFound:  # purged between the two calls
            raise _gone(job) from None
        return Response(body, media_type=job.content_type, headers=kyma_headers(job))
    headers = kyma_headers(job) | {"Content-Length": str(size)}
    return StreamingResponse(store.iter_chunks(key), media_type=job.content_type, headers=headers)


def _gone(job: Job) -> AudioGoneError:
    return AudioGoneError(
        f"The audio of job {job.id} is past its retention period.",
        headers={JOB_ID_HEADER: job.id},
    )


def job_failure(job: Job) -> AppError:
    """The error a caller gets for a job that failed or expired: nothing was charged."""
    message = job.error_message or "The provider failed."
    error = StorageFailedError if job.error_code == "storage_error" else ProviderError
    return error(
        f"{message} Nothing was charged.",
        sku=job.model,
        headers={JOB_ID_HEADER: job.id},
        extra={"job_id": job.id} | upstream_detail(job),
    )
