"""The HTTP protocol `musicgw serve` runs: uvicorn's httptools protocol with read deadlines.

uvicorn times out only the idle gap after a response (`timeout_keep_alive`, cancelled by the
first byte that arrives). A connection that sends nothing, half a request head, or half of a
declared body is otherwise held for ever, and ASGI middleware cannot help with the head: it
runs only once the head is parsed. So the deadlines live here, in the protocol:

- head: from accept (or from the first byte after a response) until the head is complete,
  HTTP_HEADER_TIMEOUT_S;
- body: from the end of the head until the body is complete, HTTP_BODY_TIMEOUT_S.

Both are absolute, so a client trickling a byte at a time gains nothing. They measure the
client only: while uvicorn itself has stopped reading (a pipelined request waiting its turn,
a body the route has not read yet) the deadline is pushed back, and once a request is whole
no deadline runs at all, so a caller held for minutes or an open event stream is unaffected.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from common.config import get_settings

logger = logging.getLogger("musicgw.server")

REQUEST_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 15\r\n"
    b"connection: close\r\n"
    b"\r\n"
    b"Request Timeout"
)


class DeadlineProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that closes a connection whose request head or body is late."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        settings = get_settings()
        self.header_timeout_s = settings.http_header_timeout_s
        self.body_timeout_s = settings.http_body_timeout_s
        self.deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout_s, "head")

    def data_received(self, data: bytes) -> None:
        # The first byte of a request (or stray bytes between requests) starts the head's clock;
        # uvicorn's keep-alive timer, which the same byte cancels, stops here.
        if self.deadline is None:
            self._arm(self.header_timeout_s, "head")
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()
        self._arm(self.body_timeout_s, "body")

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._disarm()
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, timeout_s: float, part: str) -> None:
        self._disarm()
        self.deadline = self.loop.call_later(timeout_s, self._expire, timeout_s, part)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _expire(self, timeout_s: float, part: str) -> None:
        self.deadline = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused:
            # uvicorn stopped reading, not the client: its time starts again when reading does.
            self._arm(timeout_s, part)
            return
        logger.warning(
            "request %s not received within %ss; connection closed",
            part,
            timeout_s,
            extra={"client": f"{self.client[0]}:{self.client[1]}" if self.client else None},
        )
        # A 408 only where no response has begun: bytes of one would be corrupted by it.
        if self.cycle is None or not self.cycle.response_started or self.cycle.response_complete:
            self.transport.write(REQUEST_TIMEOUT_RESPONSE)
        self.transport.close()


def raise_open_file_limit(needed: int) -> None:
    """Lift the soft limit on open files to the hard one, as Go and nginx do at start-up.

    Every connection is a file descriptor, and a soft limit of 1,024 (common in containers)
    would run out long before the concurrency ceiling is reached.
    """
    try:
        import resource
    except ImportError:  # not on POSIX: nothing to lift
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft != resource.RLIM_INFINITY and soft < needed:
        logger.warning(
            "open-file limit %d is below the %d this process may need; raise `ulimit -n`",
            soft,
            needed,
        )
