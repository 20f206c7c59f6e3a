"""Abuse limits: a request rate per API key (shared by every API process through Redis, with
the `limits` library's moving window) and a cap on an account's jobs in flight (counted in the
database inside the submit transaction, after the account row is locked by the hold)."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse, storage, strategies
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.errors import RateLimitedError
from common.jobs import states
from common.models import Job


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


def check_concurrent_jobs(session: Session, *, account_id: str, limit: int) -> None:
    """RateLimitedError when the account has more than `limit` jobs queued or running (the one
    being submitted included)."""
    active = session.scalar(
        select(func.count())
        .select_from(Job)
        .where(Job.account_id == account_id, Job.status.in_(states.ACTIVE))
    )
    if (active or 0) > limit:
        raise RateLimitedError(
            f"This account already has {limit} jobs in flight; retry when one finishes.",
            headers={"Retry-After": "5"},
        )
