"""Job states and the only moves allowed between them."""

from __future__ import annotations

import enum


class JobStatus(enum.StrEnum):
    """A job's status; a StrEnum so the String column, SQL text and JSON all carry its value."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"


TERMINAL: frozenset[JobStatus] = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.EXPIRED}
)
ACTIVE: frozenset[JobStatus] = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})

# to-state → the states a job may come from
ALLOWED_FROM: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.RUNNING: frozenset({JobStatus.QUEUED}),
    JobStatus.SUCCEEDED: frozenset({JobStatus.RUNNING}),
    JobStatus.FAILED: frozenset({JobStatus.QUEUED, JobStatus.RUNNING}),
    JobStatus.EXPIRED: frozenset({JobStatus.QUEUED, JobStatus.RUNNING}),
}
assert set(JobStatus) == ACTIVE | TERMINAL and not ACTIVE & TERMINAL
