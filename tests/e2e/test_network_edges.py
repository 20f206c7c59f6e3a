"""The network edges of `musicgw serve`: slow and idle clients are closed, and beyond its
ceiling a process answers 503 instead of running out of file descriptors.

Each test starts the embedded default with production settings except the one knob it is
about, shortened so the test is quick (the row is that the timeout exists). The slow clients
are raw sockets on loopback.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from tests.fixtures.stack import Stack

SHORT_S = 2.0
# How long past its deadline a connection may stay open: the server's timer plus scheduling.
SLACK_S = 3.0


@contextmanager
def running(tmp_path: Path, **env: str) -> Iterator[Stack]:
    stack = Stack(tmp_path, embedded=True, env=env).start()
    try:
        yield stack
    finally:
        stack.stop()


@contextmanager
def connect(stack: Stack) -> Iterator[socket.socket]:
    with socket.create_connection(("127.0.0.1", stack.port), timeout=5) as sock:
        yield sock


def read_until_closed(sock: socket.socket, *, since: float, within_s: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long after `since`
    (a time.monotonic()) that was; fails if it is still open `within_s` after `since`."""
    received = b""
    while (left := since + within_s - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return received, time.monotonic() - since
        if not chunk:
            return received, time.monotonic() - since
        received += chunk
    pytest.fail(f"still open after {within_s} s; received {received[:200]!r}")


def read_response(sock: socket.socket) -> bytes:
    """One whole response with a Content-Length, leaving the connection open."""
    sock.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536) or pytest.fail(f"closed mid-head: {data!r}")
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536) or pytest.fail("closed mid-body")
    return head


def healthz(stack: Stack) -> int:
    return httpx.get(f"{stack.base_url}/healthz", timeout=5).status_code


def test_an_idle_keep_alive_connection_is_closed(tmp_path: Path) -> None:
    with (
        running(tmp_path, HTTP_KEEPALIVE_TIMEOUT_S=str(int(SHORT_S))) as stack,
        connect(stack) as sock,
    ):
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
        assert read_response(sock).startswith(b"HTTP/1.1 200")
        idle_from = time.monotonic()

        rest, after_s = read_until_closed(sock, since=idle_from, within_s=SHORT_S + SLACK_S)

    assert rest == b""
    assert after_s >= SHORT_S - 0.5, "closed before the keep-alive timeout"


def test_a_connection_that_stalls_in_its_request_head_is_closed(tmp_path: Path) -> None:
    with running(tmp_path, HTTP_HEADER_TIMEOUT_S=str(SHORT_S)) as stack, ExitStack() as sockets:
        connected = time.monotonic()
        silent = sockets.enter_context(connect(stack))
        half_head = sockets.enter_context(connect(stack))
        half_head.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nAccept: */")

        assert healthz(stack) == 200
        for sock in (silent, half_head):
            answer, after_s = read_until_closed(sock, since=connected, within_s=SHORT_S + SLACK_S)
            assert answer.startswith(b"HTTP/1.1 408 "), answer
            assert after_s >= SHORT_S - 0.5, "closed before the header timeout"
        assert healthz(stack) == 200


def test_a_request_that_stalls_in_its_body_is_closed(tmp_path: Path) -> None:
    with running(tmp_path, HTTP_BODY_TIMEOUT_S=str(SHORT_S)) as stack, connect(stack) as sock:
        _, key = stack.account("10")
        body = b'{"prompt": "rain on glass", "music_length_ms": 10000}'
        sent = time.monotonic()
        sock.sendall(
            b"POST /v1/audio/music HTTP/1.1\r\nHost: gateway\r\n"
            b"Authorization: Bearer " + key.encode() + b"\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[: len(body) // 2]
        )

        assert healthz(stack) == 200
        answer, after_s = read_until_closed(sock, since=sent, within_s=SHORT_S + SLACK_S)
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert after_s >= SHORT_S - 0.5, "closed before the body timeout"
        assert healthz(stack) == 200
        # The route saw its caller go: a line of its own, not an error with a traceback.
        assert "Traceback" not in stack.log("api")


def test_a_caller_held_open_outlives_the_read_deadlines(tmp_path: Path) -> None:
    # The deadlines end when the request is whole: a generation (here the offline provider
    # made slower than both) may keep its caller waiting far longer.
    with running(
        tmp_path,
        HTTP_HEADER_TIMEOUT_S=str(SHORT_S),
        HTTP_BODY_TIMEOUT_S=str(SHORT_S),
        OFFLINE_LATENCY_MS=str(int(SHORT_S * 2500)),
    ) as stack:
        _, key = stack.account("10")
        started = time.monotonic()
        with stack.client(key, timeout=60) as client:
            r = client.post("/v1/audio/music", json={"prompt": "rain", "music_length_ms": 10000})
        assert r.status_code == 200, r.text
        assert time.monotonic() - started > SHORT_S * 2


def test_beyond_the_concurrency_ceiling_the_answer_is_503(tmp_path: Path) -> None:
    ceiling = 5
    with running(tmp_path, HTTP_MAX_CONCURRENCY=str(ceiling)) as stack:
        with ExitStack() as sockets:
            started = time.monotonic()
            for _ in range(ceiling):
                sockets.enter_context(connect(stack)).sendall(b"GET /healthz HTTP/1.1\r\n")
            with connect(stack) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
                assert read_response(sock).startswith(b"HTTP/1.1 503 ")
            # The slow connections were still held (well inside the production header timeout).
            assert time.monotonic() - started < 5

        # Once they go, the process answers again (it notices the closes on its next turn).
        deadline = time.monotonic() + 10
        while healthz(stack) != 200:
            assert time.monotonic() < deadline, "still 503 after the slow connections closed"
            time.sleep(0.1)
