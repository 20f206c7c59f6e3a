"""The embedded default: a Celery worker thread and the periodic reaper inside the API process."""

from __future__ import annotations

import threading

from celery import Celery

from common.jobs.runner import JobContext
from worker.app import QUEUE
from worker.maintenance import run_periodic


class EmbeddedWorker:
    """Runs the same Celery tasks as production over the in-memory transport, and the reaper."""

    def __init__(self, celery: Celery, context: JobContext) -> None:
        self._controller = celery.WorkController(
            pool_cls="threads",
            concurrency=context.settings.worker_concurrency,
            queues=[QUEUE],
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel="WARNING",
        )
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._controller.start, name="embedded-worker", daemon=True),
            threading.Thread(
                target=run_periodic, args=(context, self._stop), name="reaper", daemon=True
            ),
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._controller.stop(in_sighandler=False)
        for thread in self._threads:
            thread.join(timeout=10)
