"""Thousands of callers held open at once: one API process, one worker process, a slow provider.

Starts the production shape (uvicorn API + one Celery worker process with enough threads,
Postgres, Redis) with the offline provider sleeping OFFLINE_LATENCY_MS (30 s) per track (it
renders the one prompt once and serves the rest from its cache, as a remote provider costs the
worker no CPU), then fires N (2,000) POST /v1/audio/music for a 1-second MP3 at once from one
asyncio client (aiohttp), every request holding its connection until its audio comes back.
Meanwhile a separate process reads GET /healthz every 50 ms. Measured in the same run:
  - the wall time from the first request sent to the last answer, errors, per-request latency;
  - API and worker RSS (psutil, by pid) before the load and at its peak;
  - /healthz latency while the callers are held, against /healthz on the idle API (baseline).
Targets: 0 errors, all done within 33 s, API RSS growth <= 150 MB, /healthz p99 <= 20 ms.

Run: .venv/bin/python bench/held_waits.py [--n 2000] [--latency-ms 30000] [--profile DIR]
(needs Postgres and Redis, as `make test`; --profile DIR writes py-spy stacks there)
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import time
from typing import Any

import aiohttp
import httpx
from _harness import check, emit, raise_open_files, running_stack, summary_ms
from _observe import HealthProbe, ProcessMonitor, Profiler, job_timeline

BODY = {"prompt": "slow burning soul ballad", "music_length_ms": 1000}


async def one_request(session: aiohttp.ClientSession, outcomes: list[dict[str, Any]]) -> None:
    start, start_at = time.perf_counter(), time.time()
    try:
        async with session.post("/v1/audio/music", json=BODY) as response:
            body = await response.read()
            outcome: dict[str, Any] = {"status": response.status, "bytes": len(body)}
    except (aiohttp.ClientError, TimeoutError) as exc:
        outcome = {"status": type(exc).__name__, "bytes": 0}
    outcomes.append(
        outcome
        | {"start": start, "end": time.perf_counter(), "start_at": start_at, "end_at": time.time()}
    )


async def hold_many(base_url: str, key: str, n: int, timeout_s: float) -> list[dict[str, Any]]:
    """n requests at once, each on its own connection, then every answer.

    aiohttp, not httpx: the client shares the machine's two cores with the stack it measures,
    and sending 2,000 requests through httpx took the client several seconds of CPU just as
    the API was accepting them."""
    outcomes: list[dict[str, Any]] = []
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(
        base_url=base_url,
        connector=connector,
        headers={"Authorization": f"Bearer {key}"},
        timeout=aiohttp.ClientTimeout(total=timeout_s),
    ) as session:
        await asyncio.gather(*(one_request(session, outcomes) for _ in range(n)))
    return outcomes


def warm_up(base_url: str, key: str) -> None:
    """Exercise auth, validation, accept and enqueue once without waiting for the audio."""
    headers = {"Authorization": f"Bearer {key}", "Prefer": "respond-async"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for _ in range(3):
            client.post("/v1/audio/music", json=BODY).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--latency-ms", type=int, default=30_000)
    parser.add_argument("--profile", default=None, help="write py-spy stacks here")
    parser.add_argument("--logs", default=None, help="keep the processes' logs here")
    args = parser.parse_args()
    raise_open_files(4 * args.n + 1024)
    latency_s = args.latency_ms / 1000
    limit_s = latency_s + 3
    env = {"OFFLINE_LATENCY_MS": str(args.latency_ms), "SYNC_WAIT_LIMIT_S": "600"}
    with running_stack(
        "musicgw_bench_held", env=env, concurrency=args.n + 16, logs=args.logs
    ) as stack:
        _, key = stack.account("1000000")
        warm_up(stack.base_url, key)
        with HealthProbe(stack.base_url) as idle:
            time.sleep(3)
        pids = {"api": stack.pid("api"), "worker": stack.pid("worker")}
        monitor = ProcessMonitor(pids).start()
        # Only the API is profiled: sampling thousands of worker threads would distort the run.
        profiled = {"api": pids["api"]}
        since = time.time()
        with (
            HealthProbe(stack.base_url) as loaded,
            Profiler(args.profile, "held_waits", profiled) as prof,
        ):
            outcomes = asyncio.run(hold_many(stack.base_url, key, args.n, limit_s * 4))
        processes = monitor.stop()
        jobs = job_timeline(stack, since=since)
    statuses = collections.Counter(str(o["status"]) for o in outcomes)
    errors = sum(n for status, n in statuses.items() if status != "200")
    wall_s = max(o["end"] for o in outcomes) - min(o["start"] for o in outcomes)
    idle_health, loaded_health = idle.report(), loaded.report()
    # While callers are being accepted and held, and once the worker starts rendering.
    first_sent = min(o["start_at"] for o in outcomes)
    holding_health = loaded.report(end=first_sent + latency_s)
    rendering_health = loaded.report(start=first_sent + latency_s)
    if jobs.get("jobs"):
        # Before the first job row exists, and after the last one ended: the API's own share.
        jobs["first_sent_to_first_accepted_s"] = round(
            jobs.pop("first_accepted_at") - min(o["start_at"] for o in outcomes), 2
        )
        jobs["last_ended_to_last_answered_s"] = round(
            max(o["end_at"] for o in outcomes) - jobs.pop("last_ended_at"), 2
        )
    healthz_p99 = loaded_health.get("p99_ms", float("inf"))
    checks = [
        check("errors", errors, "<=", 0),
        check("all done within (s)", round(wall_s, 2), "<=", limit_s),
        check("API RSS growth (MB)", processes["api"]["rss_growth_mb"], "<=", 150),
        check("/healthz p99 under load (ms)", healthz_p99, "<=", 20),
    ]
    emit(
        {
            "bench": "held_waits",
            "figure": f"held waits: {args.n} concurrent requests, provider latency {latency_s:g} s",
            "target": f"0 errors, all done <= {limit_s:g} s, API RSS growth <= 150 MB, "
            "/healthz p99 <= 20 ms",
            "result": f"{errors} errors, done in {wall_s:.1f} s, API RSS +"
            f"{processes['api']['rss_growth_mb']} MB, /healthz p99 {healthz_p99} ms",
            "baseline": f"provider latency {latency_s:g} s; idle /healthz p99 "
            f"{idle_health.get('p99_ms')} ms",
            "ratio": {
                "wall_over_latency": round(wall_s / latency_s, 2),
                "healthz_p99_loaded_over_idle": round(healthz_p99 / idle_health["p99_ms"], 1),
            },
            "checks": checks,
            "n": args.n,
            "statuses": dict(statuses),
            "wall_s": round(wall_s, 2),
            "request_latency": summary_ms([o["end"] - o["start"] for o in outcomes]),
            "healthz_idle": idle_health,
            "healthz_loaded": loaded_health,
            "healthz_before_first_render": holding_health,
            "healthz_while_rendering": rendering_health,
            "max_waiting_reported": loaded.max_waiting,
            "jobs": jobs,
            "processes": processes,
            "profile": prof.summary(),
        }
    )


if __name__ == "__main__":
    main()
