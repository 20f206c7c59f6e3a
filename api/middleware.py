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


class RequestIdMiddleware:
    """Give every request an id (the caller's X-Request-Id if sane, else a new one), put it in
    the log context, return it as X-Request-Id, and log one line when the answer starts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
                access_log.info(
                    "http.request",
                    extra={
                        "method": scope["method"],
                        "route": getattr(scope.get("route"), "path", scope["path"]),
                        "status": message["status"],
                        "duration_ms": round((time.perf_counter() - start) * 1000, 1),
                    },
                )
            await send(message)

        with log_context(request_id=request_id):
            await self.app(scope, receive, send_with_id)
