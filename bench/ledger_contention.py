"""Ledger contention: hold + capture pairs on one account from 32 concurrent clients.

Against a fresh Postgres database migrated with `alembic upgrade head`, 32 clients each make the
two money statements of a job, in autocommit as the app sends them, all on the same account row:
`common.ledger.service.place_hold` with the job's row (the accept: job row and hold in one
statement), then `common.jobs.service.complete_job_in_one_statement` (the completion: the job
succeeded and its hold captured in one statement). The job row is written as a claimed (running)
job, so the claim, which touches no money, is left out. Real clients are separate API and worker
processes, so these are too: 4 spawned processes x 8 threads (`--processes`), each process with
its own engine and session factory, so no one client's GIL bounds the figure. Every thread first
makes a few unmeasured pairs (connections and statement caches warm), then all processes wait
on one start signal and the window runs from that signal to the last pair. Measured in the same
run:
  - pairs per second and per-pair latency on one account (the figure);
  - the client processes' CPU (time.process_time in each, summed) and the Postgres backends' CPU,
    per pair;
  - baseline: the same clients with one account each (no shared row), and one client alone (one
    process, one thread);
  - baseline: the raw SQL ceiling, the same two Postgres statements (compiled from
    `common.ledger.repository`, not copied) sent through bare psycopg in autocommit, no
    SQLAlchemy session, same processes x threads, on another fresh account: what this machine's
    Postgres allows on one row;
  - what the contended backends wait on (pg_stat_activity sampled every 20 ms);
  - `python -m api.cli ledger verify` on the database afterwards (every job's capture against
    its price and receipt).
Target: >= 1,000 hold + capture pairs per second, ledger verify clean.

Run: .venv/bin/python bench/ledger_contention.py [--threads 32] [--processes 4]
     [--pairs-per-thread 250]   (needs Postgres, as `make test`)
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import multiprocessing
import os
import queue
import re
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psutil
import psycopg
from _harness import ROOT, check, emit, summary_ms
from _observe import Profiler, WaitSampler
from sqlalchemy import TextClause
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg
from sqlalchemy.orm import Session, sessionmaker

from common.account import service as accounts
from common.config import Settings
from common.db import create_db_engine, create_session_factory, one_statement, transaction, utcnow
from common.jobs import service as jobs
from common.ledger import repository as ledger_sql
from common.ledger import service as ledger
from tests.fixtures.databases import create_migrated_database, drop_database

PRICE = 135_000  # one second of elevenlabs-music, in micro-dollars
WARMUP = 2  # unmeasured pairs per client before the start signal
START_TIMEOUT_S = 300  # for every process to import, connect and warm up
RUN_TIMEOUT_S = 1200

Work = list[tuple[str, list[str]]]  # per client: account id, job ids (the first WARMUP warm up)
Pair = Callable[[str, str], None]  # (account id, job id): one hold + capture


def make_accounts(sessions: sessionmaker[Session], count: int, pairs: int) -> list[str]:
    with transaction(sessions) as session:
        return [
            accounts.create_account(session, name="bench", balance_micro_usd=PRICE * pairs * 2).id
            for _ in range(count)
        ]


def job_ids(count: int) -> list[str]:
    return [f"job_{uuid.uuid4().hex}" for _ in range(count)]


def running_job_row(account_id: str, job_id: str, hold_id: str) -> dict[str, Any]:
    """Every column of a claimed job priced at PRICE, as its hold writes it."""
    now = utcnow()
    return dict.fromkeys(ledger_sql.JOB_COLUMNS) | {
        "id": job_id,
        "account_id": account_id,
        "kind": "audio",
        "status": "running",
        "model": "elevenlabs-music",
        "prompt": "bench",
        "music_length_ms": 1000,
        "response_format": "mp3_44100_128",
        "save_to_blob": False,
        "cost_micro_usd": PRICE,
        "hold_id": hold_id,
        "provider": "elevenlabs",
        "provider_calls": 1,
        "created_at": now,
        "started_at": now,
        "deadline_at": now + timedelta(hours=1),
    }


COMPLETION = {
    "blob_key": "audio/bench.mp3",
    "blob_size": 1,
    "content_type": "audio/mpeg",
    "billed_duration_ms": 1000,
    "provider_ref": None,
    "retain_until": None,
    "public_url": None,
}


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


def psycopg_text(statement: TextClause) -> str:
    """A SQLAlchemy text() statement with its :name parameters spelled as psycopg's."""
    return re.sub(r"(?<!:):(\w+)", r"%(\1)s", statement.text)


# The app's own Postgres statements for a job's accept and completion, for bare psycopg.
RAW_HOLD = ledger_sql.pg_hold(True).compile(dialect=postgresql_psycopg.dialect())
RAW_COMPLETE = psycopg_text(ledger_sql.PG_COMPLETE.element)


class Refused(Exception):
    """A statement wrote nothing (available balance short, or the job not running)."""


def orm_pair(sessions: sessionmaker[Session], account_id: str, job_id: str) -> None:
    hold_id = ledger.new_hold_id()
    with one_statement(sessions) as session:
        ledger.place_hold(
            session,
            account_id=account_id,
            job_id=job_id,
            amount_micro_usd=PRICE,
            hold_id=hold_id,
            job_row=running_job_row(account_id, job_id, hold_id),
        )
    with one_statement(sessions) as session:
        if jobs.complete_job_in_one_statement(session, job_id=job_id, **COMPLETION) is None:
            raise Refused("complete")


def raw_pair(conn: psycopg.Connection[Any], account_id: str, job_id: str) -> None:
    hold_id = ledger.new_hold_id()
    now = utcnow()
    row = running_job_row(account_id, job_id, hold_id)
    hold = RAW_HOLD.construct_params(
        {
            "hold_id": hold_id,
            "account_id": account_id,
            "job_id": job_id,
            "amount": PRICE,
            "max_in_flight": ledger_sql.NO_LIMIT,
            "now": now,
        }
        | {f"job_row_{name}": value for name, value in row.items()}
    )
    judged = conn.execute(RAW_HOLD.string, hold).fetchone()
    if judged is None or judged[2] is None:  # (covered, under_limit, hold id)
        raise Refused("hold")
    complete = {"job_id": job_id, "now": now} | COMPLETION
    if conn.execute(RAW_COMPLETE, complete).fetchone() is None:
        raise Refused("complete")


def client_process(
    kind: str,
    database_url: str,
    work: Work,
    ready: Any,
    go: Any,
    finish: Any,
    results: Any,
) -> None:
    """One client process (spawned): a thread per work item, on this process's own engine
    ("orm") or own psycopg connections ("raw"). Warms up, waits at `ready`, runs from `go`,
    puts its latencies, errors, CPU seconds and end time on `results`, then holds its
    connections open until `finish` (so the parent can read their backends' CPU)."""
    try:
        closers: list[Callable[[], None]] = []
        connect: Callable[[], Pair]
        if kind == "orm":
            engine = create_db_engine(Settings(database_url=database_url, redis_url=""))
            sessions = create_session_factory(engine)
            closers.append(engine.dispose)

            def connect() -> Pair:
                return lambda account_id, job_id: orm_pair(sessions, account_id, job_id)

        else:
            plain_url = database_url.replace("postgresql+psycopg://", "postgresql://")

            def connect() -> Pair:
                conn = psycopg.connect(plain_url, autocommit=True)
                closers.append(conn.close)
                return lambda account_id, job_id: raw_pair(conn, account_id, job_id)

        warmed = threading.Barrier(len(work) + 1)
        start = threading.Event()
        lock = threading.Lock()
        latencies: list[float] = []
        ends: list[float] = []
        errors: collections.Counter[str] = collections.Counter()

        def attempt(pair: Pair, account_id: str, job_id: str) -> float | None:
            began = time.perf_counter()
            try:
                pair(account_id, job_id)
            except Exception as exc:
                with lock:
                    errors[type(exc).__name__] += 1
                return None
            return time.perf_counter() - began

        def client(account_id: str, job_ids: list[str]) -> None:
            try:
                pair: Pair | None = connect()
            except Exception as exc:
                with lock:
                    errors[f"connect {type(exc).__name__}"] += 1
                pair = None
            if pair is not None:
                for job_id in job_ids[:WARMUP]:
                    attempt(pair, account_id, job_id)
            warmed.wait()
            start.wait()
            if pair is not None:
                for job_id in job_ids[WARMUP:]:
                    took = attempt(pair, account_id, job_id)
                    if took is not None:
                        latencies.append(took)
            ends.append(time.monotonic())

        threads = [threading.Thread(target=client, args=item, daemon=True) for item in work]
        for thread in threads:
            thread.start()
        warmed.wait()
        ready.wait(timeout=START_TIMEOUT_S)
        go.wait()
        cpu = time.process_time()
        start.set()
        for thread in threads:
            thread.join()
        cpu = time.process_time() - cpu
        results.put(
            {
                "pid": os.getpid(),
                "latencies": latencies,
                "errors": dict(errors),
                "cpu_s": cpu,
                "end": max(ends),
            }
        )
        finish.wait(timeout=RUN_TIMEOUT_S)
        for close in closers:
            with contextlib.suppress(Exception):
                close()
    except BaseException:
        ready.abort()
        results.put({"pid": os.getpid(), "failed": traceback.format_exc()})
        raise


class ClientProcesses:
    """`processes` spawned client processes sharing `work` (one thread per item) between them,
    started, connected and warmed up on entry, waiting for `run`; their pids are `pids`, for
    watching them while they run."""

    def __init__(
        self,
        kind: str,
        database_url: str,
        work: Work,
        processes: int,
    ) -> None:
        context = multiprocessing.get_context("spawn")
        processes = min(processes, len(work))
        self._plain_url = database_url.replace("postgresql+psycopg://", "postgresql://")
        self._ready = context.Barrier(processes + 1)
        self._go = context.Event()
        self._finish = context.Event()
        self._results: Any = context.Queue()
        self._layout = (processes, len(work) // processes)
        self._processes = [
            context.Process(
                target=client_process,
                args=(
                    kind,
                    database_url,
                    work[index::processes],
                    self._ready,
                    self._go,
                    self._finish,
                    self._results,
                ),
                daemon=True,
            )
            for index in range(processes)
        ]

    @property
    def pids(self) -> dict[str, int]:
        return {f"client{i}": p.pid for i, p in enumerate(self._processes) if p.pid is not None}

    def __enter__(self) -> ClientProcesses:
        try:
            for process in self._processes:
                process.start()
            try:
                self._ready.wait(timeout=START_TIMEOUT_S)
            except threading.BrokenBarrierError:
                raise RuntimeError(f"a client process did not start:\n{self._failure()}") from None
        except BaseException:
            self.__exit__()
            raise
        return self

    def _failure(self) -> str:
        with contextlib.suppress(queue.Empty):
            while True:
                outcome = self._results.get(timeout=5)
                if "failed" in outcome:
                    return str(outcome["failed"])
        return "(no traceback)"

    def run(self) -> dict[str, Any]:
        """Start every client at once; rate and latency of the pairs, and the CPU the clients
        and the Postgres backends spent per pair."""
        server_cpu = backend_cpu_s(self._plain_url)
        start = time.monotonic()  # CLOCK_MONOTONIC: comparable with the children's end times
        self._go.set()
        outcomes: list[dict[str, Any]] = []
        deadline = start + RUN_TIMEOUT_S
        while len(outcomes) < len(self._processes):
            try:
                outcome = self._results.get(timeout=1)
            except queue.Empty:
                dead = [p.exitcode for p in self._processes if p.exitcode is not None]
                if dead or time.monotonic() > deadline:
                    raise RuntimeError(f"client processes ended early ({dead}) or hung") from None
                continue
            if "failed" in outcome:
                raise RuntimeError(f"a client process failed:\n{outcome['failed']}")
            outcomes.append(outcome)
        server_cpu = backend_cpu_s(self._plain_url) - server_cpu
        elapsed = max(o["end"] for o in outcomes) - start
        latencies = [t for o in outcomes for t in o["latencies"]]
        errors: collections.Counter[str] = collections.Counter()
        for outcome in outcomes:
            errors.update(outcome["errors"])
        client_cpu = sum(o["cpu_s"] for o in outcomes)
        pairs = max(len(latencies), 1)
        processes, threads = self._layout
        return {
            "processes": processes,
            "threads_per_process": threads,
            "pairs": len(latencies),
            "seconds": round(elapsed, 3),
            "pairs_per_s": round(len(latencies) / elapsed, 1),
            "latency": summary_ms(latencies),
            "errors": dict(errors),
            "client_cpu_ms_per_pair": round(1000 * client_cpu / pairs, 2),
            "client_cpu_cores": round(client_cpu / elapsed, 2),
            "postgres_cpu_ms_per_pair": round(1000 * server_cpu / pairs, 2),
        }

    def __exit__(self, *_: object) -> None:
        self._finish.set()
        for process in self._processes:
            if process.pid is None:
                continue
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
                process.join(timeout=10)


def run_pairs(kind: str, database_url: str, work: Work, processes: int) -> dict[str, Any]:
    """`work` over `processes` client processes, unwatched."""
    with ClientProcesses(kind, database_url, work, processes) as clients:
        return clients.run()


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


def share(value: float, of: float) -> float | None:
    return round(value / of, 2) if of else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=32, help="concurrent clients in all")
    parser.add_argument("--processes", type=int, default=4, help="client processes to spread over")
    parser.add_argument("--pairs-per-thread", type=int, default=250)
    parser.add_argument("--profile", default=None, help="write py-spy stacks of the clients here")
    args = parser.parse_args()
    threads, processes, per_thread = args.threads, args.processes, args.pairs_per_thread
    if processes < 1 or threads % processes:
        parser.error("--threads must be a multiple of --processes")
    database_url = create_migrated_database("musicgw_bench_ledger")
    engine = create_db_engine(Settings(database_url=database_url, redis_url=""))
    sessions = create_session_factory(engine)
    plain_url = database_url.replace("postgresql+psycopg://", "postgresql://")

    def work_for(account_id: str, pairs: int = per_thread) -> tuple[str, list[str]]:
        return account_id, job_ids(WARMUP + pairs)

    try:
        shared, alone, raw_account = make_accounts(sessions, 3, threads * (per_thread + WARMUP))
        own = make_accounts(sessions, threads, per_thread + WARMUP)
        single = run_pairs("orm", database_url, [work_for(alone, per_thread * 2)], 1)
        work = [work_for(shared) for _ in range(threads)]
        with (
            ClientProcesses("orm", database_url, work, processes) as clients,
            WaitSampler(plain_url) as waits,
            Profiler(args.profile, "ledger_contention", clients.pids) as prof,
        ):
            contended = clients.run()
        spread = run_pairs("orm", database_url, [work_for(acct) for acct in own], processes)
        raw = run_pairs(
            "raw", database_url, [work_for(raw_account) for _ in range(threads)], processes
        )
        code, output = verify(database_url)
    finally:
        engine.dispose()
        drop_database(database_url)
    errors = sum(contended["errors"].values())
    layout = f"{processes} processes x {threads // processes} threads"
    checks = [
        check("pairs/s on one account", contended["pairs_per_s"], ">=", 1000),
        check("pair errors", errors, "<=", 0),
        check("ledger verify exit code", code, "<=", 0),
    ]
    emit(
        {
            "bench": "ledger_contention",
            "figure": f"ledger: one account, {threads} concurrent clients ({layout}), "
            "hold + capture pairs (a job's accept and completion statements)",
            "target": ">= 1000 pairs/s, `musicgw ledger verify` clean",
            "result": f"{contended['pairs_per_s']} pairs/s (p99 "
            f"{contended['latency'].get('p99_ms')} ms), verify "
            f"{'clean' if code == 0 else 'FAILED'}",
            "baseline": f"{threads} accounts, one per client: {spread['pairs_per_s']} pairs/s; "
            f"one client alone: {single['pairs_per_s']} pairs/s; raw SQL ceiling (the same "
            f"statements via bare psycopg, autocommit, one account, {layout}): "
            f"{raw['pairs_per_s']} pairs/s",
            "ratio": {
                "of_uncontended": share(contended["pairs_per_s"], spread["pairs_per_s"]),
                "of_raw_sql_ceiling": share(contended["pairs_per_s"], raw["pairs_per_s"]),
            },
            "checks": checks,
            "threads": threads,
            "processes": processes,
            "contended": contended,
            "uncontended": spread,
            "single_client": single,
            "raw_sql_ceiling": raw,
            "contended_waits": waits.report(),
            "verify_exit_code": code,
            "verify_output": output,
            "profile": prof.summary(),
        }
    )


if __name__ == "__main__":
    main()
