"""One JSON line per event: Celery's routine per-task lines are dropped, its others kept."""

from __future__ import annotations

import io
import json
import logging
from typing import Any, cast

import pytest
from celery.app import trace

from common.observability.logs import configure_logging


@pytest.fixture
def json_logs():  # type: ignore[no-untyped-def]
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging(level="INFO", fmt="json")
    written = io.StringIO()
    cast(logging.StreamHandler[Any], root.handlers[0]).setStream(written)
    yield lambda: [json.loads(line) for line in written.getvalue().splitlines()]
    root.handlers[:] = handlers
    root.setLevel(level)


def test_celery_received_and_succeeded_lines_are_dropped(json_logs) -> None:  # type: ignore[no-untyped-def]
    context = {"name": "music.generate", "id": "t1", "runtime": 0.1, "return_value": "ok"}
    logging.getLogger("celery.worker.strategy").info(trace.LOG_RECEIVED, context)
    logging.getLogger("celery.app.trace").info(trace.LOG_SUCCESS, context)
    logging.getLogger("celery.app.trace").info(
        trace.LOG_RETRY, context | {"exc": "OperationalError"}
    )
    logging.getLogger("common.jobs.runner").info("job.ended", extra={"outcome": "succeeded"})
    lines = json_logs()
    assert [line["message"] for line in lines] == [
        "Task music.generate[t1] retry: OperationalError",
        "job.ended",
    ]


def test_configuring_twice_keeps_one_filter(json_logs) -> None:  # type: ignore[no-untyped-def]
    configure_logging(level="INFO", fmt="json")
    assert len(logging.getLogger("celery.app.trace").filters) == 1


def test_celery_received_lines_come_back_at_debug(json_logs) -> None:  # type: ignore[no-untyped-def]
    strategy = logging.getLogger("celery.worker.strategy")
    assert not strategy.isEnabledFor(logging.INFO)
    configure_logging(level="DEBUG", fmt="json")
    written = io.StringIO()
    cast(logging.StreamHandler[Any], logging.getLogger().handlers[0]).setStream(written)
    context = {"name": "music.generate", "id": "t1", "args": "[]", "kwargs": "{}", "eta": None}
    strategy.info(trace.LOG_RECEIVED, context)
    assert "Task music.generate[t1] received" in written.getvalue()
    configure_logging(level="INFO", fmt="json")
