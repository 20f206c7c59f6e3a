"""The provider misbehaving: 30% 5xx, 10% hanging past the read timeout, 5% malformed audio.

The 5xx are split between the two ways the gateway treats them: 503 (20%) is transient and
retried (`PROVIDER_MAX_ATTEMPTS`), 500 (10%) is rejected at once. 503 is the one that can turn
one job into several calls, so it is what "attempts ≤ retry limit" needs; 500 checks that a
non-retryable failure really costs one call. Each attempt draws again from the mix.

Every job has its own prompt, so the fake's request log gives the attempts per job, to compare
with the `provider_calls` the gateway recorded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.jobs.states import JobStatus
from tests.fakes.elevenlabs import FakeElevenLabs
from tests.faults.harness import (
    Burst,
    Rows,
    assert_no_server_error,
    blob_path,
    figure,
    running,
    tracks,
    verify_ledger,
    wait_for,
)
from tests.fixtures.stack import Stack

JOBS = 60
MAX_ATTEMPTS = 3
FAILURE_MIX = {"503": 0.2, "500": 0.1, "hang": 0.1, "corrupt": 0.05}
# What each kind of failure leaves on a failed job.
FAILURE_CODES = {"http_503", "http_500", "timeout", "malformed_audio"}


@pytest.fixture
def elevenlabs() -> Iterator[FakeElevenLabs]:
    with FakeElevenLabs() as fake:
        yield fake
        assert fake.errors == []


@pytest.fixture
def stack(database: str, tmp_path: Path, elevenlabs: FakeElevenLabs) -> Iterator[Stack]:
    env = {
        "ELEVENLABS_API_KEY": elevenlabs.api_key,
        "ELEVENLABS_BASE_URL": elevenlabs.base_url,
        "PROVIDER_READ_TIMEOUT_S": "2",
        "PROVIDER_TOTAL_TIMEOUT_S": "4",
        "PROVIDER_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        "PROVIDER_RETRY_INITIAL_S": "0.05",
        "PROVIDER_RETRY_MAX_S": "0.2",
        "ELEVENLABS_CONCURRENCY": "4",
    }
    with running(Stack(tmp_path / "stack", database_url=database, env=env)) as stack:
        yield stack


def test_provider_faults_fail_cleanly_and_retry_within_the_limit(
    stack: Stack, rows: Rows, elevenlabs: FakeElevenLabs
) -> None:
    elevenlabs.failure_mix = FAILURE_MIX
    account_id, key = stack.account("50")
    bodies = tracks(JOBS, length_ms=3000, tag="provider faults")
    answers = Burst(stack, key, bodies).start().answers(timeout=240)
    wait_for(lambda: rows.all_terminal(account_id, JOBS), timeout=30, what="every job terminal")

    jobs = rows.jobs(account_id)
    holds = {h.job_id: h.state for h in rows.holds(account_id)}
    captured = rows.captured(account_id)
    attempts = Counter(
        (r.json or {})["prompt"] for r in elevenlabs.requests if r.path == "/v1/music"
    )
    failed = [j for j in jobs if j.status == JobStatus.FAILED]
    succeeded = [j for j in jobs if j.status == JobStatus.SUCCEEDED]
    figure(
        provider_fault_jobs=JOBS,
        succeeded=len(succeeded),
        failed=len(failed),
        provider_calls=sum(j.provider_calls for j in jobs),
        max_calls_per_job=max(j.provider_calls for j in jobs),
        retried=sum(j.provider_calls > 1 for j in jobs),
        failures=dict(Counter(j.provider_code for j in failed)),
    )

    assert len(failed) + len(succeeded) == JOBS
    # Failed jobs are exactly the released holds; captures are exactly the stored tracks.
    assert sorted(j.id for j in failed) == sorted(i for i, s in holds.items() if s == "released")
    assert sorted(j.id for j in succeeded) == sorted(i for i, s in holds.items() if s == "captured")
    assert captured == sorted(j.id for j in succeeded)
    for job in succeeded:
        stored = blob_path(stack, job.blob_key or "")
        assert job.blob_size and stored.stat().st_size == job.blob_size
    assert all(j.blob_key is None for j in failed)
    # Attempts: counted honestly, never over the limit, retried only when transient.
    assert {j.id: j.provider_calls for j in jobs} == {j.id: attempts[j.prompt] for j in jobs}
    assert all(1 <= j.provider_calls <= MAX_ATTEMPTS for j in jobs)
    assert {j.provider_code for j in failed} <= FAILURE_CODES
    assert all(j.provider_calls == MAX_ATTEMPTS for j in failed if j.provider_code == "http_503")
    # The mix really happened: each kind of failure, and retries that then succeeded.
    assert {"http_500", "timeout", "malformed_audio"} <= {j.provider_code for j in failed}
    assert any(j.provider_calls > 1 for j in succeeded)

    assert_no_server_error(answers, {200, 502})
    by_id = {j.id: j for j in jobs}
    for answer in answers:
        job = by_id[answer.job_id or ""]
        if answer.status == 502:
            error = answer.json()["error"]
            assert (error["code"], error["job_id"]) == ("provider_error", job.id)
            assert error["provider_code"] == job.provider_code
        else:
            assert job.status == JobStatus.SUCCEEDED
    verify_ledger(stack)
