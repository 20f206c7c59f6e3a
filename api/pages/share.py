"""Public share pages: `/s/{token}`, no sign-in, previews for chat apps."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from api.db import in_transaction
from api.deps import AppState, get_state
from api.pages.render import page, share_description
from common.errors import NotFoundError
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
    prompt = (job.prompt or "").strip()
    title = (prompt[:80] + "…") if len(prompt) > 80 else (prompt or "A shared track")
    return page(
        request,
        "share.html",
        {
            "job": job,
            "title": title,
            "description": share_description(job),
            "page_url": f"{state.settings.effective_public_base_url}/s/{token}",
        },
    )
