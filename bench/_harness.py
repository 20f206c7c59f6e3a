"""What the benchmarks share: a stack with a chosen worker size on a private Redis, load
clients, baselines (bare Celery pings, a direct synth call), percentiles and the result line.
What they watch while the load runs is in _observe.py.

Not a benchmark itself: run_all.py skips files whose name starts with an underscore.

Every benchmark prints one JSON line with at least
  bench, figure, target, result, baseline, ratio, pass, checks
where `checks` is a list of {what, value, op, limit, pass} and `pass` is true when every check
passed; the rest of the line is the raw figures.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import redis

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from common.notify import CHANNEL  # noqa: E402
from tests.fixtures import stack as fixture_stack  # noqa: E402
from tests.fixtures.databases import create_migrated_database, drop_database  # noqa: E402
from tests.fixtures.stack import Stack  # noqa: E402


class BenchStack(Stack):
    """A Stack whose worker processes run `concurrency` threads (the test fixture runs 16)."""

    def __init__(self, data_dir: Path, *, concurrency: int = 16, **kwargs: Any) -> None:
        super().__init__(data_dir, **kwargs)
        self.concurrency = concurrency
        self.env = self.env | {"WORKER_CONCURRENCY": str(concurrency)}

    def start_worker(self, index: int = 0) -> None:
        self.spawn(f"worker{index or ''}", "worker", "--concurrency", str(self.concurrency))

    def pid(self, name: str) -> int:
        return self.processes[name].pid

    def worker_names(self) -> list[str]:
        return [name for name in self.processes if name.startswith("worker")]

    def wait_workers(self, count: int, timeout_s: float = 60) -> None:
        """Block until `count` workers answer a broadcast ping."""
        app = celery_client(self)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if len(app.control.ping(timeout=1.0) or []) >= count:
                return
        raise RuntimeError(f"fewer than {count} workers answered:\n{self.log('worker')}")


@contextlib.contextmanager
def private_redis() -> Iterator[str]:
    """A throwaway redis-server on a free loopback port, for this benchmark alone.

    The test fixture numbers Redis databases per process from 1, so two processes sharing one
    Redis (another test session, another benchmark) would consume each other's tasks and flush
    each other's database. Falls back to the fixture's Redis when redis-server is not installed.
    """
    exe = shutil.which("redis-server")
    if exe is None:
        yield fixture_stack.REDIS_URL
        return
    port = fixture_stack.free_port()
    process = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextlib.contextmanager
def running_stack(prefix: str, *, logs: str | None = None, **kwargs: Any) -> Iterator[BenchStack]:
    """A started stack on a fresh database and a private Redis; stopped, dropped and deleted
    afterwards (its process logs copied to `logs` first, when given)."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    with private_redis() as redis_url:
        # The fixture reads this module global when it picks the stack's Redis database.
        shared_redis_url, fixture_stack.REDIS_URL = fixture_stack.REDIS_URL, redis_url
        database = create_migrated_database(prefix)
        try:
            stack = BenchStack(data_dir, database_url=database, **kwargs)
            try:
                stack.start()
                stack.wait_workers(stack.workers)
                yield stack
            finally:
                stack.stop()
        finally:
            fixture_stack.REDIS_URL = shared_redis_url
            drop_database(database)
            if logs:
                Path(logs).mkdir(parents=True, exist_ok=True)
                for log in data_dir.glob("*.log"):
                    shutil.copy(log, Path(logs) / f"{prefix}-{log.name}")
            shutil.rmtree(data_dir, ignore_errors=True)


def celery_client(stack: Stack) -> Any:
    from celery import Celery

    app = Celery(broker=stack.env["REDIS_URL"])
    app.conf.task_default_queue = "music"
    return app


def ping_burst(stack: Stack, n: int, timeout_s: float = 60) -> float:
    """Send n `worker.ping` tasks at once; seconds until the last answer is heard on the job-event
    channel (the bare queue round trip, fanned out)."""
    app = celery_client(stack)
    pubsub = redis.Redis.from_url(stack.env["REDIS_URL"]).pubsub()
    pubsub.subscribe(CHANNEL)
    pubsub.get_message(timeout=1)
    tokens = {uuid.uuid4().hex for _ in range(n)}
    start = time.perf_counter()
    for token in tokens:
        app.send_task("worker.ping", args=[token])
    pending = set(tokens)
    deadline = time.monotonic() + timeout_s
    while pending and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=1)
        if message and message["type"] == "message":
            pending.discard(message["data"].decode())
    elapsed = time.perf_counter() - start
    pubsub.close()
    if pending:
        raise RuntimeError(f"{len(pending)} of {n} pings unanswered after {timeout_s} s")
    return elapsed


def direct_synth_ms(body: dict[str, Any], repeat: int = 5, *, warm: bool = True) -> float:
    """Median time of the offline provider's own work (synth + encode) for this request body,
    called directly in this process (after one untimed call, when `warm`)."""
    from common.providers.base import GenerationRequest
    from common.providers.local.provider import LocalProvider
    from common.validation import parse_music_request

    music = parse_music_request(body)
    request = GenerationRequest(
        job_id="job_direct",
        sku=music.sku,
        prompt=music.prompt,
        lyrics=music.lyrics,
        music_length_ms=music.music_length_ms,
        response_format=music.response_format,
    )
    provider = LocalProvider(latency_ms=0)
    if warm:
        provider.generate(request)
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        provider.generate(request)
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


@contextlib.asynccontextmanager
async def async_clients(
    base_url: str, *, total: int, per_client: int, timeout_s: float, key: str | None = None
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Enough AsyncClients for `total` concurrent requests, `per_client` connections each.

    One AsyncClient's pool does work proportional to its open connections on every request,
    so one big pool makes the client the bottleneck; many small ones (sharing one SSL context,
    which is slow to build) keep the client's cost per request flat.
    """
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client)
    tls = ssl.create_default_context()
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=base_url, headers=headers, limits=limits, timeout=timeout_s, verify=tls
                )
            )
            for _ in range(-(-total // per_client))
        ]
        yield clients


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary_ms(values: list[float]) -> dict[str, float]:
    """p50/p99/max of durations given in seconds, in milliseconds."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(values) * 1000, 2),
        "p99_ms": round(percentile(values, 0.99) * 1000, 2),
        "max_ms": round(max(values) * 1000, 2),
    }


def raise_open_files(wanted: int) -> int:
    """Raise this process's open-files limit towards `wanted` (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def check(what: str, value: float, op: str, limit: float) -> dict[str, Any]:
    """One target: `value op limit`, with op "<=" or ">="."""
    passed = value <= limit if op == "<=" else value >= limit
    return {"what": what, "value": value, "op": op, "limit": limit, "pass": passed}


def emit(result: dict[str, Any]) -> None:
    """Print the one machine-readable result line (with this client's own CPU use)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["client_cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)
    result["pass"] = all(c["pass"] for c in result.get("checks", []))
    result["load_avg_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result), flush=True)
