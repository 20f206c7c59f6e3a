"""Job-event wake-ups: workers publish "job X changed", API processes wake their waiters.

A message is the job's id when the job ended (or for any change every waiter must see), and
"<id> started" when a worker claimed it: only a status stream cares about that, so a request
waiting for its track is not woken to re-read a row that is merely running.

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


STARTED = "started"


def message(job_id: str, *, ended: bool = True) -> str:
    return job_id if ended else f"{job_id} {STARTED}"


def parse(data: str) -> tuple[str, bool]:
    """(job id, whether it ended) from a message."""
    job_id, _, what = data.partition(" ")
    return job_id, what != STARTED


class Notifier(Protocol):
    def publish(self, job_id: str, *, ended: bool = True) -> None: ...


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

    def publish(self, job_id: str, *, ended: bool = True) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(message(job_id, ended=ended))


LOCAL_BUS = LocalBus()


class RedisNotifier:
    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)

    def publish(self, job_id: str, *, ended: bool = True) -> None:
        try:
            self._client.publish(CHANNEL, message(job_id, ended=ended))
        except redis.RedisError:
            # The waiter's poll of the job row will see the change; a lost hint costs latency only.
            log.warning("could not publish job event for %s", job_id, exc_info=True)


def build_notifier(redis_url: str) -> Notifier:
    return RedisNotifier(redis_url) if redis_url else LOCAL_BUS
