"""Abuse limits: a request rate per API key (shared by every API process through Redis, with
the `limits` library's moving window) and a cap on an account's jobs in flight (the account's
count of active holds, checked by the hold's own conditional statement under the row lock)."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse, storage, strategies

from common.errors import RateLimitedError


class RequestRateLimiter:
    def __init__(self, redis_url: str, default: str) -> None:
        backend = storage.RedisStorage(redis_url) if redis_url else storage.MemoryStorage()
        self._limiter = strategies.MovingWindowRateLimiter(backend)
        self._default = parse(default)

    def check(self, *, api_key_id: str, override: str | None = None) -> None:
        """Count one request of the key; RateLimitedError (429) with Retry-After when over."""
        item: RateLimitItem = parse(override) if override else self._default
        if self._limiter.hit(item, "api-key", api_key_id):
            return
        reset_at, _ = self._limiter.get_window_stats(item, "api-key", api_key_id)
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
