"""Worker fan-out: how fast one worker process gets through a burst of slow-provider jobs.

Starts the production shape (uvicorn API + one Celery worker process with N threads, Postgres,
Redis) with the offline provider sleeping OFFLINE_LATENCY_MS (2 s) per track (one prompt,
rendered once: the provider's track cache serves the rest). N (500) jobs for a 1-second MP3 are
accepted straight through the jobs service (hold + row, as the API does), then their
`music.generate` tasks are sent in one burst; the clock runs from the first send to the last job
row marked ended. Measured in the same run:
  - baseline: N bare `worker.ping` tasks sent in one burst, until the last answer is heard on the
    job-event channel (the queue and the worker's thread pool with no job in them);
  - a direct call: the offline provider's synth + encode of the same request in this process;
  - where the time went: the rows' claim and end times, the worker's CPU and RSS.
Target: 500 jobs done within 4 s (the provider latency + 2 s, for other --latency-ms).

Run: .venv/bin/python bench/worker_fanout.py [--n 500] [--latency-ms 2000] [--profile DIR]
(needs Postgres and Redis, as `make test`; --profile DIR writes py-spy stacks there)
"""

from __future__ import annotations

import argparse
import time
import uuid

import psycopg
from _harness import celery_client, check, direct_synth_ms, emit, ping_burst, running_stack
from _observe import ProcessMonitor, Profiler, WaitSampler, job_timeline

from common.config import Settings
from common.db import create_db_engine, create_session_factory, transaction
from common.jobs import service as jobs
from common.validation import parse_music_request

BODY = {"prompt": "driving synthwave", "music_length_ms": 1000}
TERMINAL = ("succeeded", "failed", "expired")


def accept_jobs(database_url: str, account_id: str, n: int) -> list[str]:
    """n queued jobs with their holds, made by the same service call the API makes."""
    engine = create_db_engine(Settings(database_url=database_url, redis_url=""))
    request = parse_music_request(BODY)
    with transaction(create_session_factory(engine)) as session:
        ids = [
            jobs.submit_job(
                session, account_id=account_id, api_key_id=None, request=request, max_runtime_s=600
            ).id
            for _ in range(n)
        ]
    engine.dispose()
    return ids


def wait_ended(database_url: str, ids: list[str], timeout_s: float) -> int:
    """Poll the rows until every job has ended (or the timeout); how many ended."""
    query = "SELECT count(*) FROM multimodal_jobs WHERE id = ANY(%s) AND status = ANY(%s)"
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(database_url, autocommit=True) as conn:
        while True:
            ended = conn.execute(query, (ids, list(TERMINAL))).fetchone()[0]  # type: ignore[index]
            if ended == len(ids) or time.monotonic() > deadline:
                return int(ended)
            time.sleep(0.05)


def spans(database_url: str, ids: list[str], since: float) -> dict[str, float]:
    """Seconds from the first send to the last claim and to the last end, from the rows."""
    query = """
        SELECT extract(epoch FROM max(started_at)), extract(epoch FROM max(finished_at)),
               count(*) FILTER (WHERE status = 'succeeded')
        FROM multimodal_jobs WHERE id = ANY(%s)
    """
    with psycopg.connect(database_url) as conn:
        claimed, ended, succeeded = conn.execute(query, (ids,)).fetchone()  # type: ignore[misc]
    return {
        "first_send_to_last_claimed_s": round(float(claimed) - since, 3) if claimed else -1,
        "first_send_to_last_ended_s": round(float(ended) - since, 3) if ended else -1,
        "succeeded": int(succeeded),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--latency-ms", type=int, default=2000)
    parser.add_argument("--timeout-s", type=float, default=90)
    parser.add_argument("--profile", default=None, help="write py-spy stacks here")
    parser.add_argument("--logs", default=None, help="keep the processes' logs here")
    args = parser.parse_args()
    latency_s = args.latency_ms / 1000
    limit_s = latency_s + 2
    env = {"OFFLINE_LATENCY_MS": str(args.latency_ms)}
    direct_ms = direct_synth_ms(BODY)
    with running_stack(
        "musicgw_bench_fanout", env=env, concurrency=args.n, logs=args.logs
    ) as stack:
        database_url = stack.env["DATABASE_URL"]
        account_id, _ = stack.account("1000000")
        ping_burst(stack, 50)
        pings_s = ping_burst(stack, args.n)
        ids = accept_jobs(database_url, account_id, args.n)
        app = celery_client(stack)
        pids = {"worker": stack.pid("worker")}
        monitor = ProcessMonitor(pids).start()
        with (
            Profiler(args.profile, "worker_fanout", pids) as prof,
            WaitSampler(database_url) as waits,
        ):
            first_send = time.time()
            for job_id in ids:
                app.send_task(
                    "music.generate", args=[job_id], headers={"request_id": uuid.uuid4().hex}
                )
            sent_s = time.time() - first_send
            ended = wait_ended(database_url, ids, args.timeout_s)
        processes = monitor.stop()
        timing = spans(database_url, ids, first_send)
        jobs_timeline = job_timeline(stack, since=first_send - 600)
        for absolute in ("first_accepted_at", "last_ended_at"):
            jobs_timeline.pop(absolute, None)
    done_s = timing["first_send_to_last_ended_s"] if ended == args.n else float("inf")
    checks = [
        check("jobs ended", ended, ">=", args.n),
        check("jobs succeeded", timing["succeeded"], ">=", args.n),
        check("done within (s)", done_s, "<=", limit_s),
    ]
    emit(
        {
            "bench": "worker_fanout",
            "figure": f"worker fan-out: {args.n} jobs, one worker process, "
            f"provider latency {latency_s:g} s",
            "target": f"{args.n} jobs done within {limit_s:g} s",
            "result": f"{ended}/{args.n} ended, last after {done_s} s",
            "baseline": f"{args.n} bare pings fanned out: {pings_s:.2f} s; "
            f"direct synth+encode {direct_ms:.1f} ms/job",
            "ratio": {
                "done_over_latency": round(done_s / latency_s, 2),
                "done_over_ping_burst": round(done_s / pings_s, 1),
            },
            "checks": checks,
            "n": args.n,
            "ping_burst_s": round(pings_s, 3),
            "send_burst_s": round(sent_s, 3),
            "direct_synth_encode_ms": round(direct_ms, 2),
            "synth_encode_cpu_for_all_s": round(args.n * direct_ms / 1000, 2),
            **timing,
            "jobs": jobs_timeline,
            "processes": processes,
            "database_waits": waits.report(),
            "profile": prof.summary(),
        }
    )


if __name__ == "__main__":
    main()
