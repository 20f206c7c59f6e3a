"""The Celery app and its settings (why each one: docs/architecture.md, "Queue settings")."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from functools import cached_property

from celery import Celery
from celery.signals import setup_logging, worker_process_init, worker_ready
from prometheus_client import start_http_server

from common.config import Settings, get_settings
from common.observability.logs import configure_logging

QUEUE = "music"


class GatewayCelery(Celery):
    """Celery with one result backend object for every thread.

    Celery builds a backend per thread, and building one scans every installed package's entry
    points, a real cost with a pool of hundreds of threads (measured: bench/results.md). Ours
    is the disabled backend (results live in the job row), which holds no state, so one
    instance is safe to share.
    """

    @cached_property
    def backend(self):  # type: ignore[no-untyped-def,override]
        return self._get_backend()


def create_celery(settings: Settings) -> Celery:
    app = GatewayCelery(
        "musicgw", broker=settings.broker_url, include=["worker.tasks.music", "worker.tasks.jobs"]
    )
    transport_options: dict[str, object] = {
        # Redis redelivers unacked messages after this: it must outlast the longest job, twice.
        "visibility_timeout": settings.visibility_timeout_s,
        # kombu's default of 10 connections starves a large thread pool of acks.
        "max_connections": settings.redis_max_connections,
    }
    if settings.embedded:
        # The in-memory transport polls; the default 1 s would add a second to every request.
        transport_options["polling_interval"] = 0.02
    app.conf.update(
        task_default_queue=QUEUE,
        task_acks_late=True,  # a killed worker must not lose the message...
        task_reject_on_worker_lost=True,  # ...and it goes back on the queue (tasks are idempotent)
        worker_prefetch_multiplier=1,
        task_ignore_result=True,  # audio and status live in the job row, never in Celery
        result_backend=None,
        broker_transport_options=transport_options,
        redis_max_connections=settings.redis_max_connections,
        broker_connection_retry_on_startup=True,
        task_time_limit=settings.job_max_runtime_s,
        task_soft_time_limit=max(settings.job_max_runtime_s - 30, 1),
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        timezone="UTC",
    )
    return app


celery_app = create_celery(get_settings())


@setup_logging.connect
def _logging(**_: object) -> None:
    # Connecting here tells Celery not to configure logging itself: one JSON format everywhere.
    settings = get_settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)


@worker_ready.connect
def _serve_metrics(**_: object) -> None:
    port = get_settings().worker_metrics_port
    if port and not get_settings().embedded:
        try:
            start_http_server(port)
        except OSError:
            # Another worker on this host has the port: give each its own WORKER_METRICS_PORT.
            logging.getLogger(__name__).warning("metrics port %d is taken; not serving", port)


@worker_ready.connect
def _warm_up(sender: object = None, **_: object) -> None:
    # Build the job context and pay SQLAlchemy's first-use costs before the first message, not
    # inside it while the rest of a burst waits (see common.db.warm_up).
    from common.db import warm_up
    from worker.context import get_context

    warm_up(get_context().sessions)
    start_pool_threads(getattr(sender, "pool", None))


def start_pool_threads(pool: object) -> int:
    """Start every thread of Celery's thread pool now; how many were started.

    The pool is a ThreadPoolExecutor, which starts a thread per task until it has `limit`, and
    each start waits until the new thread has run. In a burst that wait is on the consumer, the
    one thread that takes messages off the queue, while hundreds of job threads hold the GIL
    (measured: bench/results.md). Started here, the burst finds them idle.
    """
    executor = getattr(pool, "executor", None)
    if not isinstance(executor, ThreadPoolExecutor):
        return 0
    # Each task holds its thread until all are submitted, so every submit finds none idle and
    # starts one more.
    release = threading.Event()
    futures = [executor.submit(release.wait, 30) for _ in range(executor._max_workers)]
    release.set()
    wait(futures, timeout=30)
    return len(executor._threads)


@worker_process_init.connect
def _fresh_connections(**_: object) -> None:
    # A forked child must not share the parent's database connections.
    from worker.context import reset_context

    reset_context()
