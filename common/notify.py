"""Job-event wake-ups: workers publish "job X changed", API processes wake their waiters.

A message is the job's id when the job ended (or for any change every waiter must see), and
"<id> started" when a worker claimed it: only a status stream cares about that, so a request
waiting for its track is not woken to re-read a row that is merely running.

Pub/sub is at-most-once, so a wake-up is only a hint: the job row stays the truth and waiters
also poll it. Two transports behind one seam: Redis pub/sub across processes, or an in-process
bus for the embedded default.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
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
    """Publishes from one background thread, each batch in one pipeline.

    A job thread only queues its message. Publishing it there cost a pooled connection's
    checkout and health check and a round trip per message, all while holding the GIL the
    worker's other threads and its queue consumer wait for (measured: bench/results.md).
    Whatever queues up while a batch is being sent goes in the next one, in order, so a job's
    "started" never overtakes its end.
    """

    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._pending: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._sending = threading.Lock()
        self._starting = threading.Lock()
        # The process whose thread sends: a forked child starts its own.
        self._pid: int | None = None
        atexit.register(self.flush)

    def publish(self, job_id: str, *, ended: bool = True) -> None:
        self._pending.put(message(job_id, ended=ended))
        if self._pid != os.getpid():
            self._start()

    def flush(self) -> None:
        """Send whatever is queued now, in this thread (at exit, or where a test must know)."""
        self._send(self._drain([]))

    def _start(self) -> None:
        with self._starting:
            if self._pid != os.getpid():
                threading.Thread(target=self._run, name="job-events", daemon=True).start()
                self._pid = os.getpid()

    def _run(self) -> None:
        while True:
            self._send(self._drain([self._pending.get()]))

    def _drain(self, batch: list[str]) -> list[str]:
        while True:
            try:
                batch.append(self._pending.get_nowait())
            except queue.Empty:
                return batch

    def _send(self, batch: list[str]) -> None:
        if not batch:
            return
        with self._sending:
            try:
                pipe = self._client.pipeline(transaction=False)
                for data in batch:
                    pipe.publish(CHANNEL, data)
                pipe.execute()
            except redis.RedisError:
                # The waiters' poll of the job rows will see the change; a lost hint costs
                # latency only.
                log.warning("could not publish %d job events", len(batch), exc_info=True)


def build_notifier(redis_url: str) -> Notifier:
    return RedisNotifier(redis_url) if redis_url else LOCAL_BUS
