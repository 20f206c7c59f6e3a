"""Streaming: many concurrent downloads of one long track, and what they cost the API in memory.

Starts the production shape (uvicorn API + one Celery worker process, Postgres, Redis), makes a
5-minute MP3 with one POST /v1/audio/music (offline provider, no simulated latency), then N
(200) asyncio clients GET /v1/jobs/{id}/audio at once, each reading the whole body as fast as it
can. Measured in the same run:
  - the API's RSS (psutil, by pid) before the downloads and at its peak;
  - baseline: one download of the same audio alone (time), against the wall time of the N
    concurrent ones; every download is checked for its full length.
Target: API RSS growth <= 100 MB.

Run: .venv/bin/python bench/streaming.py [--n 200] [--length-ms 300000] [--profile DIR]
(needs Postgres and Redis, as `make test`; --profile DIR writes py-spy stacks there)
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import time
from typing import Any

import httpx
from _harness import async_clients, check, emit, raise_open_files, running_stack, summary_ms
from _observe import ProcessMonitor, Profiler

SHARD = 10  # connections per AsyncClient


async def download(client: httpx.AsyncClient, path: str) -> dict[str, Any]:
    start = time.perf_counter()
    received = 0
    try:
        async with client.stream("GET", path) as response:
            async for chunk in response.aiter_raw():
                received += len(chunk)
            status = str(response.status_code)
            expected = int(response.headers.get("content-length", -1))
    except httpx.HTTPError as exc:
        status, expected = type(exc).__name__, -1
    return {
        "status": status,
        "complete": received == expected,
        "bytes": received,
        "seconds": time.perf_counter() - start,
    }


async def download_many(base_url: str, key: str, path: str, n: int) -> list[dict[str, Any]]:
    async with async_clients(
        base_url, total=n, per_client=SHARD, timeout_s=300, key=key
    ) as clients:
        return await asyncio.gather(*(download(clients[i % len(clients)], path) for i in range(n)))


def make_track(stack: Any, key: str, length_ms: int) -> tuple[str, float]:
    """One long MP3 through the whole path; its job id and how long that took."""
    body = {"prompt": "long ambient drift", "music_length_ms": length_ms}
    start = time.perf_counter()
    with stack.client(key, timeout=600) as client:
        response = client.post("/v1/audio/music", json=body)
        response.raise_for_status()
    return response.headers["X-Kyma-Job-Id"], time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--length-ms", type=int, default=300_000)
    parser.add_argument("--profile", default=None, help="write py-spy stacks here")
    parser.add_argument("--logs", default=None, help="keep the processes' logs here")
    args = parser.parse_args()
    raise_open_files(4 * args.n + 1024)
    with running_stack("musicgw_bench_streaming", logs=args.logs) as stack:
        _, key = stack.account("100000")
        job_id, make_s = make_track(stack, key, args.length_ms)
        path = f"/v1/jobs/{job_id}/audio"
        alone = asyncio.run(download_many(stack.base_url, key, path, 1))[0]
        pids = {"api": stack.pid("api")}
        monitor = ProcessMonitor(pids, interval_s=0.05).start()
        with Profiler(args.profile, "streaming", pids) as prof:
            start = time.perf_counter()
            results = asyncio.run(download_many(stack.base_url, key, path, args.n))
            wall_s = time.perf_counter() - start
        processes = monitor.stop()
    statuses = collections.Counter(r["status"] for r in results)
    failed = sum(1 for r in results if r["status"] != "200" or not r["complete"])
    growth = processes["api"]["rss_growth_mb"]
    mb = alone["bytes"] / 1024 / 1024
    checks = [
        check("API RSS growth (MB)", growth, "<=", 100),
        check("failed or short downloads", failed, "<=", 0),
    ]
    emit(
        {
            "bench": "streaming",
            "figure": f"streaming: {args.n} concurrent downloads of a "
            f"{args.length_ms / 60000:g}-minute MP3 ({mb:.1f} MB)",
            "target": "API RSS growth <= 100 MB",
            "result": f"API RSS +{growth} MB, {failed} failed, all done in {wall_s:.1f} s "
            f"({args.n * mb / wall_s:.0f} MB/s)",
            "baseline": f"one download alone: {alone['seconds'] * 1000:.0f} ms; "
            f"API RSS before {processes['api']['rss_before_mb']} MB",
            "ratio": {
                "wall_over_one_download": round(wall_s / alone["seconds"], 1),
                "wall_over_n_sequential": round(wall_s / (args.n * alone["seconds"]), 2),
            },
            "checks": checks,
            "n": args.n,
            "track_bytes": alone["bytes"],
            "make_track_s": round(make_s, 2),
            "statuses": dict(statuses),
            "wall_s": round(wall_s, 2),
            "download": summary_ms([r["seconds"] for r in results]),
            "processes": processes,
            "profile": prof.summary(),
        }
    )


if __name__ == "__main__":
    main()
