"""Job events reach Redis subscribers in order, sent in batches from one thread."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid

import pytest
import redis

from common.notify import CHANNEL, RedisNotifier
from tests.fixtures.databases import REDIS_URL


def _listen(count: int, prefix: str) -> tuple[threading.Thread, list[str]]:
    received: list[str] = []
    pubsub = redis.Redis.from_url(REDIS_URL).pubsub()
    pubsub.subscribe(CHANNEL)
    pubsub.get_message(timeout=5)  # the subscription's confirmation

    def run() -> None:
        deadline = time.monotonic() + 10
        while len(received) < count and time.monotonic() < deadline:
            message = pubsub.get_message(timeout=1)
            if message and message["type"] == "message":
                data = message["data"].decode()
                if data.startswith(prefix):
                    received.append(data)
        pubsub.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, received


def test_events_from_many_threads_arrive_in_each_jobs_order() -> None:
    prefix = uuid.uuid4().hex
    listener, received = _listen(200, prefix)
    notifier = RedisNotifier(REDIS_URL)

    def job(n: int) -> None:
        notifier.publish(f"{prefix}-{n}", ended=False)
        notifier.publish(f"{prefix}-{n}")

    threads = [threading.Thread(target=job, args=(n,)) for n in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    listener.join()
    assert len(received) == 200
    for n in range(100):
        assert received.index(f"{prefix}-{n} started") < received.index(f"{prefix}-{n}")


def test_flush_sends_what_is_queued_from_the_calling_thread() -> None:
    prefix = uuid.uuid4().hex
    listener, received = _listen(1, prefix)
    notifier = RedisNotifier(REDIS_URL)
    notifier._pid = os.getpid()  # as if this process's sending thread were already running
    notifier.publish(f"{prefix}-1")
    # No sending thread was started, so only flush() can send it.
    notifier.flush()
    listener.join()
    assert received == [f"{prefix}-1"]


def test_redis_down_costs_a_warning_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    notifier = RedisNotifier("redis://127.0.0.1:1/0")
    notifier.publish("job_x")
    notifier.flush()
    deadline = time.monotonic() + 10
    while "could not publish" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "could not publish" in caplog.text
    assert caplog.records[-1].levelno == logging.WARNING
