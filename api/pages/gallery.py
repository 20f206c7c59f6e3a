"""The gallery pages: sign in (API key or one-time link), the saved tracks, share and delete."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from api.db import in_transaction
from api.deps import AppState, get_state
from api.pages.forms import LOGIN_CSRF_COOKIE, SESSION_COOKIE, check_csrf, read_form
from api.pages.render import mp3_download, page, png
from common.account import sessions
from common.account.service import authenticate
from common.errors import AuthError
from common.gallery.service import (
    delete_track,
    get_saved,
    read_waveform,
    view_gallery,
)
from common.models import Job
from common.share.owner import share_own_job, unshare_own_job

router = APIRouter(include_in_schema=False)


async def _browser(request: Request, state: AppState) -> sessions.BrowserSession | None:
    token = request.cookies.get(SESSION_COOKIE)
    return await in_transaction(state.sessions, sessions.resolve_session, token=token)


def _to_login() -> RedirectResponse:
    return RedirectResponse("/gallery/login", status_code=303)


@router.get("/gallery")
async def gallery(
    request: Request, cursor: str | None = None, state: AppState = Depends(get_state)
) -> Response:
    browser = await _browser(request, state)
    if browser is None:
        return _to_login()
    return await _render_gallery(request, state, browser, cursor=cursor)


async def _render_gallery(
    request: Request,
    state: AppState,
    browser: sessions.BrowserSession,
    *,
    cursor: str | None = None,
    new_link: tuple[str, str] | None = None,
) -> Response:
    view = await in_transaction(
        state.sessions, view_gallery, account_id=browser.account_id, cursor=cursor
    )
    return page(
        request,
        "gallery.html",
        {
            "jobs": view.page.jobs,
            "shared": view.page.shared,
            "next_cursor": view.page.next_cursor,
            "older": cursor is not None,
            "balance_micro_usd": view.balance_micro_usd,
            "csrf_token": browser.csrf_token,
            "new_link": new_link,
            "deleted": request.query_params.get("deleted") == "1",
        },
    )


@router.get("/gallery/login")
async def login_form(request: Request) -> Response:
    return _login_page(request, action="/gallery/login")


@router.get("/gallery/login/{token}")
async def login_link_form(
    request: Request, token: str, state: AppState = Depends(get_state)
) -> Response:
    # A GET never signs in: link previewers and scanners must not use up the link.
    link = await in_transaction(state.sessions, sessions.login_link_state, token=token)
    if link != "live":
        return _dead_link_page(request, link)
    return _login_page(request, action=f"/gallery/login/{token}", link=True)


def _dead_link_page(request: Request, link: str) -> Response:
    """A used or expired link says so, and offers nothing that could only fail."""
    return page(request, "link_used.html", {"used": link == "used"}, status=410)


def _login_page(
    request: Request,
    *,
    action: str,
    link: bool = False,
    error: str | None = None,
    status: int = 200,
) -> Response:
    csrf = secrets.token_urlsafe(32)
    response = page(
        request,
        "login.html",
        {"csrf_token": csrf, "action": action, "link": link, "error": error},
        status=status,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        csrf,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/gallery",
    )
    return response


@router.post("/gallery/login")
async def login(request: Request, state: AppState = Depends(get_state)) -> Response:
    form = await read_form(request)
    check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE), form)
    try:
        principal = await in_transaction(
            state.sessions, authenticate, authorization=f"Bearer {form.get('api_key', '').strip()}"
        )
    except AuthError as exc:
        return _login_page(request, action="/gallery/login", error=exc.message, status=401)
    return await _signed_in(request, state, principal.account_id, principal.api_key_id)


@router.post("/gallery/login/{token}")
async def login_with_link(
    request: Request, token: str, state: AppState = Depends(get_state)
) -> Response:
    form = await read_form(request)
    check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE), form)
    try:
        account_id = await in_transaction(state.sessions, sessions.consume_login_link, token=token)
    except AuthError:
        # Used in another tab (or expired) since its page was shown.
        link = await in_transaction(state.sessions, sessions.login_link_state, token=token)
        return _dead_link_page(request, link)
    return await _signed_in(request, state, account_id)


async def _signed_in(
    request: Request, state: AppState, account_id: str, api_key_id: str | None = None
) -> Response:
    token, _ = await in_transaction(
        state.sessions, sessions.start_session, account_id=account_id, api_key_id=api_key_id
    )
    response = RedirectResponse("/gallery", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
        max_age=int(sessions.SESSION_TTL.total_seconds()),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/gallery")
    return response


@router.post("/gallery/logout")
async def logout(request: Request, state: AppState = Depends(get_state)) -> Response:
    if await _form_of_signed_in(request, state) is not None:
        await in_transaction(
            state.sessions, sessions.end_session, token=request.cookies[SESSION_COOKIE]
        )
    response = _to_login()
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def _form_of_signed_in(request: Request, state: AppState) -> sessions.BrowserSession | None:
    """The session behind a state-changing form, its CSRF token checked; None if signed out."""
    browser = await _browser(request, state)
    if browser is not None:
        check_csrf(browser.csrf_token, await read_form(request))
    return browser


@router.post("/gallery/tracks/{job_id}/share")
async def share_track(
    request: Request, job_id: str, state: AppState = Depends(get_state)
) -> Response:
    browser = await _form_of_signed_in(request, state)
    if browser is None:
        return _to_login()
    token = await in_transaction(
        state.sessions, share_own_job, job_id=job_id, account_id=browser.account_id
    )
    link = f"{state.settings.effective_public_base_url}/s/{token}"
    return await _render_gallery(request, state, browser, new_link=(job_id, link))


@router.post("/gallery/tracks/{job_id}/unshare")
async def unshare_track(
    request: Request, job_id: str, state: AppState = Depends(get_state)
) -> Response:
    browser = await _form_of_signed_in(request, state)
    if browser is None:
        return _to_login()
    await in_transaction(
        state.sessions, unshare_own_job, job_id=job_id, account_id=browser.account_id
    )
    return RedirectResponse("/gallery", status_code=303)


@router.post("/gallery/tracks/{job_id}/delete")
async def delete_saved_track(
    request: Request, job_id: str, state: AppState = Depends(get_state)
) -> Response:
    browser = await _form_of_signed_in(request, state)
    if browser is None:
        return _to_login()
    await in_transaction(
        state.sessions,
        delete_track,
        store=state.store,
        job_id=job_id,
        account_id=browser.account_id,
    )
    return RedirectResponse("/gallery?deleted=1", status_code=303)


async def _own_saved_track(request: Request, state: AppState, job_id: str) -> Job | None:
    """The signed-in account's saved track (NotFound for anyone else's); None if signed out."""
    browser = await _browser(request, state)
    if browser is None:
        return None
    return await in_transaction(
        state.sessions, get_saved, job_id=job_id, account_id=browser.account_id
    )


@router.get("/gallery/tracks/{job_id}/waveform.png")
async def track_waveform(
    request: Request, job_id: str, state: AppState = Depends(get_state)
) -> Response:
    job = await _own_saved_track(request, state, job_id)
    if job is None:
        return _to_login()
    data = await run_in_threadpool(read_waveform, state.store, audio_key=job.blob_key or "")
    return png(data, cache_control="private, max-age=86400")


@router.get("/gallery/tracks/{job_id}/download")
async def track_download(
    request: Request, job_id: str, state: AppState = Depends(get_state)
) -> Response:
    job = await _own_saved_track(request, state, job_id)
    if job is None:
        return _to_login()
    return await mp3_download(state.store, job)
