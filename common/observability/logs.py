"""Structured logs: one JSON object per line, carrying the request and job they belong to.

The context (request_id, job_id, account_id, sku, provider) lives in context variables, so
every log line written while handling a request or running a job carries it, whichever library
wrote the line. API keys never enter the context. LOG_FORMAT=text writes the same fields as
`key=value` pairs after the message, for a person at a terminal.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
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
    """Route every logger (ours, uvicorn's, celery's) to stderr as JSON lines (or `text`)."""
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
        handler.setFormatter(TextFormatter())
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
    # Alembic announces each of its plugins at INFO whenever a migration context is built (at
    # every API start-up): seven lines that say nothing. Its migration lines use another logger.
    logging.getLogger("alembic.runtime.plugins").setLevel(
        logging.WARNING if quiet else logging.NOTSET
    )


# Attributes every record has, and uvicorn's copy of its message with terminal colours.
_NOT_FIELDS = frozenset(RESERVED_ATTRS) | {"taskName", "color_message"}


class TextFormatter(logging.Formatter):
    """`time level logger message key=value…`: the event's own fields, then the context's.

    The same fields as the JSON lines, so an operator reading a terminal sees what a log
    shipper sees (an http.request's method, path, status and duration; a job.ended's outcome,
    duration and cost; the ids).
    """

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        fields = {k: v for k, v in vars(record).items() if k not in _NOT_FIELDS and v is not None}
        ordered = [k for k in fields if k not in FIELDS] + [k for k in FIELDS if k in fields]
        if fields.get("route") == fields.get("path"):
            ordered = [k for k in ordered if k != "route"]  # the same words twice
        pairs = " ".join(f"{k}={_text_value(fields[k])}" for k in ordered)
        line = super().formatMessage(record)
        return f"{line} {pairs}" if pairs else line


def _text_value(value: Any) -> str:
    text = str(value)
    if not text or any(c.isspace() or c in '"=' for c in text):
        return json.dumps(text, ensure_ascii=False)
    return text


class _DropMessages(logging.Filter):
    def __init__(self, messages: set[str]) -> None:
        super().__init__()
        self._messages = messages

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in self._messages
