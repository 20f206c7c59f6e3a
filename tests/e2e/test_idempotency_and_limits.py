"""Idempotency-Key, request-rate and concurrent-job limits, key expiry — over HTTP."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from common.models import Hold, Job
from tests.e2e.conftest import assert_ledger_sound
from tests.fixtures.stack import Stack

BODY = {"prompt": "idempotent bossa nova", "music_length_ms": 1000}


def count_jobs(database_url: str, account_id: str) -> tuple[int, int]:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with Session(engine) as session:
            jobs = session.scalar(
                select(func.count()).select_from(Job).where(Job.account_id == account_id)
            )
            holds = session.scalar(
                select(func.count()).select_from(Hold).where(Hold.account_id == account_id)
            )
            return int(jobs or 0), int(holds or 0)
    finally:
        engine.dispose()


def test_replay_returns_the_same_job_and_charges_once(stack: Stack, e2e_database: str) -> None:
    account_id, key = stack.account("1")
    headers = {"Idempotency-Key": "order-42"}
    with stack.client(key) as client:
        first = client.post("/v1/audio/music", json=BODY, headers=headers)
        again = client.post("/v1/audio/music", json=dict(reversed(BODY.items())), headers=headers)
        other = client.post(
            "/v1/audio/music", json=BODY | {"prompt": "something else"}, headers=headers
        )
    assert first.status_code == again.status_code == 200
    assert first.headers["x-kyma-job-id"] == again.headers["x-kyma-job-id"]
    assert first.content == again.content
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_conflict"
    assert stack.balance(account_id) == "0.865"
    assert count_jobs(e2e_database, account_id) == (1, 1)


def test_fifty_concurrent_duplicates_make_one_job(stack: Stack, e2e_database: str) -> None:
    account_id, key = stack.account("1")

    async def fire() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            base_url=stack.base_url,
            timeout=120,
            headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "burst"},
        ) as client:
            return await asyncio.gather(
                *(client.post("/v1/audio/music", json=BODY) for _ in range(50))
            )

    responses = asyncio.run(fire())
    assert Counter(r.status_code for r in responses) == {200: 50}
    assert len({r.headers["x-kyma-job-id"] for r in responses}) == 1
    assert count_jobs(e2e_database, account_id) == (1, 1)
    assert stack.balance(account_id) == "0.865"
    assert_ledger_sound(e2e_database, account_id)


def test_keys_are_per_account(stack: Stack) -> None:
    _, key_a = stack.account("1")
    _, key_b = stack.account("1")
    headers = {"Idempotency-Key": "shared-name"}
    with stack.client(key_a) as a, stack.client(key_b) as b:
        ja = a.post("/v1/audio/music", json=BODY, headers=headers).headers["x-kyma-job-id"]
        jb = b.post("/v1/audio/music", json=BODY | {"prompt": "b"}, headers=headers).headers[
            "x-kyma-job-id"
        ]
    assert ja != jb


@pytest.fixture(scope="module")
def limited(e2e_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(
        tmp_path_factory.mktemp("limited"),
        database_url=e2e_database,
        env={
            "RATE_LIMIT_PER_KEY": "3/minute",
            "RATE_LIMIT_READS_PER_KEY": "5/minute",
            "MAX_CONCURRENT_JOBS_PER_ACCOUNT": "2",
            "OFFLINE_LATENCY_MS": "1500",
        },
    ).start()
    yield stack
    stack.stop()


def test_request_rate_per_key(limited: Stack) -> None:
    account_id, key = limited.account("5")
    with limited.client(key) as client:
        statuses = [client.post("/v1/audio/music", json=BODY).status_code for _ in range(3)]
        refused = client.post("/v1/audio/music", json=BODY)
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert limited.balance(account_id) == "4.595"  # three charged, the refused one not
    limited.cli("accounts", "limits", account_id, "--rate", "10/minute", "--max-concurrent", "2")
    with limited.client(key) as client:
        assert client.post("/v1/audio/music", json=BODY).status_code == 200


def test_reads_have_a_budget_of_their_own(limited: Stack) -> None:
    _, key = limited.account("5")
    with limited.client(key) as client:
        statuses = [client.get("/v1/jobs/job_nope").status_code for _ in range(5)]
        refused = client.get("/v1/gallery")
        made = client.post("/v1/audio/music", json=BODY)
    assert statuses == [404] * 5
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert made.status_code == 200  # reads do not spend the budget for making tracks


def test_concurrent_jobs_per_account(limited: Stack, e2e_database: str) -> None:
    account_id, _ = limited.account("5")
    keys = [limited.cli("keys", "create", account_id)["api_key"] for _ in range(3)]

    async def fire() -> list[int]:
        async with httpx.AsyncClient(base_url=limited.base_url, timeout=60) as client:
            responses = await asyncio.gather(
                *(
                    client.post(
                        "/v1/audio/music", json=BODY, headers={"Authorization": f"Bearer {k}"}
                    )
                    for k in keys
                )
            )
        return [r.status_code for r in responses]

    assert sorted(asyncio.run(fire())) == [200, 200, 429]
    assert limited.balance(account_id) == "4.73"
    assert count_jobs(e2e_database, account_id) == (2, 2)


def test_expired_key_is_401(stack: Stack) -> None:
    account_id, _ = stack.account("1")
    short = stack.cli("keys", "create", account_id, "--expires-in-days", "0.00001")  # ~1 s
    deadline = time.monotonic() + 10
    with stack.client(short["api_key"]) as client:
        while time.monotonic() < deadline:
            r = client.get("/v1/gallery")
            if r.status_code == 401:
                break
            time.sleep(0.2)
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]
