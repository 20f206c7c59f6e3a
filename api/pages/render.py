"""Rendering pages: Jinja2 with autoescaping, the headers every page carries, and the way
pages show durations, money and lyrics."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse

from common.errors import NotFoundError
from common.models import Job
from common.pricing import format_usd
from common.storage.base import BlobNotFound, BlobStore

SITE_NAME = "musicgw"
TAGLINE = "Songs from a sentence"
CENT = Decimal("0.01")
SECTION_TAG = re.compile(r"^\[([^\[\]]{1,40})\]$")
NOT_IN_FILENAME = re.compile(r"[^a-z0-9]+")

PAGE_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # No script anywhere: pages are plain forms. Audio may come from the blob store's host;
    # pictures (the waveforms) are served by this site.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; media-src *; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
}


def clock(ms: int | None) -> str:
    """Milliseconds as a clock reading, to the nearest second: 52400 → '0:52', 300000 → '5:00'."""
    seconds = ((ms or 0) + 500) // 1000
    return f"{seconds // 60}:{seconds % 60:02d}"


def dollars(micro_usd: int) -> str:
    """Micro-dollars to the cent, half up, for display only: 45000 → '$0.05', 540000 → '$0.54'.
    What was charged stays exact in the ledger; `exact_dollars` shows it."""
    cents = Decimal(micro_usd).scaleb(-6).quantize(CENT, rounding=ROUND_HALF_UP)
    return f"${cents:,}"


def exact_dollars(micro_usd: int) -> str:
    """Micro-dollars as charged, every digit: 45000 → '$0.045'."""
    return f"${format_usd(micro_usd)}"


def lyric_lines(lyrics: str | None) -> list[tuple[str, str]]:
    """Lyrics as (kind, text) lines: structure tags like `[chorus]` become section labels."""
    lines = []
    for line in (lyrics or "").strip().splitlines():
        tag = SECTION_TAG.match(line.strip())
        lines.append(("section", tag.group(1).strip()) if tag else ("line", line))
    return lines


def track_title(job: Job, *, limit: int = 80) -> str:
    """A track's name on a page: its prompt, shortened."""
    prompt = " ".join((job.prompt or "").split())
    if not prompt:
        return "Untitled track"
    return prompt if len(prompt) <= limit else prompt[: limit - 1].rstrip() + "…"


def share_description(job: Job) -> str:
    return f"A {clock(job.billed_duration_ms)} track made with {SITE_NAME} ({job.model})."


templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals.update(
    site_name=SITE_NAME,
    tagline=TAGLINE,
    clock=clock,
    dollars=dollars,
    exact_dollars=exact_dollars,
    lyric_lines=lyric_lines,
    track_title=track_title,
)


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(PAGE_HEADERS)
    return response


def png(data: bytes, *, cache_control: str) -> Response:
    """A waveform picture, with the headers a page's image needs."""
    return Response(
        data,
        media_type="image/png",
        headers={"Cache-Control": cache_control, "X-Content-Type-Options": "nosniff"},
    )


async def mp3_download(store: BlobStore, job: Job) -> Response:
    """The saved MP3 as an attachment named after the track: a same-origin link, so the
    browser saves it (a `download` link to another host would only play it)."""
    try:
        chunks = await run_in_threadpool(store.iter_chunks, job.blob_key or "")
    except BlobNotFound as exc:
        raise NotFoundError("This track is gone.") from exc
    name = NOT_IN_FILENAME.sub("-", track_title(job, limit=60).lower()).strip("-") or "track"
    return StreamingResponse(
        chunks,
        media_type="audio/mpeg",
        headers={
            "Content-Disposition": f'attachment; filename="{name}.mp3"',
            "Cache-Control": "private, max-age=3600",
            "X-Content-Type-Options": "nosniff",
        },
    )
