"""Jobs stuck past their maximum runtime: the reaper expires them and releases their holds.

Three ways to be stuck, at once, each with a caller waiting:
- dead: its worker was killed mid-call and nothing will redeliver it for a long while;
- lost: its message vanished from the queue before any worker took it (as a Redis restart
  without persistence would do), so it stays queued;
- slow: its worker is alive but the provider takes longer than the maximum runtime; when it
  finally delivers, the job is already expired, so nothing may be charged or kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import redis

from common.jobs.states import JobStatus
from tests.faults.harness import (
    QUEUE_KEY,
    Burst,
    Rows,
    assert_no_server_error,
    figure,
    full_log,
    queue_depth,
    running,
    verify_ledger,
    wait_for,
    wait_worker_ready,
)
from tests.fixtures.stack import Stack

MAX_RUNTIME_S = 5
EXPIRED_WITHIN_S = 60
# Longer than the maximum runtime plus a reaper pass: the slow job delivers after its expiry.
PROVIDER_S = 12


@pytest.fixture
def stack(database: str, tmp_path: Path) -> Iterator[Stack]:
    env = {
        "OFFLINE_LATENCY_MS": str(PROVIDER_S * 1000),
        "JOB_MAX_RUNTIME_S": str(MAX_RUNTIME_S),
        "REAPER_INTERVAL_S": "2",
    }
    stack = Stack(tmp_path / "stack", database_url=database, beat=True, workers=0, env=env)
    with running(stack):
        yield stack


def test_stuck_jobs_expire_and_release_their_holds(stack: Stack, rows: Rows) -> None:
    account_id, key = stack.account("5")

    def submit(tag: str, status: str) -> tuple[Burst, str]:
        before = set(rows.statuses(account_id))
        burst = Burst(stack, key, [{"prompt": tag, "music_length_ms": 1000}]).start()
        new = wait_for(
            lambda: [i for i, s in rows.statuses(account_id).items() if i not in before],
            timeout=10,
            what=f"the {tag} job",
        )
        wait_for(
            lambda: rows.statuses(account_id)[new[0]] == status, timeout=10, what=f"{tag} {status}"
        )
        return burst, new[0]

    stack.start_worker(0)
    wait_worker_ready(stack, "worker")
    dead = submit("dead", JobStatus.RUNNING)
    stack.kill("worker")

    lost = submit("lost", JobStatus.QUEUED)
    wait_for(lambda: queue_depth(stack)[0] == 1, timeout=5, what="the lost job's message")
    with redis.Redis.from_url(stack.env["REDIS_URL"]) as client:
        client.delete(QUEUE_KEY)

    stack.start_worker(1)
    wait_worker_ready(stack, "worker1")
    slow = submit("slow", JobStatus.RUNNING)

    stuck = {"dead": dead[1], "lost": lost[1], "slow": slow[1]}
    wait_for(
        lambda: all(rows.statuses(account_id)[i] == JobStatus.EXPIRED for i in stuck.values()),
        timeout=MAX_RUNTIME_S + EXPIRED_WITHIN_S,
        what="every stuck job expired",
        interval=0.25,
    )
    answers = {name: burst.answers(timeout=30)[0] for name, (burst, _) in (
        ("dead", dead), ("lost", lost), ("slow", slow)
    )}  # fmt: skip
    # The slow job's worker finishes after the expiry and must give up its result.
    wait_for(
        lambda: '"outcome": "late"' in full_log(stack, "worker1"),
        timeout=PROVIDER_S + 10,
        what="late",
    )

    jobs = {j.id: j for j in rows.jobs(account_id)}
    holds = {h.job_id: h for h in rows.holds(account_id)}
    expired_after = {n: _after(jobs[i].finished_at, jobs[i].deadline_at) for n, i in stuck.items()}
    released_after = {n: _after(holds[i].settled_at, jobs[i].deadline_at) for n, i in stuck.items()}
    figure(
        stuck_expired_after_deadline_s=round(
            max(d.total_seconds() for d in expired_after.values()), 2
        ),
        hold_released_after_deadline_s=round(
            max(d.total_seconds() for d in released_after.values()), 2
        ),
        **{f"{n}_s": round(d.total_seconds(), 2) for n, d in expired_after.items()},
    )
    for name, job_id in stuck.items():
        assert 0 <= expired_after[name].total_seconds() <= EXPIRED_WITHIN_S, name
        assert holds[job_id].state == "released", name
        assert jobs[job_id].error_code == "job_expired", name
    assert {n: jobs[i].provider_calls for n, i in stuck.items()} == {
        "dead": 1,
        "lost": 0,
        "slow": 1,
    }
    # Callers waiting on stuck jobs get a clean 502 naming the job; nothing was charged or kept.
    assert_no_server_error(list(answers.values()), {502})
    assert {n: a.job_id for n, a in answers.items()} == stuck
    assert rows.captures(account_id) == []
    assert stack.balance(account_id) == "5"
    assert [p for p in (stack.data_dir / "blobs").rglob("*") if p.is_file()] == []
    verify_ledger(stack)


def _after(moment: datetime | None, deadline: datetime) -> timedelta:
    assert moment is not None
    return moment - deadline
