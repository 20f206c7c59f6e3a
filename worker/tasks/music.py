from __future__ import annotations

from common.jobs.runner import run_job
from worker.app import celery_app
from worker.context import get_context


@celery_app.task(name="music.generate")
def generate(job_id: str) -> str:
    """Produce one track. Idempotent: the job row is claimed with a conditional update."""
    return run_job(get_context(), job_id)
