"""Loopback HTTP servers for the provider fakes: request records, counters and failure switches.

A fake runs a `ThreadingHTTPServer` on 127.0.0.1 in a background thread (optionally behind TLS)
and answers each request through `respond()`, which a subclass implements. Before that, the
base class may replace the answer with a failure, picked per request in this order:

    fail_next(kind, times)   a queue, consumed first
    failure                  sticky, until set back to None
    failure_mix              {kind: probability}, drawn from a seeded random.Random

Generic kinds (every fake):

    hang        read the request, never answer (until the client closes or the server stops)
    slow_body   status, headers and Content-Length at once, then the body a few bytes at a time
    truncated   a success whose audio is cut to about half (still decodable)
    corrupt     a success whose audio bytes are random
    reset       read the request, then close with SO_LINGER 0 (the client sees a reset)
    500 502 503 a plain upstream failure page

A subclass adds its own kinds in `error_kinds` and turns them into error bodies in `respond()`.
"""

from __future__ import annotations

import contextlib
import json
import random
import select
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

GENERIC_KINDS = frozenset(
    {"hang", "slow_body", "truncated", "corrupt", "reset", "500", "502", "503"}
)
_PLAIN_FAILURES = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
# Bodies at least this big go out as several chunks on chunked routes.
_CHUNK_BYTES = 16 * 1024
# How often blocked loops (hang, slow body, latency) look at the stop flag.
_POLL_S = 0.05


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any | None


@dataclass
class Reply:
    """What a fake answers: status, headers, body; `chunked` sends it with chunked encoding."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False


def json_reply(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Reply:
    """A JSON answer with the given status."""
    body = json.dumps(payload).encode()
    return Reply(status, body, {"Content-Type": "application/json", **(headers or {})})


def plain_failure(status: int) -> Reply:
    """The kind of page a load balancer in front of an API returns: HTML, not the API's JSON."""
    title = f"{status} {_PLAIN_FAILURES.get(status, 'Error')}"
    page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>\n"
    return Reply(status, page.encode(), {"Content-Type": "text/html"})


class FakeServer:
    """Base of the provider fakes: a threaded loopback HTTP(S) server with failure switches."""

    # Failure kinds a subclass understands on top of GENERIC_KINDS.
    error_kinds: frozenset[str] = frozenset()

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, seed: int = 0) -> None:
        self._ssl_context = ssl_context
        self._seed = seed
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._records: list[RecordedRequest] = []
        self._queue: deque[str] = deque()
        self._in_flight = 0
        self._max_in_flight = 0
        self._failure: str | None = None
        self._failure_mix: dict[str, float] = {}
        self.rng = random.Random(seed)
        self.latency_s = 0.0
        # slow_body sends this many bytes every interval (16 bytes/s by default).
        self.slow_body_bytes = 8
        self.slow_body_interval_s = 0.5
        # Tracebacks of exceptions raised by the fake itself (a bug in a fake, not a client).
        self.errors: list[str] = []
        self.reset()

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Listen on a free loopback port and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": _POLL_S},
            name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake every blocked handler, close every socket and join the threads."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the fake is not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    # --- records and counters --------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received since the last reset, oldest first (a copy)."""
        with self._lock:
            return list(self._records)

    @property
    def last_request(self) -> RecordedRequest:
        with self._lock:
            return self._records[-1]

    @property
    def in_flight(self) -> int:
        """Requests being handled right now (including ones waiting out latency or hanging)."""
        with self._lock:
            return self._in_flight

    @property
    def max_in_flight(self) -> int:
        """The most requests handled at the same time since the last reset."""
        with self._lock:
            return self._max_in_flight

    # --- switches ---------------------------------------------------------------------------

    @property
    def kinds(self) -> frozenset[str]:
        """Every failure kind this fake accepts."""
        return GENERIC_KINDS | self.error_kinds

    @property
    def failure(self) -> str | None:
        """A failure applied to every request until set back to None."""
        return self._failure

    @failure.setter
    def failure(self, kind: str | None) -> None:
        if kind is not None:
            self._check_kind(kind)
        self._failure = kind

    @property
    def failure_mix(self) -> dict[str, float]:
        """{kind: probability} drawn per request from `random.Random(seed)`."""
        return self._failure_mix

    @failure_mix.setter
    def failure_mix(self, mix: Mapping[str, float]) -> None:
        for kind in mix:
            self._check_kind(kind)
        if sum(mix.values()) > 1.0:
            raise ValueError("failure_mix probabilities add up to more than 1")
        with self._lock:
            self._failure_mix = dict(mix)

    def fail_next(self, kind: str, times: int = 1) -> None:
        """Answer the next `times` requests with `kind` (before `failure` and `failure_mix`)."""
        self._check_kind(kind)
        with self._lock:
            self._queue.extend([kind] * times)

    def reset(self) -> None:
        """Forget records and counters and put every switch back to its default."""
        with self._lock:
            self._records.clear()
            self._queue.clear()
            self._max_in_flight = self._in_flight
            self._failure_mix = {}
            self._failure = None
            self.rng = random.Random(self._seed)
        self.latency_s = 0.0
        self.slow_body_bytes = 8
        self.slow_body_interval_s = 0.5
        self.reset_switches()

    def reset_switches(self) -> None:
        """Subclass hook: put the subclass's own switches back to their defaults."""

    # --- what a subclass implements ---------------------------------------------------------

    def respond(self, request: RecordedRequest, failure: str | None) -> Reply:
        """The answer to `request`. `failure` is None, "truncated", "corrupt", "slow_body" (the
        base class slows the delivery) or one of `error_kinds`."""
        raise NotImplementedError

    def admit(self, request: RecordedRequest) -> Reply | None:
        """Subclass hook run before latency and failures: a Reply refuses the request at once."""
        return None

    def release(self, request: RecordedRequest) -> None:
        """Subclass hook: the admitted `request` is finished."""

    # --- internals ---------------------------------------------------------------------------

    def _check_kind(self, kind: str) -> None:
        # A misspelt kind would silently mean "no failure" and a test that cannot fail.
        if kind not in self.kinds:
            raise ValueError(f"{type(self).__name__} has no failure kind {kind!r}")

    def _take_failure(self) -> str | None:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            if self._failure is not None:
                return self._failure
            if self._failure_mix:
                draw, total = self.rng.random(), 0.0
                for kind, probability in self._failure_mix.items():
                    total += probability
                    if draw < total:
                        return kind
        return None

    def _serve(self, handler: _Handler, request: RecordedRequest) -> None:
        with self._lock:
            self._records.append(request)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            refusal = self.admit(request)
            if refusal is not None:
                self._send(handler, refusal, slow=False)
                return
            try:
                self._process(handler, request)
            finally:
                self.release(request)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _process(self, handler: _Handler, request: RecordedRequest) -> None:
        failure = self._take_failure()
        if self.latency_s and self._stopping.wait(self.latency_s):
            handler.close_connection = True
            return
        if failure == "hang":
            self._hang(handler)
        elif failure == "reset":
            self._reset(handler)
        elif failure is not None and failure.isdigit() and int(failure) in _PLAIN_FAILURES:
            self._send(handler, plain_failure(int(failure)), slow=False)
        else:
            self._send(handler, self.respond(request, failure), slow=failure == "slow_body")

    def _send(self, handler: _Handler, reply: Reply, *, slow: bool) -> None:
        handler.send_response(reply.status)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        if reply.chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.send_header("Content-Length", str(len(reply.body)))
        handler.end_headers()
        if handler.command == "HEAD":
            return
        step = self.slow_body_bytes if slow else _CHUNK_BYTES
        try:
            for start in range(0, len(reply.body), step):
                if slow and start and self._stopping.wait(self.slow_body_interval_s):
                    handler.close_connection = True
                    return
                piece = reply.body[start : start + step]
                if reply.chunked:
                    piece = b"%x\r\n%s\r\n" % (len(piece), piece)
                handler.wfile.write(piece)
            if reply.chunked:
                handler.wfile.write(b"0\r\n\r\n")
        except OSError:
            # The client went away mid-body; nothing more to say on this connection.
            handler.close_connection = True

    def _hang(self, handler: _Handler) -> None:
        handler.close_connection = True
        conn = handler.connection
        while not self._stopping.is_set():
            try:
                readable, _, _ = select.select([conn], [], [], _POLL_S)
                if readable and not conn.recv(4096):
                    return
            except (OSError, ValueError):
                return

    def _reset(self, handler: _Handler) -> None:
        handler.close_connection = True
        conn = handler.connection
        # Linger 0 makes close() send RST instead of FIN. The reader holds a reference to the
        # socket, so it is closed first or close() would not release the descriptor.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.rfile.close()
        conn.close()

    def _record_error(self) -> None:
        self.errors.append(traceback.format_exc())


class _HTTPServer(ThreadingHTTPServer):
    # Daemon threads never keep the interpreter alive; stop() joins them all the same.
    daemon_threads = True
    block_on_close = True
    # Many workers may connect at once; the default backlog of 5 would drop SYNs (1 s retries).
    request_queue_size = 128

    def __init__(self, fake: FakeServer) -> None:
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would call getfqdn(), a reverse DNS lookup that can stall.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        self._track(request)
        super().process_request(request, client_address)

    def finish_request(self, request: Any, client_address: Any) -> None:
        context = self.fake._ssl_context
        if context is None:
            super().finish_request(request, client_address)
            return
        # The handshake happens here, in the connection's thread, so a slow client cannot stall
        # the accept loop.
        request.settimeout(10)
        try:
            tls = context.wrap_socket(request, server_side=True)
        except OSError:
            return
        self._untrack(request)
        self._track(tls)
        try:
            if not self.fake._stopping.is_set():
                super().finish_request(tls, client_address)
        finally:
            self._untrack(tls)
            tls.close()

    def shutdown_request(self, request: Any) -> None:
        self._untrack(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # a client that hung up or reset: normal for these tests
        self.fake._record_error()
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Shut every open connection so handlers blocked on a keep-alive read return."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def _track(self, conn: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(conn)

    def _untrack(self, conn: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(conn)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-provider"
    # Idle keep-alive connections are dropped after this, as a backstop to stop().
    timeout = 60
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _dispatch(self) -> None:
        body = self._read_body()
        if body is None:
            self.send_error(400, "unreadable request body")
            self.close_connection = True
            return
        url = urlsplit(self.path)
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = None
        request = RecordedRequest(
            method=self.command,
            path=url.path,
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            json=payload,
        )
        self.server.fake._serve(self, request)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _dispatch

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes | None:
        parts: list[bytes] = []
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                return None
            if size == 0:
                # Trailers, if any, end with an empty line.
                while self.rfile.readline(1024).strip():
                    pass
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)


class TcpCanary:
    """A loopback listener that only counts the connections made to it (and closes them).

    Point a URL at it to prove a client never connects somewhere it must not.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._connections = 0

    def start(self) -> Self:
        if self._sock is not None:
            return self
        self._stopping.clear()
        self._sock = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._sock.settimeout(_POLL_S)
        self._thread = threading.Thread(target=self._run, name="TcpCanary", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        sock, thread = self._sock, self._thread
        if sock is None or thread is None:
            return
        self._stopping.set()
        thread.join()
        sock.close()
        self._sock = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._sock is None:
            raise RuntimeError("the canary is not started")
        return int(self._sock.getsockname()[1])

    @property
    def connections(self) -> int:
        """Connections accepted so far."""
        with self._lock:
            return self._connections

    def wait_for_connections(self, count: int, timeout_s: float = 5.0) -> bool:
        """True once `count` connections were accepted; False after `timeout_s`.

        A client's connect() succeeds before the listener accepts, so tests wait for the count.
        """
        deadline = time.monotonic() + timeout_s
        while self.connections < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def _run(self) -> None:
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn, self._lock:
                self._connections += 1
