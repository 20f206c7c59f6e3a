"""Structured logs: one JSON object per line, carrying the request and job they belong to.

The context (request_id, job_id, account_id, sku, provider) lives in context variables, so
every log line written while handling a request or running a job carries it, whichever library
wrote the line. API keys never enter the context.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter

FIELDS = ("request_id", "job_id", "account_id", "sku", "provider")
_context: ContextVar[dict[str, Any]] = ContextVar("log_context", default={})  # noqa: B039


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add fields to every log line written inside the block (and tasks it spawns)."""
    token = _context.set(_context.get() | {k: v for k, v in fields.items() if v is not None})
    try:
        yield
    finally:
        _context.reset(token)


def current(field: str) -> Any:
    return _context.get().get(field)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            setattr(record, key, value)
        return True


def configure_logging(*, level: str = "INFO", fmt: str = "json") -> None:
    """Route every logger (ours, uvicorn's, celery's) to stderr as JSON lines (or plain text)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter())
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{message}",
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Celery's "Task ... received" and "Task ... succeeded" lines say less than our own
    # job.ended line (outcome, duration, queue wait, ids) and cost two more records per job,
    # one of them on the thread that takes messages off the queue. Celery's other lines
    # (retries, failures) stay, and LOG_LEVEL=DEBUG brings these two back.
    from celery.app import trace

    quiet = root.level > logging.DEBUG
    # "received" is the strategy logger's only INFO line: above INFO, Celery checks once and
    # then does not build it at all.
    logging.getLogger("celery.worker.strategy").setLevel(
        logging.WARNING if quiet else logging.NOTSET
    )
    # The trace logger's other INFO lines (retries) stay, so only "succeeded" is filtered out.
    trace_log = logging.getLogger("celery.app.trace")
    trace_log.filters[:] = [f for f in trace_log.filters if not isinstance(f, _DropMessages)]
    if quiet:
        trace_log.addFilter(_DropMessages({trace.LOG_SUCCESS}))


class _DropMessages(logging.Filter):
    def __init__(self, messages: set[str]) -> None:
        super().__init__()
        self._messages = messages

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in self._messages
