"""End-to-end latency of a zero-latency offline request against a bare Celery round trip.

Starts the production shape on this machine (uvicorn API + one Celery worker process, Postgres,
Redis), then, sequentially and in the same run:
  - N times POST /v1/audio/music for a 1-second elevenlabs-music MP3 (offline provider, no
    simulated latency): the whole path — auth, validation, hold, enqueue, worker claim, synth,
    encode, store, capture, pub/sub wake-up, streaming the bytes back;
  - N times a bare Celery round trip: send the `worker.ping` task and wait for its answer on the
    same Redis pub/sub channel the API's waiters use (no database, no audio).
Prints one JSON line with p50/p99 of both and their ratio.

Run: .venv/bin/python bench/e2e_latency.py [--n 200]   (needs Postgres and Redis, as `make test`)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.notify import CHANNEL  # noqa: E402
from tests.fixtures.databases import create_migrated_database, drop_database  # noqa: E402
from tests.fixtures.stack import Stack  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_requests(stack: Stack, key: str, n: int) -> list[float]:
    body = {"prompt": "tight funk groove", "music_length_ms": 1000}
    timings = []
    with stack.client(key) as client:
        for _ in range(5):
            client.post("/v1/audio/music", json=body).raise_for_status()
        for _ in range(n):
            start = time.perf_counter()
            r = client.post("/v1/audio/music", json=body)
            timings.append((time.perf_counter() - start) * 1000)
            r.raise_for_status()
    return timings


def bench_celery(stack: Stack, n: int) -> list[float]:
    from celery import Celery

    app = Celery(broker=stack.env["REDIS_URL"])
    app.conf.task_default_queue = "music"
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    pubsub = client.pubsub()
    pubsub.subscribe(CHANNEL)
    pubsub.get_message(timeout=1)
    timings = []
    for i in range(n + 5):
        token = uuid.uuid4().hex
        start = time.perf_counter()
        app.send_task("worker.ping", args=[token])
        while True:
            message = pubsub.get_message(timeout=5)
            if message and message["type"] == "message" and message["data"].decode() == token:
                break
        if i >= 5:
            timings.append((time.perf_counter() - start) * 1000)
    pubsub.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    database = create_migrated_database("musicgw_bench")
    # The offline provider's cache off: every request renders its track, as it would first time.
    env = {"OFFLINE_CACHE_MB": "0"}
    stack = Stack(Path(tempfile.mkdtemp()), database_url=database, env=env).start()
    try:
        _, key = stack.account("100000")
        requests = bench_requests(stack, key, args.n)
        celery = bench_celery(stack, args.n)
    finally:
        stack.stop()
        drop_database(database)
    result = {
        "bench": "e2e_latency",
        "n": args.n,
        "request_p50_ms": round(statistics.median(requests), 2),
        "request_p99_ms": round(percentile(requests, 0.99), 2),
        "celery_p50_ms": round(statistics.median(celery), 2),
        "celery_p99_ms": round(percentile(celery, 0.99), 2),
    }
    result["ratio_p50"] = round(result["request_p50_ms"] / result["celery_p50_ms"], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
