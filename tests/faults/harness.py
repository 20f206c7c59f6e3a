"""What the fault tests share: stacks started and stopped safely, bursts of callers held open
while something breaks, reads of the money tables, polling with deadlines, and the figures."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import redis
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from common.jobs.states import TERMINAL, JobStatus
from common.models import Hold, Job, LedgerEntry
from tests.fixtures.stack import Stack

T = TypeVar("T")

# Celery's queue (worker/app.py) and kombu's bookkeeping of delivered, unacknowledged messages.
QUEUE_KEY = "music"
UNACKED_KEY = "unacked"


@contextlib.contextmanager
def running(stack: Stack) -> Iterator[Stack]:
    """Start the stack's processes and stop them whatever happens (a failed start included)."""
    try:
        yield stack.start()
    finally:
        stop(stack)


def stop(stack: Stack) -> None:
    """Stack.stop, but a process that ignores SIGTERM is killed *and reaped*.

    A worker still retrying a settle after a fault can outlast the grace period; Stack.stop
    then kills it without waiting, and the unreaped child is a ResourceWarning (an error here).
    """
    for process in stack.processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for name in list(stack.processes):
        process = stack.processes.pop(name)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


class Rows:
    """Reads of the job, hold and ledger tables, each on a fresh connection.

    No pool: a connection never outlives a query, so a Postgres restart leaves nothing stale.
    """

    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(
            database_url.replace("postgresql://", "postgresql+psycopg://"), poolclass=NullPool
        )

    def close(self) -> None:
        self.engine.dispose()

    def fetch(self, stmt: Any) -> list[Any]:
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.scalars(stmt).all())

    def jobs(self, account_id: str) -> list[Job]:
        return self.fetch(select(Job).where(Job.account_id == account_id).order_by(Job.created_at))

    def holds(self, account_id: str) -> list[Hold]:
        return self.fetch(select(Hold).where(Hold.account_id == account_id))

    def captures(self, account_id: str) -> list[LedgerEntry]:
        return self.fetch(
            select(LedgerEntry).where(
                LedgerEntry.account_id == account_id, LedgerEntry.kind == "capture"
            )
        )

    def captured(self, account_id: str) -> list[str]:
        """The job id of every capture, sorted (a job captured twice appears twice)."""
        return sorted(e.job_id or "" for e in self.captures(account_id))

    def all_ended(self, account_id: str) -> bool:
        return all(j.status in TERMINAL for j in self.jobs(account_id))

    def statuses(self, account_id: str) -> dict[str, str]:
        """job id → status."""
        return {job.id: job.status for job in self.jobs(account_id)}

    def all_terminal(self, account_id: str, count: int) -> bool:
        found = self.statuses(account_id)
        return len(found) == count and all(s in TERMINAL for s in found.values())

    def snapshot(self, account_id: str) -> dict[str, Any]:
        """Everything money and jobs say about an account, to compare before and after."""
        return {
            "jobs": sorted((j.id, j.status, j.provider_calls) for j in self.jobs(account_id)),
            "holds": sorted((h.id, h.state) for h in self.holds(account_id)),
            "captures": sorted(
                (e.job_id or "", e.amount_micro_usd) for e in self.captures(account_id)
            ),
        }


@contextlib.contextmanager
def outage_stack(
    database: str, data_dir: Path, *, provider_s: int, max_runtime_s: int, reaper_interval_s: int
) -> Iterator[Stack]:
    """The stack the service-outage rows break: beat, and one 64-thread worker, so that a
    burst of slow jobs is all in flight at once."""
    env = {
        "OFFLINE_LATENCY_MS": str(provider_s * 1000),
        "JOB_MAX_RUNTIME_S": str(max_runtime_s),
        "REAPER_INTERVAL_S": str(reaper_interval_s),
    }
    with running(Stack(data_dir, database_url=database, beat=True, workers=0, env=env)) as stack:
        spawn_worker(stack, "worker", concurrency=64)
        wait_worker_ready(stack, "worker")
        yield stack


def wait_running(rows: Rows, account_id: str, count: int) -> None:
    wait_for(
        lambda: list(rows.statuses(account_id).values()).count(JobStatus.RUNNING) == count,
        timeout=30,
        what=f"{count} running jobs",
    )


def assert_settled_once(rows: Rows, account_id: str) -> None:
    """No hold left active, and one capture per succeeded job, none for any other."""
    holds = {h.job_id: h.state for h in rows.holds(account_id)}
    succeeded = [j.id for j in rows.jobs(account_id) if j.status == JobStatus.SUCCEEDED]
    assert "active" not in holds.values()
    assert rows.captured(account_id) == sorted(succeeded)


def verify_ledger(stack: Stack) -> None:
    """`musicgw ledger verify` with the stack's settings: exit 0 and no violation."""
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "ledger", "verify"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "violation:" not in done.stdout, done.stdout + done.stderr


def wait_for(condition: Callable[[], T], *, timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"no {what} after {timeout:g} s (last seen: {value!r})")
        time.sleep(interval)


def figure(**values: object) -> None:
    """One line of measured figures, collected from the output of `pytest -s`."""
    print("FIGURE " + " ".join(f"{name}={value}" for name, value in values.items()), flush=True)


def spawn_worker(stack: Stack, name: str, *, concurrency: int) -> None:
    """A Celery worker with its own thread count (Stack.start_worker always uses 16)."""
    stack.spawn(name, "worker", "--concurrency", str(concurrency))


def full_log(stack: Stack, name: str) -> str:
    """The whole log of one of the stack's processes (Stack.log keeps only its tail)."""
    path = stack.data_dir / f"{name}.log"
    return path.read_text(errors="replace") if path.exists() else ""


def log_lines(stack: Stack, name: str, text: str) -> int:
    """How many lines of a process's log contain `text` (plain or JSON log lines alike)."""
    return sum(text in line for line in full_log(stack, name).splitlines())


def wait_worker_ready(stack: Stack, name: str, *, times: int = 1, timeout: float = 60) -> None:
    """Until the worker's log shows it consuming (`times` counts restarts under one name)."""

    def ready() -> bool:
        process = stack.processes.get(name)
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{name} exited:\n{stack.log(name)}")
        return log_lines(stack, name, " ready.") >= times

    wait_for(ready, timeout=timeout, what=f"{name} ready")


def healthz_waiting(stack: Stack) -> int:
    """How many callers the API process holds open right now."""
    return int(httpx.get(f"{stack.base_url}/healthz", timeout=5).json()["waiting"])


def queue_depth(stack: Stack) -> tuple[int, int]:
    """(messages waiting in the queue, messages delivered but not acknowledged)."""
    with redis.Redis.from_url(stack.env["REDIS_URL"]) as client:
        return int(client.llen(QUEUE_KEY)), int(client.hlen(UNACKED_KEY))


def blob_path(stack: Stack, key: str) -> Path:
    """Where the local blob store keeps `key` (the stacks use the embedded default store)."""
    return stack.data_dir / "blobs" / key


@dataclass
class Answer:
    """One HTTP answer, or the transport error that stood in for it."""

    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None
    at: float = 0.0  # time.monotonic() when it arrived

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def job_id(self) -> str | None:
        return self.headers.get("x-kyma-job-id")


class Burst:
    """Many POST /v1/audio/music sent at once from a background thread.

    The test goes on while they wait (that is the point: faults happen while callers are held
    open); `answers()` joins them.
    """

    def __init__(
        self, stack: Stack, key: str, bodies: list[dict[str, Any]], *, timeout: float = 300
    ) -> None:
        self._url = stack.base_url
        self._key = key
        self._bodies = bodies
        self._timeout = timeout
        self._answers: list[Answer] = []
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def start(self) -> Burst:
        self._thread.start()
        return self

    def answers(self, *, timeout: float) -> list[Answer]:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"callers still waiting after {timeout:g} s")
        return self._answers

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=len(self._bodies) + 10)
        async with httpx.AsyncClient(
            base_url=self._url,
            headers={"Authorization": f"Bearer {self._key}"},
            limits=limits,
            timeout=self._timeout,
        ) as client:
            self._answers = list(
                await asyncio.gather(*(self._post(client, body) for body in self._bodies))
            )

    @staticmethod
    async def _post(client: httpx.AsyncClient, body: dict[str, Any]) -> Answer:
        try:
            r = await client.post("/v1/audio/music", json=body)
        except httpx.HTTPError as exc:
            return Answer(None, error=f"{type(exc).__name__}: {exc}", at=time.monotonic())
        return Answer(r.status_code, dict(r.headers), r.content, at=time.monotonic())


def call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Answer:
    """One request; a transport error (no answer in time, a reset) becomes an Answer too."""
    try:
        r = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        return Answer(None, error=f"{type(exc).__name__}: {exc}", at=time.monotonic())
    return Answer(r.status_code, dict(r.headers), r.content, at=time.monotonic())


def post_track(client: httpx.Client, tag: str, *, timeout: float = 30) -> Answer:
    body = {"prompt": tag, "music_length_ms": 1000}
    return call(client, "POST", "/v1/audio/music", json=body, timeout=timeout)


def first_success(client: httpx.Client, *, until: float, tag: str) -> Answer | None:
    """New requests one after another until one is answered 200; None if none by `until`.

    503 (a dependency not back yet) and no answer in time are "not yet"; anything else fails.
    """
    while (left := until - time.monotonic()) > 0:
        answer = post_track(client, tag, timeout=left)
        if answer.status == 200:
            return answer
        if answer.status not in (None, 503):
            raise AssertionError((answer.status, answer.body[:300]))
        time.sleep(0.1)
    return None


def tracks(count: int, *, length_ms: int = 1000, tag: str = "fault") -> list[dict[str, Any]]:
    """Request bodies for `count` elevenlabs-music tracks, each with its own prompt."""
    return [{"prompt": f"{tag} track {i}", "music_length_ms": length_ms} for i in range(count)]


def assert_no_server_error(answers: list[Answer], allowed: set[int]) -> None:
    """Every caller got one of the `allowed` statuses, in the JSON envelope when it is an error."""
    unexpected = [(a.status, a.error, a.body[:300]) for a in answers if a.status not in allowed]
    assert not unexpected, unexpected
    for answer in answers:
        if answer.status is not None and answer.status >= 400:
            assert "code" in answer.json()["error"], answer.body[:300]
