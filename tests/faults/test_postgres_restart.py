"""Postgres stopped with `-m immediate` (a crash: no checkpoint, every connection cut) while 50
jobs are in flight, then started again.

While it is down the API answers 503 in the error envelope (never a 500); once it accepts
connections a new request succeeds within 10 s; every job ends, and after the reaper's period
the ledger holds.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.faults.harness import (
    Answer,
    Burst,
    Rows,
    assert_no_server_error,
    assert_settled_once,
    call,
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
from tests.fixtures.databases import ADMIN_URL
from tests.fixtures.stack import Stack

pytestmark = pytest.mark.faults_slow

JOBS = 50
DOWN_S = 3.0
RECOVERY_WITHIN_S = 10.0
# Each job, the recovery probe's included, spends this long at the provider: it is not part of
# the recovery time.
PROVIDER_S = 8
REAPER_INTERVAL_S = 1

_postgres = urlsplit(ADMIN_URL)
POSTGRES_PORT = str(_postgres.port or 5432)


def _cluster() -> tuple[str, str] | None:
    """(version, name) of the local Debian cluster on the tests' port (15/main under .ci/run)."""
    if _postgres.hostname not in ("127.0.0.1", "localhost") or not shutil.which("pg_lsclusters"):
        return None
    listed = subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True, timeout=30
    )
    for line in listed.stdout.splitlines():
        version, name, port, *_ = line.split()
        if port == POSTGRES_PORT:
            return version, name
    return None


def _pg_ctlcluster(action: str, *options: str) -> None:
    cluster = _cluster()
    assert cluster is not None
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, action, *options],
        check=True,
        capture_output=True,
        timeout=60,
    )


def _postgres_ready() -> bool:
    host = _postgres.hostname or "127.0.0.1"
    ready = subprocess.run(["pg_isready", "-h", host, "-p", POSTGRES_PORT, "-q"], timeout=10)
    return ready.returncode == 0


@contextlib.contextmanager
def postgres_stopped() -> Iterator[None]:
    """Postgres crashed for the block; always started again (and accepting) afterwards."""
    _pg_ctlcluster("stop", "-m", "immediate")
    try:
        yield
    finally:
        if not _postgres_ready():
            _pg_ctlcluster("start")
        wait_for(_postgres_ready, timeout=60, what="Postgres accepting connections")


@pytest.fixture
def stack(database: str, tmp_path: Path) -> Iterator[Stack]:
    if _cluster() is None:
        pytest.skip("Postgres is not a local cluster this test may stop and start")
    with outage_stack(
        database,
        tmp_path / "stack",
        provider_s=PROVIDER_S,
        max_runtime_s=30,
        reaper_interval_s=REAPER_INTERVAL_S,
    ) as stack:
        yield stack


def test_postgres_crash_is_a_503_and_loses_nothing(stack: Stack, rows: Rows) -> None:
    account_id, key = stack.account("50")
    probe_account, probe_key = stack.account("50")
    burst = Burst(stack, key, tracks(JOBS, tag="postgres restart")).start()
    wait_running(rows, account_id, JOBS)
    some_job = next(iter(rows.statuses(account_id)))

    outage: list[Answer] = []
    reads: list[Answer] = []
    health: list[int] = []
    with stack.client(probe_key, timeout=30) as client, postgres_stopped():
        down_at = time.monotonic()
        while time.monotonic() - down_at < DOWN_S:
            outage.append(post_track(client, "while Postgres is down"))
            reads.append(call(client, "GET", f"/v1/jobs/{some_job}"))
            health.append(client.get("/healthz").status_code)
    back_at = time.monotonic()
    with stack.client(probe_key) as client:
        recovered = first_success(
            client, until=back_at + RECOVERY_WITHIN_S + PROVIDER_S, tag="after the restart"
        )
    recovery_s = (recovered.at - back_at - PROVIDER_S) if recovered else None

    answers = burst.answers(timeout=180)
    for account in (account_id, probe_account):
        wait_for(
            partial(rows.all_ended, account), timeout=120, what="every job ended", interval=0.5
        )
    # One more reaper pass over a database where everything has ended.
    time.sleep(REAPER_INTERVAL_S * 2)

    figure(
        postgres_recovery_s=round(recovery_s, 2) if recovery_s is not None else "never",
        outage_posts=dict(Counter(a.status for a in outage)),
        outage_reads=dict(Counter(a.status for a in reads)),
        in_flight_answers=dict(Counter(a.status for a in answers)),
    )
    for answer in outage + reads:
        assert answer.status == 503, (answer.status, answer.error, answer.body[:300])
        assert answer.json()["error"]["code"] == "service_unavailable"
    assert outage and set(health) == {200}
    assert "Exception in ASGI application" not in full_log(stack, "api")

    # Callers held open through the crash get their track or a clean failure, with the job id.
    assert_no_server_error(answers, {200, 502})
    jobs = {j.id: j for j in rows.jobs(account_id)}
    assert {a.job_id for a in answers} == set(jobs)
    for account in (account_id, probe_account):
        assert_settled_once(rows, account)
    verify_ledger(stack)
    assert recovery_s is not None and recovery_s <= RECOVERY_WITHIN_S, recovery_s
