"""POST /v1/audio/music: validate, hold, enqueue, wait, answer with the audio."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.deps import AppState, get_state
from api.openapi import ACCEPTED_HEADERS, KYMA_HEADERS, MUSIC_REQUEST_EXAMPLES
from api.responses import (
    JOB_ID_HEADER,
    audio_response,
    job_failure,
    kyma_headers,
)
from api.schemas import (
    AUDIO_CONTENT,
    JobAccepted,
    MusicRequestBody,
    SavedTrack,
    error_responses,
)
from common.account.service import authenticate
from common.db import one_statement, transaction
from common.errors import RequestTooLargeError, ServiceUnavailableError
from common.jobs import idempotency
from common.jobs import service as jobs
from common.jobs.present import job_body, saved_body
from common.jobs.states import TERMINAL, JobStatus
from common.jobs.waiting import load_job
from common.models import Job
from common.observability.logs import current as current_log_field
from common.validation import decode_json_body, parse_music_request, parse_save_to_blob
from common.webhooks.service import check_deliverable

router = APIRouter(tags=["music"])
log = logging.getLogger(__name__)


@router.post(
    "/v1/audio/music",
    summary="Generate a music track",
    response_class=Response,
    responses={
        200: {
            "description": "The audio bytes with X-Kyma-* headers; with `?save_to_blob=1`, "
            "JSON with the permanent URL (and the same headers).",
            "content": AUDIO_CONTENT
            | {"application/json": {"schema": SavedTrack.model_json_schema()}},
            "headers": KYMA_HEADERS,
        },
        202: {
            "model": JobAccepted,
            "description": "Still running after the sync-wait limit, or at once with "
            "`Prefer: respond-async` (then with the job's status fields too).",
            "headers": ACCEPTED_HEADERS,
        },
        **error_responses(
            400,
            401,
            402,
            409,
            413,
            429,
            502,
            503,
            examples=[
                "prompt_required",
                "not_json",
                "not_a_music_model",
                "prompt_too_long",
                "lyrics_too_long",
                "invalid_duration",
                "invalid_response_format",
                "invalid_webhook_url",
                "idempotency_conflict",
                "rate_limited",
                "too_many_in_flight",
                "provider_error",
                "storage_error",
                "dependency_down",
                "queue_unreachable",
            ],
        ),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": MusicRequestBody.model_json_schema(),
                    "examples": MUSIC_REQUEST_EXAMPLES,
                }
            },
        }
    },
)
async def create_music(
    request: Request,
    idempotency_key: str | None = Header(
        None,
        description="Retry safely: the same key with the same body returns the same job and "
        "charges once (kept 24 h, per account).",
    ),
    prefer: str | None = Header(
        None,
        description="`respond-async`: answer 202 with the job at once; follow it with "
        "GET /v1/jobs/{id}/events or a webhook_url.",
    ),
    save_to_blob: str | None = Query(
        None,
        description="`1` (or `true`): store the track permanently and answer with JSON; `0` "
        "(or `false`) or absent: the audio bytes. Anything else is a 400.",
        json_schema_extra={"enum": ["0", "1", "false", "true"]},
    ),
    state: AppState = Depends(get_state),
) -> Response:
    try:
        raw, too_large = await request.body(), None
    except RequestTooLargeError as exc:
        # Answered after authentication: a caller without a valid key learns nothing else.
        raw, too_large = b"", exc
    respond_async = bool(prefer and "respond-async" in prefer.lower())
    # The job's id is chosen here so that its waiter is registered before the job exists: no
    # event can be missed, and the row just written need not be read back before waiting.
    job_id = jobs.new_job_id()
    first = None if respond_async else state.waiters.register(job_id, ended_only=True)
    try:
        job, created = await run_in_threadpool(
            _accept,
            state,
            request.headers.get("authorization"),
            raw,
            too_large=too_large,
            job_id=job_id,
            save_to_blob=save_to_blob,
            idempotency_key=idempotency_key,
            request_id=current_log_field("request_id"),
        )
    except BaseException:
        if first is not None:
            state.waiters.discard(job_id, first)
        raise
    if first is not None and not created:
        # An Idempotency-Key found an earlier job: that one is waited on the ordinary way.
        state.waiters.discard(job_id, first)
        first = None
    if respond_async:
        return _accepted(job, body=job_body(job), headers={"Preference-Applied": "respond-async"})
    job, answer = await _wait(request, state, job, first)
    if answer is not None:
        return answer
    if job.status == JobStatus.SUCCEEDED and job.save_to_blob:
        return JSONResponse(saved_body(job), headers=kyma_headers(job))
    if job.status in TERMINAL:
        raise job_failure(job)
    return _accepted(job)


def _accept(
    state: AppState,
    authorization: str | None,
    raw: bytes,
    *,
    too_large: RequestTooLargeError | None,
    job_id: str,
    save_to_blob: str | None,
    idempotency_key: str | None,
    request_id: str | None,
) -> tuple[Job, bool]:
    """Everything between reading the body and waiting, in one trip to a worker thread and on
    one connection: the key, the rate limit, validation (a webhook_url's host is resolved
    here), the job with its hold, and the enqueue. (job, newly created).

    Without an Idempotency-Key, the job and its hold are one statement that commits by itself
    (see jobs.submit_job); a key is reserved with them, so that takes a transaction."""
    scope = one_statement if idempotency_key is None else transaction
    with scope(state.sessions) as session:
        principal = authenticate(session, authorization=authorization)
        state.rate_limiter.check(api_key_id=principal.api_key_id, override=principal.rate_limit)
        if too_large is not None:
            raise too_large
        saving = parse_save_to_blob(save_to_blob)
        body = decode_json_body(raw)
        music = parse_music_request(body)
        if music.webhook_url is not None:
            check_deliverable(music.webhook_url, settings=state.settings)
        job, created = jobs.accept_job(
            session,
            job_id=job_id,
            account_id=principal.account_id,
            api_key_id=principal.api_key_id,
            request=music,
            max_runtime_s=state.settings.job_max_runtime_s,
            save_to_blob=saving,
            max_in_flight=principal.max_in_flight or state.settings.max_concurrent_jobs_per_account,
            idempotency=_idempotency(idempotency_key, state, body, saving),
        )
    if created:
        _enqueue(state, job, request_id)
    return job, created


def _idempotency(
    key: str | None, state: AppState, body: object, saving: bool
) -> jobs.Idempotency | None:
    if key is None:
        return None
    return jobs.Idempotency(
        key=idempotency.check_key(key),
        digest=idempotency.request_hash(body, save_to_blob=saving),
        ttl_hours=state.settings.idempotency_ttl_hours,
    )


def _enqueue(state: AppState, job: Job, request_id: str | None) -> None:
    """Hand the job to the queue; if the queue is down, end the job and release its hold."""
    try:
        # The request id travels with the task, so the worker's log lines carry it too.
        state.celery.send_task("music.generate", args=[job.id], headers={"request_id": request_id})
    except Exception as exc:
        log.warning("could not enqueue job %s", job.id, exc_info=True)
        with transaction(state.sessions) as session:
            jobs.fail_job(
                session,
                job_id=job.id,
                code="service_unavailable",
                message="The job queue was unreachable.",
            )
        raise ServiceUnavailableError(
            "The job queue is unreachable; nothing was charged. Retry shortly.",
            headers={JOB_ID_HEADER: job.id, "Retry-After": "5"},
        ) from exc


async def _wait(
    request: Request, state: AppState, job: Job, event: asyncio.Future[None] | None
) -> tuple[Job, Response | None]:
    """Wait until the job is terminal, the sync-wait limit passes, or the caller goes away;
    with the audio answer already made when the job succeeded with audio to send.

    `event`, when given, was registered before `job` was read (or written), so `job` is current
    as of that registration; otherwise the loop registers, then reads.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + state.settings.sync_wait_limit_s
    disconnect = asyncio.ensure_future(_disconnected(request))
    try:
        while True:
            answer = None
            if event is None:
                event = state.waiters.register(job.id, ended_only=True)
                job, answer = await run_in_threadpool(_current, state, job.id)
            try:
                remaining = deadline - loop.time()
                if job.status in TERMINAL or remaining <= 0 or disconnect.done():
                    return job, answer
                await asyncio.wait(
                    {event, disconnect}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                state.waiters.discard(job.id, event)
                event = None
    finally:
        disconnect.cancel()


def _current(state: AppState, job_id: str) -> tuple[Job, Response | None]:
    """The job as it is now, and its audio answer if it has succeeded with audio to send: one
    trip to a worker thread (the store may be remote)."""
    with one_statement(state.sessions) as session:
        job = load_job(session, job_id=job_id)
    if job.status == JobStatus.SUCCEEDED and not job.save_to_blob:
        return job, audio_response(job, state.store)
    return job, None


async def _disconnected(request: Request) -> None:
    # The body has been read, so the next message can only be the client going away.
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _accepted(
    job: Job, *, body: dict[str, object] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """202 with the job: the sync-wait limit passed, or the caller asked for async."""
    status_url = f"/v1/jobs/{job.id}"
    accepted = JobAccepted(job_id=job.id, status=job.status, status_url=status_url).model_dump()
    return JSONResponse(
        (body or {}) | accepted,
        status_code=202,
        headers={"Location": status_url, JOB_ID_HEADER: job.id} | (headers or {}),
    )
