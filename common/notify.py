"""Job-event wake-ups: workers publish "job X changed", API processes wake their waiters.

Pub/sub is at-most-once, so a wake-up is only a hint: the job row stays the truth and waiters
also poll it. Two transports behind one seam: Redis pub/sub across processes, or an in-process
bus for the embedded default.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

import redis

CHANNEL = "musicgw:job-events"
log = logging.getLogger(__name__)


class Notifier(Protocol):
    def publish(self, job_id: str) -> None: ...


class LocalBus:
    """In-process fan-out to registered listeners (the embedded default)."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[str], None]] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Callable[[str], None]) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)
        return lambda: self._unsubscribe(listener)

    def _unsubscribe(self, listener: Callable[[str], None]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def publish(self, job_id: str) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(job_id)


LOCAL_BUS = LocalBus()


class RedisNotifier:
    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)

    def publish(self, job_id: str) -> None:
        try:
            self._client.publish(CHANNEL, job_id)
        except redis.RedisError:
            # The waiter's poll of the job row will see the change; a lost hint costs latency only.
            log.warning("could not publish job event for %s", job_id, exc_info=True)


def build_notifier(redis_url: str) -> Notifier:
    return RedisNotifier(redis_url) if redis_url else LOCAL_BUS
