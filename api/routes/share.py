"""POST / DELETE /v1/jobs/{id}/share: the owner issues or revokes a track's public link."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from api.db import in_transaction
from api.deps import AppState, get_state, require_principal
from api.schemas import ShareLinkBody, error_responses
from common.account.service import Principal
from common.share.owner import share_own_job, unshare_own_job

router = APIRouter(tags=["gallery"])


@router.post(
    "/v1/jobs/{job_id}/share",
    response_model=ShareLinkBody,
    status_code=201,
    responses=error_responses(401, 404, 409, 429, 503, examples=["not_saved"]),
    summary="Issue a share link",
)
async def create_share(
    job_id: str,
    principal: Principal = Depends(require_principal),
    state: AppState = Depends(get_state),
) -> ShareLinkBody:
    """A new public link for a saved track; earlier links of the track stop working."""
    token = await in_transaction(
        state.sessions, share_own_job, job_id=job_id, account_id=principal.account_id
    )
    return ShareLinkBody(
        job_id=job_id, share_url=f"{state.settings.effective_public_base_url}/s/{token}"
    )


@router.delete(
    "/v1/jobs/{job_id}/share",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 404, 429, 503),
    summary="Revoke a track's share links",
)
async def delete_share(
    job_id: str,
    principal: Principal = Depends(require_principal),
    state: AppState = Depends(get_state),
) -> Response:
    await in_transaction(
        state.sessions, unshare_own_job, job_id=job_id, account_id=principal.account_id
    )
    return Response(status_code=204)
