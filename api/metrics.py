"""Request metrics as pure ASGI middleware, and the /metrics endpoint."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.db import in_transaction
from api.deps import AppState, get_state
from common.models import Hold
from common.observability.metrics import (
    ACTIVE_HOLDS,
    HTTP_LATENCY,
    HTTP_REQUESTS,
    WAITING_CALLERS,
)

router = APIRouter(include_in_schema=False)


class MetricsMiddleware:
    """Counts and times every request by its route template (never the raw path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                route = getattr(scope.get("route"), "path", "unmatched")
                HTTP_LATENCY.labels(scope["method"], route).observe(time.perf_counter() - start)
                HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            await send(message)

        await self.app(scope, receive, timed_send)


def _active_holds(session: Session) -> int:
    return int(session.scalar(select(func.count()).where(Hold.state == "active")) or 0)


@router.get("/metrics")
async def metrics(state: AppState = Depends(get_state)) -> Response:
    WAITING_CALLERS.set(state.waiters.waiting)
    ACTIVE_HOLDS.set(await in_transaction(state.sessions, _active_holds))
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
