"""The FastAPI application: create_app, its lifespan, and the one error handler."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
import redis
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from api import metrics as metrics_routes
from api.db import in_transaction
from api.deps import AppState
from api.embedded import EmbeddedWorker
from api.metrics import MetricsMiddleware
from api.middleware import BodyLimitMiddleware, RequestIdMiddleware
from api.openapi import document_api
from api.pages import gallery as gallery_pages
from api.pages import share as share_pages
from api.routes import blobs, gallery, health, jobs, music, share
from api.waiters import JobWaiters
from common.account.limits import RequestRateLimiter
from common.config import Settings, get_settings
from common.db import create_db_engine, create_session_factory, warm_up
from common.errors import (
    AppError,
    HttpError,
    InvalidRequestError,
    NotFoundError,
    ServiceUnavailableError,
)
from common.jobs.runner import JobContext
from common.jobs.waiting import find_terminal
from common.notify import build_notifier
from common.providers.registry import build_provider_limiter, build_providers
from common.storage.registry import build_store

log = logging.getLogger(__name__)

DESCRIPTION = """\
Send a text prompt (and, for MiniMax SKUs, lyrics) and get back a finished music track,
paid from a prepaid balance. Authenticate with `Authorization: Bearer <api key>`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # /docs and /redoc load Swagger UI and ReDoc from the app itself, not a CDN: they work offline.
    app = FastAPIOffline(
        title="Music gateway",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=_lifespan(settings),
        # Metrics are Prometheus and logs are JSON lines (docs/operations.md): FastAPI's own
        # OpenTelemetry hooks would only ask, on every request, whether a provider was set up.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # Starlette's own trailing-slash redirect points at whatever Host the caller sent;
        # _http_error redirects from PUBLIC_BASE_URL instead.
        redirect_slashes=False,
    )
    app.state.public_base_url = settings.effective_public_base_url
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(music.router)
    app.include_router(jobs.router)
    app.include_router(share.router)
    app.include_router(gallery.router)
    app.include_router(health.router)
    app.include_router(blobs.router)
    app.include_router(metrics_routes.router)
    app.include_router(gallery_pages.router)
    app.include_router(share_pages.router)
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # A dependency that is down (Postgres restarting, Redis stopped) is a 503 to retry, never a
    # traceback.
    app.add_exception_handler(sqlalchemy.exc.OperationalError, _dependency_down)
    app.add_exception_handler(sqlalchemy.exc.InterfaceError, _dependency_down)
    app.add_exception_handler(redis.RedisError, _dependency_down)
    # A caller that went away (or was cut off for sending too slowly) mid-body: no one is left
    # to answer, and nothing was held.
    app.add_exception_handler(ClientDisconnect, _client_gone)
    document_api(app)
    return app


def _lifespan(settings: Settings):  # type: ignore[no-untyped-def]
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from worker.app import celery_app

        engine = create_db_engine(settings)
        sessions = create_session_factory(engine)
        await anyio.to_thread.run_sync(warm_up, sessions)
        store = build_store(settings)
        anyio.to_thread.current_default_thread_limiter().total_tokens = (
            settings.effective_api_threads
        )

        async def terminal(job_ids: list[str]) -> list[str]:
            return await in_transaction(sessions, find_terminal, job_ids=job_ids)

        waiters = JobWaiters(
            redis_url=settings.redis_url,
            poll_interval_s=settings.wait_poll_interval_s,
            find_terminal=terminal,
        )
        await waiters.start()
        limiter = RequestRateLimiter(
            settings.redis_url,
            settings.rate_limit_per_key,
            reads=settings.rate_limit_reads_per_key,
        )
        app.state.gateway = AppState(settings, sessions, store, celery_app, waiters, limiter)
        embedded = (
            _start_embedded(settings, sessions, store, celery_app) if settings.embedded else None
        )
        try:
            yield
        finally:
            if embedded is not None:
                embedded.stop()
            await waiters.stop()
            if close := getattr(store, "close", None):
                close()
            engine.dispose()

    return lifespan


def _start_embedded(settings, sessions, store, celery_app):  # type: ignore[no-untyped-def]
    from worker.context import set_context

    context = JobContext(
        settings=settings,
        sessions=sessions,
        store=store,
        providers=build_providers(settings),
        notifier=build_notifier(""),
        limiter=build_provider_limiter(settings),
    )
    set_context(context)
    worker = EmbeddedWorker(celery_app, context)
    worker.start()
    return worker


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return JSONResponse(exc.to_body(), status_code=exc.status, headers=exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors: list[dict[str, Any]] = list(exc.errors())
    first = errors[0] if errors else {}
    param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
    error = InvalidRequestError(first.get("msg", "Invalid request."), param=param)
    return JSONResponse(error.to_body(), status_code=400)


def _without_trailing_slash(request: Request) -> str | None:
    """The public URL of the route `request` names but for a trailing slash, if one exists."""
    path = request.url.path
    if request.method not in ("GET", "HEAD") or path == "/" or not path.endswith("/"):
        return None
    scope = dict(request.scope) | {"path": path.rstrip("/")}
    if not any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
        return None
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{request.app.state.public_base_url}{path.rstrip('/')}{query}"


async def _client_gone(request: Request, exc: Exception) -> Response:
    log.info("client went away before its request body arrived: %s", request.url.path)
    return Response(status_code=499)


async def _dependency_down(_: Request, exc: Exception) -> JSONResponse:
    log.warning("dependency unavailable: %s", type(exc).__name__)
    error = ServiceUnavailableError("A dependency of the gateway is unavailable; retry shortly.")
    return JSONResponse(error.to_body(), status_code=503, headers={"Retry-After": "5"})


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (unknown route, wrong method) in the same envelope; a GET of a
    known route with a trailing slash is redirected to it, on the gateway's public base."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404 and (target := _without_trailing_slash(request)) is not None:
        return RedirectResponse(target, status_code=307)
    if exc.status_code == 404:
        error: AppError = NotFoundError(f"No route {request.method} {request.url.path}.")
    else:
        error = HttpError(str(exc.detail), status=exc.status_code)
    return JSONResponse(error.to_body(), status_code=exc.status_code, headers=exc.headers)
