"""Throughput of the whole stack with a zero-latency provider: completed jobs per second.

Starts the production shape (uvicorn API + W Celery worker processes, Postgres, Redis) with
the offline provider at no simulated latency (one prompt: its track cache renders it once, so
the provider costs the workers next to nothing), then C asyncio clients (aiohttp; closed
loop: each sends its next POST /v1/audio/music for a 1-second MP3 as soon as its last one
answered) for T seconds; a job counts when its audio has come back. Measured in the same run:
  - baselines: GET /healthz from the same C clients (the API with no work behind it), N bare
    `worker.ping` tasks fanned out through the same workers (the queue with no job in it), and
    the offline provider's synth + encode called directly in this process (one core);
  - the API's and each worker's CPU use over the run (psutil, by pid).
Target: >= 200 completed jobs per second.

Run: .venv/bin/python bench/throughput.py [--seconds 20] [--clients 64] [--workers 2]
     [--concurrency 16] [--profile DIR]
(needs Postgres and Redis, as `make test`; --profile DIR writes py-spy stacks there)
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from _harness import (
    check,
    direct_synth_ms,
    emit,
    ping_burst,
    running_stack,
    summary_ms,
)
from _observe import ProcessMonitor, Profiler, WaitSampler, job_timeline

BODY = {"prompt": "tight funk groove", "music_length_ms": 1000}


async def closed_loop(
    base_url: str,
    keys: list[str],
    clients: int,
    seconds: float,
    send: Callable[[aiohttp.ClientSession], Any],
) -> dict[str, Any]:
    """`clients` loops each awaiting send(session) back to back for `seconds`, spread over one
    keep-alive session per key; the rate of 200s, their latency, and how many cores this client
    process used meanwhile. aiohttp, not httpx: the client shares the two cores with the stack,
    and httpx cost it more than twice the CPU (0.28-0.30 cores against 0.12-0.13 at the same
    job rate; for /healthz it was the bottleneck, at 770/s against 2,500/s)."""
    statuses: collections.Counter[str] = collections.Counter()
    latencies: list[float] = []
    async with contextlib.AsyncExitStack() as stack:
        pool: list[aiohttp.ClientSession] = []
        for index, key in enumerate(keys):
            share = clients // len(keys) + (index < clients % len(keys))
            session = await stack.enter_async_context(
                aiohttp.ClientSession(
                    base_url=base_url,
                    connector=aiohttp.TCPConnector(limit=share),
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=aiohttp.ClientTimeout(total=60),
                )
            )
            pool += [session] * share
        cpu = time.process_time()
        start = time.perf_counter()
        deadline = start + seconds

        async def loop(session: aiohttp.ClientSession) -> None:
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                try:
                    status = str(await send(session))
                except (aiohttp.ClientError, TimeoutError) as exc:
                    status = type(exc).__name__
                done = time.perf_counter()
                if done <= deadline:
                    statuses[status] += 1
                    if status == "200":
                        latencies.append(done - sent)

        await asyncio.gather(*(loop(session) for session in pool))
        cpu = time.process_time() - cpu
    ok = statuses.get("200", 0)
    return {
        "per_s": round(ok / seconds, 1),
        "ok": ok,
        "statuses": dict(statuses),
        "latency": summary_ms(latencies),
        "client_cores": round(cpu / seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16, help="threads per worker")
    parser.add_argument("--pings", type=int, default=2000)
    parser.add_argument("--accounts", type=int, default=1, help="spread the clients over N")
    parser.add_argument("--profile", default=None, help="write py-spy stacks here")
    parser.add_argument("--logs", default=None, help="keep the processes' logs here")
    args = parser.parse_args()
    direct_ms = direct_synth_ms(BODY)

    async def post(session: aiohttp.ClientSession) -> int:
        async with session.post("/v1/audio/music", json=BODY) as response:
            await response.read()
            return response.status

    async def healthz(session: aiohttp.ClientSession) -> int:
        async with session.get("/healthz") as response:
            await response.read()
            return response.status

    with running_stack(
        "musicgw_bench_throughput",
        workers=args.workers,
        concurrency=args.concurrency,
        logs=args.logs,
    ) as stack:
        keys = [stack.account("100000")[1] for _ in range(args.accounts)]
        url = stack.base_url
        asyncio.run(closed_loop(url, keys, args.clients, 2, healthz))
        health = asyncio.run(closed_loop(url, keys, args.clients, 5, healthz))
        ping_burst(stack, 100)
        pings_s = ping_burst(stack, args.pings)
        asyncio.run(closed_loop(url, keys, 8, 3, post))
        pids = {"api": stack.pid("api")} | {name: stack.pid(name) for name in stack.worker_names()}
        monitor = ProcessMonitor(pids).start()
        since = time.time()
        with (
            Profiler(args.profile, "throughput", pids) as prof,
            WaitSampler(stack.env["DATABASE_URL"]) as waits,
        ):
            jobs = asyncio.run(closed_loop(url, keys, args.clients, args.seconds, post))
        processes = monitor.stop()
        timeline = job_timeline(stack, since=since)
    pings_per_s = args.pings / pings_s
    errors = sum(n for status, n in jobs["statuses"].items() if status != "200")
    checks = [
        check("completed jobs/s", jobs["per_s"], ">=", 200),
        check("errors", errors, "<=", 0),
    ]
    emit(
        {
            "bench": "throughput",
            "figure": f"throughput: zero-latency provider, API + {args.workers} worker "
            f"process(es) x {args.concurrency} threads, {args.clients} clients, "
            f"{args.accounts} account(s)",
            "target": ">= 200 completed jobs/s",
            "result": f"{jobs['per_s']} jobs/s (p50 {jobs['latency'].get('p50_ms')} ms), "
            f"{errors} errors",
            "baseline": f"/healthz {health['per_s']}/s; bare pings {pings_per_s:.0f}/s; "
            f"direct synth+encode {1000 / direct_ms:.0f}/s on one core",
            "ratio": {
                "jobs_over_healthz": round(jobs["per_s"] / health["per_s"], 3),
                "jobs_over_pings": round(jobs["per_s"] / pings_per_s, 3),
                "jobs_over_direct_synth_one_core": round(jobs["per_s"] * direct_ms / 1000, 2),
            },
            "checks": checks,
            "jobs": jobs,
            "job_rows": {k: timeline[k] for k in ("jobs", "queue_wait", "run") if k in timeline},
            "healthz": health,
            "pings_per_s": round(pings_per_s, 1),
            "direct_synth_encode_ms": round(direct_ms, 2),
            "processes": processes,
            "database_waits": waits.report(),
            "profile": prof.summary(),
        }
    )


if __name__ == "__main__":
    main()
