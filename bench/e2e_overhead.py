"""The gateway's own overhead on a zero-latency request: end-to-end time minus the track's making.

The same request as e2e_latency.py (a 1-second elevenlabs-music MP3, offline provider with no
simulated latency and its track cache off, so every request renders; sequential, production
shape: uvicorn API + one Celery worker process, Postgres, Redis), but each request is followed
by the offline provider's own work for the same request (synth + MP3 encode) called directly in
this process. The overhead of a request is its end-to-end time minus the median of those direct
calls: auth, validation, hold, enqueue, claim, store, capture, wake-up and streaming. Baseline
in the same run: the bare Celery round trip of e2e_latency.py (`worker.ping` answered on the
job-event channel).
Targets: overhead p50 <= 10 ms, p99 <= 40 ms, and p50 <= 5x the bare Celery round trip.

Run: .venv/bin/python bench/e2e_overhead.py [--n 200] [--profile DIR]
(needs Postgres and Redis, as `make test`; --profile DIR writes py-spy stacks there)
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx
import psycopg
from _harness import check, direct_synth_ms, emit, percentile, running_stack
from _observe import ProcessMonitor, Profiler
from e2e_latency import bench_celery

BODY = {"prompt": "tight funk groove", "music_length_ms": 1000}


def split_stages(database_url: str, marks: dict[str, tuple[float, float]]) -> dict[str, float]:
    """Median time of each leg of a request, from the client's clock and the job row's
    accepted, claimed and ended times (one machine, one clock)."""
    query = """
        SELECT id, extract(epoch FROM created_at), extract(epoch FROM started_at),
               extract(epoch FROM finished_at)
        FROM multimodal_jobs WHERE id = ANY(%s)
    """
    legs: dict[str, list[float]] = {
        "sent_to_accepted (auth, rate limit, hold + row)": [],
        "accepted_to_claimed (commit, enqueue, queue, claim)": [],
        "claimed_to_ended (provider call, store, capture)": [],
        "ended_to_answered (wake-up, re-read, stream)": [],
    }
    with psycopg.connect(database_url) as conn:
        for job_id, created, started, finished in conn.execute(query, (list(marks),)):
            sent, answered = marks[job_id]
            points = [sent, float(created), float(started), float(finished), answered]
            for leg, begin, end in zip(legs.values(), points, points[1:], strict=False):
                leg.append((end - begin) * 1000)
    return {name: round(statistics.median(values), 2) for name, values in legs.items()}


def measure(
    client: httpx.Client,
    n: int,
    requests: list[float],
    direct: list[float],
    marks: dict[str, tuple[float, float]],
) -> None:
    """n sequential requests, each followed by the same track made directly in this process."""
    for _ in range(n):
        sent_at, start = time.time(), time.perf_counter()
        response = client.post("/v1/audio/music", json=BODY)
        requests.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
        marks[response.headers["X-Kyma-Job-Id"]] = (sent_at, time.time())
        # Interleaved, so both see the same moment of a noisy machine.
        direct.append(direct_synth_ms(BODY, repeat=1, warm=False))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--profile", default=None, help="write py-spy stacks here")
    args = parser.parse_args()
    requests: list[float] = []
    direct: list[float] = []
    marks: dict[str, tuple[float, float]] = {}
    # The offline provider's cache off: every request renders, and the render is subtracted.
    with running_stack("musicgw_bench_overhead", env={"OFFLINE_CACHE_MB": "0"}) as stack:
        _, key = stack.account("100000")
        with stack.client(key) as client:
            for _ in range(5):
                client.post("/v1/audio/music", json=BODY).raise_for_status()
            direct_synth_ms(BODY, repeat=5)
            pids = {"api": stack.pid("api"), "worker": stack.pid("worker")}
            monitor = ProcessMonitor(pids)
            monitor.start()
            with Profiler(args.profile, "e2e_overhead", pids) as prof:
                measure(client, args.n, requests, direct, marks)
            processes = monitor.stop()
        celery = bench_celery(stack, args.n)
        stages = split_stages(stack.env["DATABASE_URL"], marks)
    made_ms = statistics.median(direct)
    overhead = [r - made_ms for r in requests]
    paired = [r - d for r, d in zip(requests, direct, strict=True)]
    p50, p99 = round(statistics.median(overhead), 2), round(percentile(overhead, 0.99), 2)
    celery_p50 = round(statistics.median(celery), 2)
    ratio = round(p50 / celery_p50, 1)
    checks = [
        check("overhead p50 (ms)", p50, "<=", 10),
        check("overhead p99 (ms)", p99, "<=", 40),
        check("overhead p50 / Celery round trip p50", ratio, "<=", 5),
    ]
    emit(
        {
            "bench": "e2e_overhead",
            "figure": "end-to-end overhead: 1 s MP3, offline provider with zero latency, "
            "sequential (request minus synth+encode)",
            "target": "overhead p50 <= 10 ms, p99 <= 40 ms, <= 5x bare Celery round trip",
            "result": f"overhead p50 {p50} ms, p99 {p99} ms (request p50 "
            f"{statistics.median(requests):.1f} ms minus synth+encode {made_ms:.1f} ms)",
            "baseline": f"bare Celery round trip p50 {celery_p50} ms, "
            f"p99 {percentile(celery, 0.99):.2f} ms",
            "ratio": ratio,
            "checks": checks,
            "n": args.n,
            "request_p50_ms": round(statistics.median(requests), 2),
            "request_p99_ms": round(percentile(requests, 0.99), 2),
            "synth_encode_p50_ms": round(made_ms, 2),
            "synth_encode_p99_ms": round(percentile(direct, 0.99), 2),
            "overhead_p50_ms": p50,
            "overhead_p99_ms": p99,
            "paired_overhead_p50_ms": round(statistics.median(paired), 2),
            "celery_p50_ms": celery_p50,
            "celery_p99_ms": round(percentile(celery, 0.99), 2),
            "stages_p50_ms": stages,
            "api_cpu_ms_per_request": round(processes["api"]["cpu_s"] * 1000 / args.n, 2),
            "worker_cpu_ms_per_request": round(processes["worker"]["cpu_s"] * 1000 / args.n, 2),
            "profile": prof.summary(),
        }
    )


if __name__ == "__main__":
    main()
