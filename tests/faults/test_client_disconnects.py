"""100 callers hang up 2 s into 10 s jobs.

The callers never see a status line, let alone the X-Kyma-Job-Id header: the jobs are found
through the account's rows. Each must still finish, be charged once and be readable by id; the
API must let go of every waiter (and every connection) as soon as its caller is gone, long
before the jobs end, and keep one job-event subscription whatever the number of waiters.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis

from common.jobs.states import TERMINAL, JobStatus
from common.notify import CHANNEL
from tests.faults.harness import (
    Rows,
    figure,
    healthz_waiting,
    running,
    spawn_worker,
    tracks,
    verify_ledger,
    wait_for,
    wait_worker_ready,
)
from tests.fixtures.stack import Stack

CALLERS = 100
JOB_S = 10
HANG_UP_AFTER_S = 2.0
RELEASED_WITHIN_S = 3.0


@pytest.fixture
def stack(database: str, tmp_path: Path) -> Iterator[Stack]:
    env = {"OFFLINE_LATENCY_MS": str(JOB_S * 1000)}
    with running(Stack(tmp_path / "stack", database_url=database, workers=0, env=env)) as stack:
        spawn_worker(stack, "worker", concurrency=CALLERS)
        wait_worker_ready(stack, "worker")
        yield stack


class HangingUpCallers:
    """Callers that send their request, read nothing, and close the connection when told.

    A context manager: leaving the block hangs up whatever happened inside it, so a failed test
    leaves no thread waiting and no socket open.
    """

    def __init__(self, stack: Stack, key: str, bodies: list[dict[str, Any]]) -> None:
        self._port = stack.port
        self._requests = [_raw_post(stack, key, body) for body in bodies]
        self._sent = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._hang_up = asyncio.Event()
        self._thread = threading.Thread(
            target=self._loop.run_until_complete, args=(self._run(),), daemon=True
        )

    def __enter__(self) -> HangingUpCallers:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._sent.wait(0.1):
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.hang_up()
                raise AssertionError("the callers could not send their requests")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.hang_up()

    def hang_up(self) -> None:
        if self._loop.is_closed():
            return
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._hang_up.set)
            self._thread.join(30)
        self._loop.close()

    async def _run(self) -> None:
        writers = []
        try:
            for request in self._requests:
                _, writer = await asyncio.open_connection("127.0.0.1", self._port)
                writers.append(writer)
                writer.write(request)
                await writer.drain()
            self._sent.set()
            await self._hang_up.wait()
        finally:
            for writer in writers:
                writer.close()
            for writer in writers:
                await writer.wait_closed()


def _raw_post(stack: Stack, key: str, body: dict[str, Any]) -> bytes:
    payload = json.dumps(body).encode()
    head = (
        f"POST /v1/audio/music HTTP/1.1\r\nHost: 127.0.0.1:{stack.port}\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


def _subscribers(stack: Stack) -> int:
    with redis.Redis.from_url(stack.env["REDIS_URL"]) as client:
        return int(dict(client.pubsub_numsub(CHANNEL))[CHANNEL.encode()])


def _open_callers(stack: Stack) -> int:
    """Connections the API process holds from callers on its listening port."""
    api = psutil.Process(stack.processes["api"].pid)
    return sum(
        c.laddr.port == stack.port and c.status == psutil.CONN_ESTABLISHED
        for c in api.net_connections(kind="tcp")
    )


def test_jobs_outlive_their_callers(stack: Stack, rows: Rows) -> None:
    account_id, key = stack.account("20")
    subscribers = _subscribers(stack)
    started = time.monotonic()
    with HangingUpCallers(stack, key, tracks(CALLERS, tag="hung up")) as callers:

        def all_running() -> bool:
            found = list(rows.statuses(account_id).values())
            return found.count(JobStatus.RUNNING) == CALLERS

        wait_for(all_running, timeout=JOB_S - HANG_UP_AFTER_S, what=f"{CALLERS} running jobs")
        wait_for(lambda: healthz_waiting(stack) == CALLERS, timeout=5, what="every caller waiting")
        held_subscribers = _subscribers(stack)
        time.sleep(max(0.0, HANG_UP_AFTER_S - (time.monotonic() - started)))
        hung_up_at = time.monotonic()
        callers.hang_up()

    wait_for(lambda: healthz_waiting(stack) == 0, timeout=JOB_S, what="waiters released")
    released_s = time.monotonic() - hung_up_at
    ended_by_then = sum(s in TERMINAL for s in rows.statuses(account_id).values())
    wait_for(lambda: _open_callers(stack) == 0, timeout=5, what="caller connections closed")

    wait_for(lambda: rows.all_terminal(account_id, CALLERS), timeout=60, what="every job ended")
    figure(
        disconnect_waiters_released_s=round(released_s, 2),
        hung_up_after_s=round(hung_up_at - started, 2),
        jobs_ended_at_release=ended_by_then,
        subscribers=f"{subscribers}/{held_subscribers}/{_subscribers(stack)}",
    )
    assert released_s <= RELEASED_WITHIN_S and ended_by_then == 0
    assert subscribers == held_subscribers == _subscribers(stack)

    jobs = rows.jobs(account_id)
    assert {j.status for j in jobs} == {JobStatus.SUCCEEDED}
    with stack.client(key) as client:
        for job in jobs:
            r = client.get(f"/v1/jobs/{job.id}")
            assert r.status_code == 200, r.text
            body = r.json()
            assert (body["status"], body["charged_usd"]) == ("succeeded", body["cost_usd"])
            audio = client.get(f"/v1/jobs/{job.id}/audio")
            assert audio.status_code == 200 and audio.content
    assert rows.captured(account_id) == sorted(j.id for j in jobs)
    assert {h.state for h in rows.holds(account_id)} == {"captured"}
    assert stack.balance(account_id) == "6.5"  # $20 less 100 one-second tracks at $0.135
    assert healthz_waiting(stack) == 0
    verify_ledger(stack)
