"""Rendering pages: Jinja2 with autoescaping, and the headers every page carries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import HTMLResponse

from common.models import Job
from common.pricing import format_seconds, format_usd

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals["seconds"] = lambda job: format_seconds(job.billed_duration_ms or 0)
templates.env.globals["usd"] = lambda job: format_usd(job.cost_micro_usd)

PAGE_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # No script anywhere: pages are plain forms. Audio may come from the blob store's host.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; media-src *; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
}


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(PAGE_HEADERS)
    return response


def share_description(job: Job) -> str:
    return f"A {format_seconds(job.billed_duration_ms or 0)} s track made with {job.model}."
