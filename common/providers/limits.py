"""Per-provider concurrency caps shared by every worker process on every machine.

Redis holds, per provider, a sorted set of leases (token → expiry, in Redis server time). A slot
is taken by a Lua script that first drops expired leases, so a worker that dies holding a slot
frees it when its lease runs out; a live holder renews its lease while the call runs. Over the
cap a job waits in line (polling with jitter) instead of bouncing a 429 back to the caller.
The embedded default, being one process, uses plain semaphores.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Protocol, cast

import redis

from common.db import utcnow
from common.providers.base import ProviderRejectedError

KEY = "musicgw:provider-slots:{provider}"
_ACQUIRE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], t + tonumber(ARGV[2]), ARGV[3])
  return 1
end
return 0
"""
_RENEW = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
return redis.call('ZADD', KEYS[1], 'XX', 'CH', t + tonumber(ARGV[1]), ARGV[2])
"""


class ConcurrencyLimiter(Protocol):
    def slot(self, provider: str, *, deadline: datetime) -> contextlib.AbstractContextManager[None]:
        """Hold one of the provider's slots for the duration of the block."""
        ...


def _capacity_timeout(provider: str) -> ProviderRejectedError:
    return ProviderRejectedError(
        f"no {provider} capacity freed up before the job's deadline",
        provider_code="capacity_timeout",
    )


class LocalLimiter:
    def __init__(self, limits: dict[str, int]) -> None:
        self._semaphores = {name: threading.BoundedSemaphore(n) for name, n in limits.items()}

    @contextlib.contextmanager
    def slot(self, provider: str, *, deadline: datetime) -> Iterator[None]:
        semaphore = self._semaphores.get(provider)
        if semaphore is None:
            yield
            return
        if not semaphore.acquire(timeout=max((deadline - utcnow()).total_seconds(), 0)):
            raise _capacity_timeout(provider)
        try:
            yield
        finally:
            semaphore.release()


class RedisLimiter:
    def __init__(self, url: str, limits: dict[str, int], *, lease_s: float = 60.0) -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=10)
        self._limits = limits
        self._lease_s = lease_s
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._renew = self._redis.register_script(_RENEW)

    @contextlib.contextmanager
    def slot(self, provider: str, *, deadline: datetime) -> Iterator[None]:
        limit = self._limits.get(provider)
        if limit is None:
            yield
            return
        key, token = KEY.format(provider=provider), uuid.uuid4().hex
        self._wait_for_slot(key, token, limit, deadline, provider)
        stop = threading.Event()
        renewer = threading.Thread(target=self._keep_alive, args=(key, token, stop), daemon=True)
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join()
            with contextlib.suppress(redis.RedisError):
                self._redis.zrem(key, token)

    def in_use(self, provider: str) -> int:
        """Slots currently leased (for status output and tests)."""
        return cast(int, self._redis.zcard(KEY.format(provider=provider)))

    def _wait_for_slot(
        self, key: str, token: str, limit: int, deadline: datetime, provider: str
    ) -> None:
        delay = 0.02
        while not self._acquire(keys=[key], args=[limit, self._lease_s, token]):
            if utcnow() >= deadline:
                raise _capacity_timeout(provider)
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 1.5, 0.5)

    def _keep_alive(self, key: str, token: str, stop: threading.Event) -> None:
        while not stop.wait(self._lease_s / 3):
            with contextlib.suppress(redis.RedisError):
                self._renew(keys=[key], args=[self._lease_s, token])


def build_limiter(redis_url: str, limits: dict[str, int]) -> ConcurrencyLimiter:
    return RedisLimiter(redis_url, limits) if redis_url else LocalLimiter(limits)
