from __future__ import annotations

import sqlalchemy.exc
from celery import Task

from common.jobs.runner import run_job
from common.observability.logs import log_context
from worker.app import celery_app
from worker.context import get_context


# A database that is restarting is retried with backoff (a new message each time): the task is
# idempotent, so a retry of a job another attempt already took just returns.
@celery_app.task(
    name="music.generate",
    autoretry_for=(sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError),
    retry_backoff=1,
    retry_backoff_max=30,
    max_retries=12,
    bind=True,
)
def generate(self: Task, job_id: str) -> str:
    """Produce one track. Idempotent: the job row is claimed with a conditional update."""
    with log_context(request_id=getattr(self.request, "request_id", None)):
        return run_job(get_context(), job_id)
