"""How a job is shown to its owner: the JSON of GET /v1/jobs/{id}, of `save_to_blob`, of SSE
events and of webhooks. Pure functions."""

from __future__ import annotations

from common.jobs.states import TERMINAL, JobStatus
from common.models import Job
from common.pricing import format_usd


def job_body(job: Job, *, base_path: str = "") -> dict[str, object]:
    """The JSON status of a job."""
    succeeded = job.status == JobStatus.SUCCEEDED
    return {
        "object": "audio.generation.job",
        "job_id": job.id,
        "status": job.status,
        "model": job.model,
        "response_format": job.response_format,
        "duration_sec": (job.billed_duration_ms or 0) / 1000 if succeeded else None,
        "cost_usd": float(format_usd(job.cost_micro_usd)),
        "charged_usd": float(format_usd(job.cost_micro_usd)) if succeeded else 0,
        "error": {"code": job.error_code, "message": job.error_message} | upstream_detail(job)
        if job.error_code
        else None,
        "url": job.public_url,
        "audio_url": f"{base_path}/v1/jobs/{job.id}/audio" if succeeded else None,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def upstream_detail(job: Job) -> dict[str, str]:
    """What the provider said about a failure, when it said why."""
    detail = {}
    if job.provider_code:
        detail["provider_code"] = job.provider_code
    if job.error_suggestion:
        detail["suggestion"] = job.error_suggestion
    return detail


def saved_body(job: Job) -> dict[str, object]:
    """The `?save_to_blob=1` answer: where the permanent MP3 lives, and what it cost."""
    return {
        "object": "audio.generation",
        "job_id": job.id,
        "kind": "audio",
        "url": job.public_url,
        "duration_sec": (job.billed_duration_ms or 0) / 1000,
        "cost_usd": float(format_usd(job.cost_micro_usd)),
        "balance_usd": float(format_usd(job.balance_after_micro_usd or 0)),
    }


def event_body(job: Job, status: str) -> dict[str, object]:
    """The job as an SSE event or a webhook shows it at `status`, which it has passed: once
    succeeded, with the save_to_blob answer's fields too (kind, balance_usd), in what is still a
    job object; at `queued` or `running`, as it stood then, so a stream opened after the job
    ended replays those events without what only came later (charge, audio, error, end)."""
    data = job_body(job)
    if status == JobStatus.SUCCEEDED:
        data = saved_body(job) | data
    elif status not in TERMINAL:
        data |= {
            "duration_sec": None,
            "charged_usd": 0,
            "error": None,
            "url": None,
            "audio_url": None,
            "finished_at": None,
        }
    data["status"] = status
    return data
