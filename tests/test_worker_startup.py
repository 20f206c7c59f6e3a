"""What a worker process does before its first message: warm the database layer and start its
threads."""

from __future__ import annotations

import threading

import pytest
from celery.concurrency.thread import TaskPool
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from common.db import warm_up
from worker.app import _warm_up, start_pool_threads


def test_every_pool_thread_is_started_before_any_task() -> None:
    pool = TaskPool(limit=24)
    try:
        assert len(pool.executor._threads) == 0
        assert start_pool_threads(pool) == 24
        # A task submitted now finds an idle thread instead of starting one.
        ran = threading.Event()
        pool.executor.submit(ran.set).result(timeout=5)
        assert ran.is_set()
        assert len(pool.executor._threads) == 24
    finally:
        pool.executor.shutdown()


def test_a_pool_without_threads_is_left_alone() -> None:
    assert start_pool_threads(None) == 0
    assert start_pool_threads(object()) == 0


def test_warm_up_opens_a_connection(database_url: str) -> None:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        warm_up(sessionmaker(bind=engine))
        assert engine.pool.checkedin() == 1
    finally:
        engine.dispose()


def test_warm_up_survives_a_database_that_is_down(caplog: pytest.LogCaptureFixture) -> None:
    engine = create_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )
    warm_up(sessionmaker(bind=engine))
    assert "not reachable at start-up" in caplog.text


def test_worker_ready_warms_up_and_starts_the_threads(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    from worker import context

    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))

    class Context:
        sessions = sessionmaker(bind=engine)

    monkeypatch.setattr(context, "get_context", lambda: Context())
    pool = TaskPool(limit=4)
    try:
        _warm_up(sender=_Consumer(pool))
        assert len(pool.executor._threads) == 4
        assert engine.pool.checkedin() == 1
    finally:
        pool.executor.shutdown()
        engine.dispose()


class _Consumer:
    def __init__(self, pool: TaskPool) -> None:
        self.pool = pool
