"""Redis stopped for 5 s while 50 jobs are in flight.

Redis is the broker, the job-event channel and the rate limiter's store. It is shut down without
saving (as a crash would leave it: queue, unacknowledged messages and bindings all gone) and
started again with the command `.ci/run` uses. Meanwhile new requests must get 503 with the
error envelope, and once it answers again a new request must succeed within 10 s.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from common.jobs.states import JobStatus
from tests.faults.harness import (
    Answer,
    Burst,
    Rows,
    assert_no_server_error,
    assert_settled_once,
    figure,
    first_success,
    full_log,
    outage_stack,
    post_track,
    tracks,
    verify_ledger,
    wait_for,
    wait_running,
)
from tests.fixtures.databases import REDIS_URL
from tests.fixtures.stack import Stack

pytestmark = pytest.mark.faults_slow

JOBS = 50
OUTAGE_S = 5.0
RECOVERY_WITHIN_S = 10.0
# Each job, the recovery probe's included, spends this long at the provider: it is not part of
# the recovery time.
PROVIDER_S = 8

_redis = urlsplit(REDIS_URL)
REDIS_PORT = str(_redis.port or 6379)
# How .ci/run starts Redis (in-memory only), on the port the tests use.
REDIS_START = [
    "redis-server",
    "--daemonize", "yes",
    "--bind", "127.0.0.1", "-::1",
    "--port", REDIS_PORT,
    "--save", "",
    "--appendonly", "no",
    "--dir", "/var/lib/redis",
    "--logfile", "/var/log/redis/ci.log",
]  # fmt: skip


def _redis_answers() -> bool:
    ping = subprocess.run(
        ["redis-cli", "-p", REDIS_PORT, "ping"], capture_output=True, text=True, timeout=10
    )
    return ping.stdout.strip() == "PONG"


@contextlib.contextmanager
def redis_stopped() -> Iterator[None]:
    """Redis down for the block; always started again (and answering) afterwards."""
    subprocess.run(
        ["redis-cli", "-p", REDIS_PORT, "shutdown", "nosave"], capture_output=True, timeout=30
    )
    try:
        wait_for(lambda: not _redis_answers(), timeout=10, what="Redis down")
        yield
    finally:
        if not _redis_answers():
            subprocess.run(REDIS_START, check=True, capture_output=True, timeout=30)
        wait_for(_redis_answers, timeout=30, what="Redis answering PING")


@pytest.fixture
def stack(database: str, tmp_path: Path) -> Iterator[Stack]:
    if _redis.hostname not in ("127.0.0.1", "localhost"):
        pytest.skip("Redis is not a local server this test may stop and start")
    with outage_stack(
        database,
        tmp_path / "stack",
        provider_s=PROVIDER_S,
        max_runtime_s=20,
        reaper_interval_s=1,
    ) as stack:
        yield stack


def test_redis_outage_is_a_503_and_loses_nothing(stack: Stack, rows: Rows) -> None:
    account_id, key = stack.account("50")
    probe_account, probe_key = stack.account("50")
    burst = Burst(stack, key, tracks(JOBS, tag="redis outage")).start()
    wait_running(rows, account_id, JOBS)

    outage: list[Answer] = []
    health: list[int] = []
    with stack.client(probe_key, timeout=30) as client, redis_stopped():
        down_at = time.monotonic()
        while time.monotonic() - down_at < OUTAGE_S:
            outage.append(post_track(client, "during the outage"))
            health.append(client.get("/healthz").status_code)
    back_at = time.monotonic()
    with stack.client(probe_key) as client:
        recovered = first_success(
            client, until=back_at + RECOVERY_WITHIN_S + PROVIDER_S, tag="after the outage"
        )
    recovery_s = (recovered.at - back_at - PROVIDER_S) if recovered else None

    answers = burst.answers(timeout=120)
    wait_for(
        lambda: rows.all_terminal(account_id, JOBS),
        timeout=60,
        what="every in-flight job terminal",
    )
    wait_for(partial(rows.all_ended, probe_account), timeout=60, what="every probe job ended")

    outage_statuses = Counter(a.status for a in outage)
    figure(
        redis_recovery_s=round(recovery_s, 2) if recovery_s is not None else "never",
        outage_answers=dict(outage_statuses),
        in_flight_answers=dict(Counter(a.status for a in answers)),
    )
    # While Redis is down: 503 in the envelope, with Retry-After; the process itself is alive.
    assert outage and set(outage_statuses) == {503}, [(a.status, a.body[:200]) for a in outage]
    assert {a.json()["error"]["code"] for a in outage} == {"service_unavailable"}
    assert all("retry-after" in a.headers for a in outage)
    assert set(health) == {200}
    assert "Exception in ASGI application" not in full_log(stack, "api")
    # A request accepted during the outage was never run, so never charged.
    probe_jobs = {j.id: j for j in rows.jobs(probe_account)}
    for answer in outage:
        if answer.job_id is not None:
            assert probe_jobs[answer.job_id].status == JobStatus.FAILED

    assert_no_server_error(answers, {200, 502})
    for account in (account_id, probe_account):
        assert_settled_once(rows, account)
    verify_ledger(stack)

    worker = stack.processes["worker"].poll()
    assert recovery_s is not None and recovery_s <= RECOVERY_WITHIN_S, (
        f"no new request succeeded within {RECOVERY_WITHIN_S:g} s of Redis answering again; "
        f"worker exit code {worker}; worker log: {_worker_errors(stack)}"
    )


def _worker_errors(stack: Stack) -> list[str]:
    """The worker's fatal log lines (plain or JSON format), shortened."""
    lines = full_log(stack, "worker").splitlines()
    return [line[:300] for line in lines if "CRITICAL" in line or "Unrecoverable" in line][:3]
