"""The shared concurrency cap on real Redis."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
import redis

from common.db import utcnow
from common.providers.base import ProviderRejectedError
from common.providers.limits import KEY, RedisLimiter
from tests.fixtures.databases import REDIS_URL


@pytest.fixture
def provider() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


def test_never_more_than_the_cap(provider: str) -> None:
    limiter = RedisLimiter(REDIS_URL, {provider: 2})
    lock, active, peak, done = threading.Lock(), [0], [0], []

    def call() -> None:
        with limiter.slot(provider, deadline=utcnow() + timedelta(seconds=30)):
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.05)
            with lock:
                active[0] -= 1
        done.append(1)

    threads = [threading.Thread(target=call) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (peak[0], len(done), limiter.in_use(provider)) == (2, 10, 0)


def test_a_dead_holders_lease_expires(provider: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    # a worker that died holding the only slot, its lease ending in 0.3 s
    client.zadd(KEY.format(provider=provider), {"dead": time.time() + 0.3})
    limiter = RedisLimiter(REDIS_URL, {provider: 1})
    start = time.monotonic()
    with limiter.slot(provider, deadline=utcnow() + timedelta(seconds=10)):
        assert time.monotonic() - start >= 0.2
    client.close()


def test_waiting_past_the_deadline_fails_the_call(provider: str) -> None:
    limiter = RedisLimiter(REDIS_URL, {provider: 1})
    short = utcnow() + timedelta(seconds=0.2)
    with (
        limiter.slot(provider, deadline=utcnow() + timedelta(seconds=10)),
        pytest.raises(ProviderRejectedError) as info,
        limiter.slot(provider, deadline=short),
    ):
        pass
    assert info.value.provider_code == "capacity_timeout"


def test_lease_is_renewed_while_held(provider: str) -> None:
    limiter = RedisLimiter(REDIS_URL, {provider: 1}, lease_s=0.3)
    with limiter.slot(provider, deadline=utcnow() + timedelta(seconds=10)):
        time.sleep(0.8)  # well past one lease: the renewer must have kept it
        assert limiter.in_use(provider) == 1
    assert limiter.in_use(provider) == 0


def test_unlimited_provider_needs_no_slot() -> None:
    limiter = RedisLimiter(REDIS_URL, {})
    with limiter.slot("local", deadline=utcnow()):
        pass
