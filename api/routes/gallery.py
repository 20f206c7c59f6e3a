"""GET /v1/gallery and DELETE /v1/gallery/{job_id}: the JSON twins of the gallery page."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.db import in_transaction
from api.deps import AppState, get_state, require_principal
from api.schemas import GalleryItem, GalleryList, error_responses
from common.account.service import Principal
from common.gallery.service import MAX_PAGE, delete_track, list_saved
from common.pricing import format_usd

router = APIRouter(tags=["gallery"])


@router.get(
    "/v1/gallery",
    response_model=GalleryList,
    responses=error_responses(400, 401, 429, 503),
    summary="The account's saved tracks, newest first",
)
async def read_gallery(
    limit: int = Query(20, ge=1, le=MAX_PAGE),
    cursor: str | None = Query(None, description="`next_cursor` of the previous page."),
    principal: Principal = Depends(require_principal),
    state: AppState = Depends(get_state),
) -> GalleryList:
    listing = await in_transaction(
        state.sessions, list_saved, account_id=principal.account_id, limit=limit, cursor=cursor
    )
    return GalleryList(
        data=[
            GalleryItem(
                job_id=job.id,
                url=job.public_url or "",
                model=job.model,
                prompt=job.prompt,
                lyrics=job.lyrics,
                duration_sec=(job.billed_duration_ms or 0) / 1000,
                cost_usd=float(format_usd(job.cost_micro_usd)),
                created_at=job.created_at.isoformat(),
                shared=job.id in listing.shared,
            )
            for job in listing.jobs
        ],
        next_cursor=listing.next_cursor,
    )


@router.delete(
    "/v1/gallery/{job_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 404, 429, 503),
    summary="Delete a saved track",
)
async def delete_saved(
    job_id: str,
    principal: Principal = Depends(require_principal),
    state: AppState = Depends(get_state),
) -> Response:
    """The track's audio, waveform and share links go; its job and ledger entries stay."""
    await in_transaction(
        state.sessions,
        delete_track,
        store=state.store,
        job_id=job_id,
        account_id=principal.account_id,
    )
    return Response(status_code=204)
