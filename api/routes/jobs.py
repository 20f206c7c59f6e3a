"""A job's status, audio, live events and cancellation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.db import in_transaction
from api.deps import AppState, get_state, require_principal
from api.openapi import JOB_ID_HEADERS, KYMA_HEADERS
from api.responses import JOB_ID_HEADER, audio_response
from api.schemas import AUDIO_CONTENT, JOB_EVENT, JOB_EVENT_EXAMPLE, JobStatus, error_responses
from common.account.service import Principal
from common.jobs.present import event_body, job_body
from common.jobs.service import cancel_job, get_job
from common.jobs.states import TERMINAL
from common.jobs.states import JobStatus as Status
from common.models import Job
from common.webhooks.service import deliveries_of

router = APIRouter(tags=["jobs"])
KEEPALIVE_S = 15.0


def _job_with_log(session: Session, *, job_id: str, account_id: str) -> dict[str, object]:
    job = get_job(session, job_id=job_id, account_id=account_id)
    return job_body(job) | {
        "webhooks": [
            {
                "id": d.id,
                "url": d.url,
                "event": d.event,
                "state": d.state,
                "attempts": d.attempts,
                "last_status": d.last_status,
                "last_error": d.last_error,
                "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
            }
            for d in deliveries_of(session, job_id=job_id)
        ]
    }


@router.get(
    "/v1/jobs/{job_id}",
    response_model=JobStatus,
    responses={200: {"headers": JOB_ID_HEADERS}, **error_responses(401, 404, 429, 503)},
    summary="A job's status, with its webhook delivery log",
)
async def read_job(
    job_id: str,
    response: Response,
    principal: Principal = Depends(require_principal),
    state: AppState = Depends(get_state),
) -> dict[str, object]:
    body = await in_transaction(
        state.sessions, _job_with_log, job_id=job_id, account_id=principal.account_id
    )
    response.headers[JOB_ID_HEADER] = job_id
    return body


@router.get(
    "/v1/jobs/{job_id}/audio",
    response_class=Response,
    responses={
        200: {
            "description": "The audio bytes with X-Kyma-* headers.",
            "content": AUDIO_CONTENT,
            "headers": KYMA_HEADERS,
        },
        **error_responses(401, 404, 409, 410, 429, 503, examples=["job_not_ready"]),
    },
    summary="A succeeded job's audio, while retained",
)
async def read_job_audio(
    job_id: str,
    principal: Principal = Depends(require_principal),
    state: AppState = Depends(get_state),
) -> Response:
    job = await in_transaction(
        state.sessions, get_job, job_id=job_id, account_id=principal.account_id
    )
    return await run_in_threadpool(audio_response, job, state.store)


@router.get(
    "/v1/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-Sent Events: queued, running, then succeeded, "
            "failed or expired; the stream closes at the end.",
            "content": {"text/event-stream": {"schema": JOB_EVENT, "example": JOB_EVENT_EXAMPLE}},
            "headers": JOB_ID_HEADERS,
        },
        **error_responses(401, 404, 429, 503),
    },
    summary="Follow a job's status as Server-Sent Events",
)
async def job_events(
    job_id: str,
    principal: Principal = Depends(require_principal),
    state: AppState = Depends(get_state),
) -> StreamingResponse:
    job = await in_transaction(
        state.sessions, get_job, job_id=job_id, account_id=principal.account_id
    )
    return StreamingResponse(
        _events(state, job),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", JOB_ID_HEADER: job_id},
    )


async def _events(state: AppState, job: Job) -> AsyncIterator[str]:
    """Every status the job has passed through, in order (those before the stream opened
    included), then each new one as it happens; the stream ends at a terminal status."""
    sent: list[str] = []
    while True:
        wake = state.waiters.register(job.id)
        try:
            job = await in_transaction(
                state.sessions, get_job, job_id=job.id, account_id=job.account_id
            )
            for status in _passed(job)[len(sent) :]:
                sent.append(status)
                yield _event(job, status)
            if job.status in TERMINAL:
                return
            try:
                await asyncio.wait_for(asyncio.shield(wake), timeout=KEEPALIVE_S)
            except TimeoutError:
                yield ": keep-alive\n\n"
        finally:
            state.waiters.discard(job.id, wake)


def _passed(job: Job) -> list[str]:
    passed: list[str] = [Status.QUEUED]
    if job.started_at is not None:
        passed.append(Status.RUNNING)
    if job.status in TERMINAL:
        passed.append(job.status)
    return passed


def _event(job: Job, status: str) -> str:
    data = json.dumps(event_body(job, status))
    return f"id: {job.id}:{status}\nevent: {status}\ndata: {data}\n\n"


@router.post(
    "/v1/jobs/{job_id}/cancel",
    response_model=JobStatus,
    responses=error_responses(401, 404, 409, 429, 503, examples=["not_cancellable"]),
    summary="Cancel a queued job",
)
async def cancel(
    job_id: str,
    principal: Principal = Depends(require_principal),
    state: AppState = Depends(get_state),
) -> dict[str, object]:
    """A queued job is cancelled and its hold released; a running or ended one answers 409."""
    job = await in_transaction(
        state.sessions, cancel_job, job_id=job_id, account_id=principal.account_id
    )
    return job_body(job)
