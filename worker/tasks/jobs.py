from __future__ import annotations

from worker.app import celery_app
from worker.context import get_context


@celery_app.task(name="worker.ping")
def ping(token: str = "") -> str:
    """Answer on the job-event channel: a bare queue round trip, for health and benchmarks."""
    if token:
        get_context().notifier.publish(token)
    return "pong"
