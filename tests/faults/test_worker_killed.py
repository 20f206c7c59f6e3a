"""`kill -9` the worker during 20 in-flight jobs, then restart it.

The worker runs 16 threads, so 16 jobs are mid-call when it dies and 4 still wait in the queue.
The 16 messages it had taken stay in kombu's unacknowledged set, out of reach until the
visibility timeout; the reaper expires their jobs. The 4 queued ones run on the new worker.
Then the killed worker's messages are redelivered on purpose (kombu's own restore, without
waiting out the timeout): the new worker must find every job already ended and change nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Connection

from common.jobs.states import TERMINAL, JobStatus
from tests.faults.harness import (
    Burst,
    Rows,
    assert_no_server_error,
    figure,
    log_lines,
    queue_depth,
    running,
    tracks,
    verify_ledger,
    wait_for,
    wait_worker_ready,
)
from tests.fixtures.stack import Stack

pytestmark = pytest.mark.faults_slow

JOBS = 20
# Stack.start_worker runs 16 threads, and a threads worker takes no more than that at a time.
WORKER_THREADS = 16
MAX_PROVIDER_CALLS = 2
TERMINAL_WITHIN_S = 120


@pytest.fixture
def stack(database: str, tmp_path: Path) -> Iterator[Stack]:
    env = {
        "OFFLINE_LATENCY_MS": "6000",
        "JOB_MAX_RUNTIME_S": "20",
        "REAPER_INTERVAL_S": "1",
    }
    with running(Stack(tmp_path / "stack", database_url=database, beat=True, env=env)) as stack:
        yield stack


def test_jobs_of_a_killed_worker_end_and_are_never_charged_twice(stack: Stack, rows: Rows) -> None:
    wait_worker_ready(stack, "worker")
    account_id, key = stack.account("10")
    burst = Burst(stack, key, tracks(JOBS, tag="killed worker")).start()

    def in_flight() -> bool:
        found = list(rows.statuses(account_id).values())
        return len(found) == JOBS and found.count(JobStatus.RUNNING) == WORKER_THREADS

    wait_for(in_flight, timeout=30, what=f"{WORKER_THREADS} running jobs of {JOBS}")
    # A job's row is committed before its task is sent, so the last sends may still be on
    # their way: wait until every message is either waiting or taken.
    wait_for(
        lambda: queue_depth(stack) == (JOBS - WORKER_THREADS, WORKER_THREADS),
        timeout=10,
        what=f"{JOBS - WORKER_THREADS} messages waiting and {WORKER_THREADS} taken",
    )
    assert in_flight()
    stack.kill("worker")
    killed_at = time.monotonic()
    stack.start_worker()

    wait_for(
        lambda: rows.all_terminal(account_id, JOBS),
        timeout=TERMINAL_WITHIN_S,
        what="every job terminal",
        interval=0.25,
    )
    terminal_s = time.monotonic() - killed_at
    answers = burst.answers(timeout=60)

    jobs = rows.jobs(account_id)
    holds = {h.job_id: h.state for h in rows.holds(account_id)}
    captures = rows.captured(account_id)
    outcome = {s: sum(j.status == s for j in jobs) for s in sorted(TERMINAL)}
    figure(
        killed_worker_terminal_s=round(terminal_s, 1),
        max_provider_calls=max(j.provider_calls for j in jobs),
        **outcome,
    )
    assert terminal_s <= TERMINAL_WITHIN_S
    assert "active" not in holds.values()
    assert all(j.provider_calls <= MAX_PROVIDER_CALLS for j in jobs), [
        (j.id, j.provider_calls) for j in jobs
    ]
    assert captures == sorted(j.id for j in jobs if j.status == JobStatus.SUCCEEDED)
    assert all(holds[j.id] == "released" for j in jobs if j.status != JobStatus.SUCCEEDED)
    assert_no_server_error(answers, {200, 502})
    assert {a.job_id for a in answers} == {j.id for j in jobs}

    before = rows.snapshot(account_id)
    abandoned = queue_depth(stack)[1]
    assert abandoned == WORKER_THREADS
    skipped = _skipped(stack)
    _redeliver_unacknowledged(stack)
    wait_for(lambda: queue_depth(stack) == (0, 0), timeout=60, what="redelivered messages acked")
    wait_for(lambda: _skipped(stack) == skipped + abandoned, timeout=10, what="skipped deliveries")
    assert rows.snapshot(account_id) == before
    verify_ledger(stack)


def _redeliver_unacknowledged(stack: Stack) -> None:
    """Put every delivered-but-unacknowledged message back on its queue now, as kombu does once
    the visibility timeout has passed."""
    options = {"visibility_timeout": 0}
    with Connection(stack.env["REDIS_URL"], transport_options=options) as connection:
        connection.default_channel.qos.restore_visible(num=1000, interval=1)


def _skipped(stack: Stack) -> int:
    """Deliveries the worker found nothing to do for (its job no longer queued)."""
    return log_lines(stack, "worker", "not claimable")
