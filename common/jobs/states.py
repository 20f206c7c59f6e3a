"""Job states and the only moves allowed between them."""

from __future__ import annotations

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
EXPIRED = "expired"

TERMINAL = frozenset({SUCCEEDED, FAILED, EXPIRED})
ACTIVE = frozenset({QUEUED, RUNNING})

# to-state → the states a job may come from
ALLOWED_FROM: dict[str, frozenset[str]] = {
    RUNNING: frozenset({QUEUED}),
    SUCCEEDED: frozenset({RUNNING}),
    FAILED: frozenset({QUEUED, RUNNING}),
    EXPIRED: frozenset({QUEUED, RUNNING}),
}
