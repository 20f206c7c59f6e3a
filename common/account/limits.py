"""Abuse limits: a request rate per API key (shared by every API process through Redis, with
the `limits` library's moving window) and a cap on an account's jobs in flight (the account's
count of active holds, checked by the hold's own conditional statement under the row lock)."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse, storage, strategies

from common.errors import RateLimitedError


class RequestRateLimiter:
    def __init__(self, redis_url: str, default: str, *, reads: str) -> None:
        backend = storage.RedisStorage(redis_url) if redis_url else storage.MemoryStorage()
        self._limiter = strategies.MovingWindowRateLimiter(backend)
        self._default = parse(default)
        self._reads = parse(reads)

    def check(self, *, api_key_id: str, override: str | None = None) -> None:
        """Count one request of the key that may spend (the account may override the rate);
        RateLimitedError (429) with Retry-After when over."""
        self._hit(parse(override) if override else self._default, "api-key", api_key_id)

    def check_read(self, *, api_key_id: str) -> None:
        """Count one read of the key, against the reads' own budget."""
        self._hit(self._reads, "api-key-reads", api_key_id)

    def _hit(self, item: RateLimitItem, namespace: str, api_key_id: str) -> None:
        if self._limiter.hit(item, namespace, api_key_id):
            return
        reset_at, _ = self._limiter.get_window_stats(item, namespace, api_key_id)
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise RateLimitedError(
            f"Too many requests for this API key (limit {item}); retry in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )


def too_many_in_flight(limit: int) -> RateLimitedError:
    """The 429 for an account at its limit of jobs queued or running."""
    return RateLimitedError(
        f"This account already has {limit} jobs in flight; retry when one finishes.",
        headers={"Retry-After": "5"},
    )
