"""Public share pages: `/s/{token}`, no sign-in, with a waveform picture for link previews."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.db import in_transaction
from api.deps import AppState, get_state
from api.pages.render import mp3_download, page, png, share_description, track_title
from common.audio import waveform
from common.errors import NotFoundError
from common.gallery.service import read_waveform
from common.share.service import resolve_link

router = APIRouter(include_in_schema=False)


@router.get("/s/{token}")
async def share_page(
    request: Request, token: str, state: AppState = Depends(get_state)
) -> Response:
    try:
        job = await in_transaction(state.sessions, resolve_link, token=token)
    except NotFoundError:
        return page(request, "not_found.html", {}, status=404)
    page_url = f"{state.settings.effective_public_base_url}/s/{token}"
    return page(
        request,
        "share.html",
        {
            "job": job,
            "token": token,
            "title": track_title(job),
            "description": share_description(job),
            "page_url": page_url,
            "image_url": f"{page_url}/waveform.png",
            "download_url": f"/s/{token}/download",
            "image_size": (waveform.WIDTH, waveform.HEIGHT),
        },
    )


@router.get("/s/{token}/waveform.png")
async def share_waveform(token: str, state: AppState = Depends(get_state)) -> Response:
    """The shared track's picture, for the page and for link previews (`og:image`)."""
    job = await in_transaction(state.sessions, resolve_link, token=token)
    data = await run_in_threadpool(read_waveform, state.store, audio_key=job.blob_key or "")
    # Short-lived: a revoked link's picture should not linger in caches for long.
    return png(data, cache_control="public, max-age=3600")


@router.get("/s/{token}/download")
async def share_download(token: str, state: AppState = Depends(get_state)) -> Response:
    job = await in_transaction(state.sessions, resolve_link, token=token)
    return await mp3_download(state.store, job)
