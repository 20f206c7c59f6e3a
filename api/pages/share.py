"""Public share pages: `/s/{token}`, no sign-in, with a waveform picture for link previews.

A share link is a capability: the page, its audio, its download and its picture are all served
through the token, so revoking the link (or making a new one) turns every one of them off at
once. The page never names the track's permanent blob URL, which is its owner's to hand out.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from api.db import in_transaction
from api.deps import AppState, get_state
from api.pages.render import PAGE_HEADERS, mp3_download, page, png, share_description, track_title
from common.audio import waveform
from common.errors import NotFoundError
from common.gallery.service import read_waveform
from common.models import Job
from common.share.service import resolve_link
from common.storage.base import BlobNotFound, BlobStore, iter_range

router = APIRouter(include_in_schema=False)
# The gallery's policy, but audio from this site only: the page plays its track through the token.
SHARE_PAGE_HEADERS = PAGE_HEADERS | {
    "Content-Security-Policy": PAGE_HEADERS["Content-Security-Policy"].replace(
        "media-src *", "media-src 'self'"
    )
}
# Private: no shared cache may go on answering for a link after it is revoked.
TOKEN_CACHE_CONTROL = "private, max-age=3600"
ONE_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


@router.get("/s/{token}")
async def share_page(
    request: Request, token: str, state: AppState = Depends(get_state)
) -> Response:
    try:
        job = await in_transaction(state.sessions, resolve_link, token=token)
    except NotFoundError:
        return page(request, "not_found.html", {}, status=404)
    path = f"/s/{token}"
    page_url = f"{state.settings.effective_public_base_url}{path}"
    response = page(
        request,
        "share.html",
        {
            "job": job,
            "path": path,
            "title": track_title(job),
            "description": share_description(job),
            "page_url": page_url,
            # Link previews fetch these from elsewhere, so they are absolute.
            "image_url": f"{page_url}/waveform.png",
            "audio_url": f"{page_url}/audio",
            "image_size": (waveform.WIDTH, waveform.HEIGHT),
        },
    )
    response.headers.update(SHARE_PAGE_HEADERS)
    return response


@router.get("/s/{token}/audio")
async def share_audio(
    request: Request, token: str, state: AppState = Depends(get_state)
) -> Response:
    """The shared track's MP3 for the page's player and for `og:audio`, with byte ranges."""
    job = await in_transaction(state.sessions, resolve_link, token=token)
    return await run_in_threadpool(_audio, state.store, job, request.headers.get("range"))


@router.get("/s/{token}/waveform.png")
async def share_waveform(token: str, state: AppState = Depends(get_state)) -> Response:
    """The shared track's picture, for the page and for link previews (`og:image`)."""
    job = await in_transaction(state.sessions, resolve_link, token=token)
    data = await run_in_threadpool(read_waveform, state.store, audio_key=job.blob_key or "")
    return png(data, cache_control=TOKEN_CACHE_CONTROL)


@router.get("/s/{token}/download")
async def share_download(token: str, state: AppState = Depends(get_state)) -> Response:
    job = await in_transaction(state.sessions, resolve_link, token=token)
    return await mp3_download(state.store, job)


def _audio(store: BlobStore, job: Job, range_header: str | None) -> Response:
    """The whole object (200), or the one byte range asked for (206, or 416 past its end).
    Blocking (the store may be remote): call it from a worker thread."""
    key = job.blob_key or ""
    size = store.size(key)
    if size is None:
        raise NotFoundError("This track is gone.")
    headers = {
        "Accept-Ranges": "bytes",
        "Cache-Control": TOKEN_CACHE_CONTROL,
        "X-Content-Type-Options": "nosniff",
    }
    try:
        wanted = byte_range(range_header, size)
    except RangeNotSatisfiable:
        return Response(status_code=416, headers=headers | {"Content-Range": f"bytes */{size}"})
    start, stop, status = 0, size, 200
    if wanted is not None:
        (start, stop), status = wanted, 206
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    try:
        chunks = iter_range(store, key, start=start, stop=stop)
    except BlobNotFound as exc:
        raise NotFoundError("This track is gone.") from exc
    headers["Content-Length"] = str(stop - start)
    return StreamingResponse(
        chunks, status_code=status, media_type=job.content_type, headers=headers
    )


class RangeNotSatisfiable(Exception):
    """The range asked for starts past the object's end (a 416)."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one range a `Range` header asks for, as (start, stop) with stop exclusive; None to
    send the whole object (no header, one we do not read, or several ranges: RFC 9110 lets a
    server ignore those). RangeNotSatisfiable when it lies wholly past the end."""
    match = ONE_RANGE.fullmatch((header or "").replace(" ", ""))
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":  # the last `last` bytes
        if int(last) == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(size - int(last), 0), size
    start = int(first)
    if last != "" and int(last) < start:
        return None  # last before first: not a valid range, so not one to honour
    if start >= size:
        raise RangeNotSatisfiable
    return start, size if last == "" else min(int(last) + 1, size)
