"""Pure ASGI middleware (BaseHTTPMiddleware would hide client disconnects from the routes)."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.errors import RequestTooLargeError
from common.observability.logs import log_context

MAX_BODY_BYTES = 64 * 1024


class BodyLimitMiddleware:
    """Refuse request bodies over the limit with 413.

    The check runs when the route reads the body, not before: authentication comes first,
    so a caller without a valid key learns nothing else.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if declared is not None and declared > self.max_bytes:
                raise _too_large(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _too_large(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large(limit: int) -> RequestTooLargeError:
    return RequestTooLargeError(f"The request body is over the {limit // 1024} KiB limit.")


REQUEST_ID_HEADER = "X-Request-Id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
access_log = logging.getLogger("musicgw.access")


# Path parameters that are secrets (share and sign-in tokens): their requests log the route.
_SECRET_PARAMS = frozenset({"token"})


class RequestIdMiddleware:
    """Give every request an id (the caller's X-Request-Id if sane, else a new one), put it in
    the log context, return it as X-Request-Id, and log one line when the answer starts.

    Every request is logged, /healthz and /metrics too: a probe that stops, or a scraper that
    hammers, shows in the log, and the line costs one record (less than the request itself).
    Uvicorn's own access log is off (see `musicgw serve`), so there is one line per request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        start = time.perf_counter()
        answered = False

        async def send_with_id(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
                if access_log.isEnabledFor(logging.INFO):
                    _log_request(scope, message["status"], time.perf_counter() - start)
            await send(message)

        with log_context(request_id=request_id):
            status = 499  # no answer started: the caller left first (nginx's code for it)
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                status = 500  # Starlette's outermost middleware answers it, outside this one
                raise
            finally:
                if not answered and access_log.isEnabledFor(logging.INFO):
                    _log_request(scope, status, time.perf_counter() - start)


def _log_request(scope: Scope, status: int, seconds: float) -> None:
    route = getattr(scope.get("route"), "path", scope["path"])
    secret = _SECRET_PARAMS.intersection(scope.get("path_params") or ())
    access_log.info(
        "http.request",
        extra={
            "method": scope["method"],
            "path": route if secret else scope["path"],
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
        },
    )
