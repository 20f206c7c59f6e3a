"""GET /v1/jobs/{id} and its audio."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from api.db import in_transaction
from api.deps import AppState, get_state, require_principal
from api.responses import JOB_ID_HEADER, audio_response
from api.schemas import AUDIO_CONTENT, JobStatus, error_responses
from common.account.service import Principal
from common.jobs.present import job_body
from common.jobs.service import get_job

router = APIRouter(tags=["jobs"])


@router.get(
    "/v1/jobs/{job_id}",
    response_model=JobStatus,
    responses=error_responses(401, 404),
    summary="A job's status",
)
async def read_job(
    job_id: str,
    response: Response,
    principal: Principal = Depends(require_principal),
    state: AppState = Depends(get_state),
) -> dict[str, object]:
    job = await in_transaction(
        state.sessions, get_job, job_id=job_id, account_id=principal.account_id
    )
    response.headers[JOB_ID_HEADER] = job.id
    return job_body(job)


@router.get(
    "/v1/jobs/{job_id}/audio",
    response_class=Response,
    responses={
        200: {"description": "The audio bytes with X-Kyma-* headers.", "content": AUDIO_CONTENT},
        **error_responses(401, 404, 409, 410),
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
    return audio_response(job, state.store)
