"""Money under concurrency, the 202 path, and a worker killed mid-job."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from common.models import Hold, Job
from tests.e2e.conftest import assert_ledger_sound
from tests.fixtures.stack import Stack


def test_400_concurrent_requests_against_100_paid(stack: Stack, e2e_database: str) -> None:
    account_id, key = stack.account("13.5")  # exactly 100 one-second tracks at $0.135

    async def fire() -> list[int]:
        limits = httpx.Limits(max_connections=400)
        async with httpx.AsyncClient(
            base_url=stack.base_url,
            limits=limits,
            timeout=180,
            headers={"Authorization": f"Bearer {key}"},
        ) as client:
            body = {"prompt": "tight funk groove", "music_length_ms": 1000}
            responses = await asyncio.gather(
                *(client.post("/v1/audio/music", json=body) for _ in range(400))
            )
        return [r.status_code for r in responses]

    statuses = Counter(asyncio.run(fire()))
    assert statuses == {200: 100, 402: 300}
    assert stack.balance(account_id) == "0"
    assert_ledger_sound(e2e_database, account_id)


@pytest.fixture(scope="module")
def slow_stack(e2e_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A provider that takes 2.5 s, a 1 s sync wait, a 6 s maximum runtime, beat reaping."""
    stack = Stack(
        tmp_path_factory.mktemp("slow"),
        database_url=e2e_database,
        beat=True,
        env={
            "OFFLINE_LATENCY_MS": "2500",
            "SYNC_WAIT_LIMIT_S": "1",
            "JOB_MAX_RUNTIME_S": "6",
            "REAPER_INTERVAL_S": "1",
        },
    ).start()
    yield stack
    stack.stop()


def _poll_until_terminal(client: httpx.Client, job_id: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/v1/jobs/{job_id}").json()
        if body["status"] in ("succeeded", "failed", "expired"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} not terminal after {timeout}s")


def test_202_after_sync_wait_then_job_finishes(slow_stack: Stack) -> None:
    account_id, key = slow_stack.account("5")
    with slow_stack.client(key) as client:
        r = client.post(
            "/v1/audio/music", json={"prompt": "dreamy synthwave", "music_length_ms": 3000}
        )
        assert r.status_code == 202, r.text
        body = r.json()
        job_id = body["job_id"]
        assert body == {
            "object": "audio.generation.job",
            "job_id": job_id,
            "status": body["status"],
            "status_url": f"/v1/jobs/{job_id}",
        }
        assert body["status"] in ("queued", "running")
        assert r.headers["location"] == f"/v1/jobs/{job_id}"
        assert r.headers["x-kyma-job-id"] == job_id
        done = _poll_until_terminal(client, job_id, 30)
        assert done["status"] == "succeeded"
        audio = client.get(f"/v1/jobs/{job_id}/audio")
    assert audio.status_code == 200 and audio.headers["x-kyma-cost-usd"] == "0.405"
    assert slow_stack.balance(account_id) == "4.595"


def test_worker_killed_mid_job(slow_stack: Stack, e2e_database: str) -> None:
    account_id, key = slow_stack.account("5")
    with slow_stack.client(key) as client, ThreadPoolExecutor(3) as pool:
        posts = [
            pool.submit(
                client.post,
                "/v1/audio/music",
                json={"prompt": f"song {i}", "music_length_ms": 2000},
            )
            for i in range(3)
        ]
        job_ids = [f.result().headers["x-kyma-job-id"] for f in posts]
        _wait_for_status(e2e_database, job_ids, "running")
        slow_stack.kill("worker")
        results = [_poll_until_terminal(client, job_id, 60) for job_id in job_ids]
    assert {r["status"] for r in results} <= {"failed", "expired"}
    slow_stack.start_worker()
    time.sleep(2)  # a restarted worker must not resurrect or charge them
    engine = create_engine(e2e_database.replace("postgresql://", "postgresql+psycopg://"))
    with Session(engine) as session:
        holds = session.scalars(select(Hold).where(Hold.job_id.in_(job_ids))).all()
        assert [h.state for h in holds] == ["released"] * 3
        jobs = session.scalars(select(Job).where(Job.id.in_(job_ids))).all()
        assert all(j.status in ("failed", "expired") and j.provider_calls <= 2 for j in jobs)
    engine.dispose()
    assert slow_stack.balance(account_id) == "5"
    assert_ledger_sound(e2e_database, account_id)


def _wait_for_status(database_url: str, job_ids: list[str], status: str) -> None:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with Session(engine) as session:
                found = session.scalars(select(Job.status).where(Job.id.in_(job_ids))).all()
            if found and all(s == status for s in found):
                return
            time.sleep(0.05)
        raise AssertionError(f"jobs never all {status}: {found}")
    finally:
        engine.dispose()
