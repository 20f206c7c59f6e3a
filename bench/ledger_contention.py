"""Ledger contention: hold + capture pairs on one account from 32 concurrent clients.

Against a fresh Postgres database migrated with `alembic upgrade head`, 32 threads each run
`common.ledger.service.place_hold` in one transaction and `capture_hold` on that hold in the next
(the two transactions a job makes: accepted, then succeeded), all on the same account row. Each
hold belongs to a job row made beforehand as a succeeded, stored track at the hold's price, so
`musicgw ledger verify` can check every capture. Measured in the same run:
  - pairs per second and per-pair latency on one account (the figure);
  - baseline: the same 32 threads with one account each (no shared row), and one thread alone;
  - what the contended backends wait on (pg_stat_activity sampled every 20 ms);
  - `python -m api.cli ledger verify` on the database afterwards.
Target: >= 1,000 hold + capture pairs per second, ledger verify clean.

Run: .venv/bin/python bench/ledger_contention.py [--threads 32] [--pairs-per-thread 250]
(needs Postgres, as `make test`)
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import psutil
import psycopg
from _harness import ROOT, check, emit, summary_ms
from _observe import Profiler, WaitSampler
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from common.account import service as accounts
from common.config import Settings
from common.db import create_db_engine, create_session_factory, transaction, utcnow
from common.ledger import service as ledger
from common.models import Job
from tests.fixtures.databases import create_migrated_database, drop_database

PRICE = 135_000  # one second of elevenlabs-music, in micro-dollars


def make_accounts(sessions: sessionmaker[Session], count: int, pairs: int) -> list[str]:
    with transaction(sessions) as session:
        return [
            accounts.create_account(session, name="bench", balance_micro_usd=PRICE * pairs * 2).id
            for _ in range(count)
        ]


def make_jobs(sessions: sessionmaker[Session], account_id: str, count: int) -> list[str]:
    """Job rows as a stored, succeeded track would leave them, priced at PRICE."""
    now = utcnow()
    rows: list[dict[str, Any]] = [
        {
            "id": f"job_{uuid.uuid4().hex}",
            "account_id": account_id,
            "status": "succeeded",
            "model": "elevenlabs-music",
            "music_length_ms": 1000,
            "response_format": "mp3_44100_128",
            "cost_micro_usd": PRICE,
            "blob_key": "audio/bench.mp3",
            "blob_size": 1,
            "created_at": now,
            "finished_at": now,
            "deadline_at": now + timedelta(hours=1),
        }
        for _ in range(count)
    ]
    with transaction(sessions) as session:
        session.execute(insert(Job), rows)
    return [row["id"] for row in rows]


def backend_cpu_s(database_url: str) -> float:
    """CPU seconds used so far by the Postgres backends serving this database."""
    query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
    with psycopg.connect(database_url, autocommit=True) as conn:
        pids = [pid for (pid,) in conn.execute(query).fetchall()]
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


def run_pairs(
    sessions: sessionmaker[Session], work: list[tuple[str, list[str]]], database_url: str
) -> dict[str, Any]:
    """One thread per (account, job ids): hold then capture for each job; rate, latency, and
    the CPU this client and the Postgres backends spent per pair."""
    barrier = threading.Barrier(len(work) + 1)
    latencies: list[float] = []
    errors: collections.Counter[str] = collections.Counter()

    def client(account_id: str, job_ids: list[str]) -> None:
        barrier.wait()
        for job_id in job_ids:
            start = time.perf_counter()
            try:
                with transaction(sessions) as session:
                    hold = ledger.place_hold(
                        session, account_id=account_id, job_id=job_id, amount_micro_usd=PRICE
                    )
                with transaction(sessions) as session:
                    ledger.capture_hold(session, hold_id=hold.id)
            except Exception as exc:
                errors[type(exc).__name__] += 1
                continue
            latencies.append(time.perf_counter() - start)

    threads = [threading.Thread(target=client, args=item) for item in work]
    for thread in threads:
        thread.start()
    server_cpu = backend_cpu_s(database_url)
    barrier.wait()
    start, client_cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    client_cpu = time.process_time() - client_cpu
    server_cpu = backend_cpu_s(database_url) - server_cpu
    pairs = max(len(latencies), 1)
    return {
        "pairs": len(latencies),
        "seconds": round(elapsed, 3),
        "pairs_per_s": round(len(latencies) / elapsed, 1),
        "latency": summary_ms(latencies),
        "errors": dict(errors),
        "client_cpu_ms_per_pair": round(1000 * client_cpu / pairs, 2),
        "postgres_cpu_ms_per_pair": round(1000 * server_cpu / pairs, 2),
    }


def verify(database_url: str) -> tuple[int, str]:
    env = os.environ | {"DATABASE_URL": database_url, "REDIS_URL": ""}
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "ledger", "verify"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, (done.stdout + done.stderr).strip()[-2000:]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--pairs-per-thread", type=int, default=250)
    parser.add_argument("--profile", default=None, help="write py-spy stacks of this client here")
    args = parser.parse_args()
    threads, per_thread = args.threads, args.pairs_per_thread
    database_url = create_migrated_database("musicgw_bench_ledger")
    engine = create_db_engine(Settings(database_url=database_url, redis_url=""))
    sessions = create_session_factory(engine)
    plain_url = database_url.replace("postgresql+psycopg://", "postgresql://")
    try:
        shared, alone = make_accounts(sessions, 2, threads * per_thread)
        own = make_accounts(sessions, threads, per_thread)
        run_pairs(
            sessions, [(shared, make_jobs(sessions, shared, 4)) for _ in range(threads)], plain_url
        )
        single = run_pairs(
            sessions, [(alone, make_jobs(sessions, alone, per_thread * 2))], plain_url
        )
        with (
            WaitSampler(plain_url) as waits,
            Profiler(args.profile, "ledger_contention", {"client": os.getpid()}) as prof,
        ):
            contended = run_pairs(
                sessions,
                [(shared, make_jobs(sessions, shared, per_thread)) for _ in range(threads)],
                plain_url,
            )
        spread = run_pairs(
            sessions, [(acct, make_jobs(sessions, acct, per_thread)) for acct in own], plain_url
        )
        code, output = verify(database_url)
    finally:
        engine.dispose()
        drop_database(database_url)
    errors = sum(contended["errors"].values())
    checks = [
        check("pairs/s on one account", contended["pairs_per_s"], ">=", 1000),
        check("pair errors", errors, "<=", 0),
        check("ledger verify exit code", code, "<=", 0),
    ]
    emit(
        {
            "bench": "ledger_contention",
            "figure": f"ledger: one account, {threads} concurrent clients, hold + capture pairs",
            "target": ">= 1000 pairs/s, `musicgw ledger verify` clean",
            "result": f"{contended['pairs_per_s']} pairs/s (p99 "
            f"{contended['latency'].get('p99_ms')} ms), verify "
            f"{'clean' if code == 0 else 'FAILED'}",
            "baseline": f"{threads} accounts, one per client: {spread['pairs_per_s']} pairs/s; "
            f"one client alone: {single['pairs_per_s']} pairs/s",
            "ratio": round(contended["pairs_per_s"] / spread["pairs_per_s"], 2),
            "checks": checks,
            "threads": threads,
            "contended": contended,
            "uncontended": spread,
            "single_client": single,
            "contended_waits": waits.report(),
            "verify_exit_code": code,
            "verify_output": output,
            "profile": prof.summary(),
        }
    )


if __name__ == "__main__":
    main()
