"""One JSON line per event (or a `key=value` text line): Celery's routine per-task lines are
dropped, its others kept; a request's and a job's lines say what an operator needs."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, cast

import anyio
import httpx
import pytest
from celery.app import trace
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from api.middleware import RequestIdMiddleware
from common.observability.logs import configure_logging, log_context


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


def _capture(fmt: str) -> Iterator[Callable[[], str]]:
    """What the root logger writes, as configured for `fmt`."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging(level="INFO", fmt=fmt)
    written = io.StringIO()
    cast(logging.StreamHandler[Any], root.handlers[0]).setStream(written)
    yield written.getvalue
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def text_log() -> Iterator[Callable[[], str]]:
    yield from _capture("text")


@pytest.fixture
def json_log() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    for written in _capture("json"):
        yield partial(_json_lines, written)


def _json_lines(written: Callable[[], str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in written().splitlines()]


def _get(path: str, request_id: str | None = None) -> int:
    """GET `path` from a small app behind the request-id middleware; the status."""

    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hi", status_code=201)

    async def boom(request: Request) -> PlainTextResponse:
        raise RuntimeError("boom")

    app = Starlette(
        routes=[
            Route("/v1/jobs/{job_id}", hello),
            Route("/s/{token}", hello),
            Route("/boom", boom),
        ]
    )
    app.add_middleware(RequestIdMiddleware)
    headers = {"X-Request-Id": request_id} if request_id else {}

    async def get() -> int:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return (await client.get(path, headers=headers)).status_code

    return anyio.run(get)


def _job_ended() -> None:
    with log_context(
        request_id="req-7",
        job_id="job_1",
        account_id="acct_1",
        sku="minimax-music",
        provider="local",
    ):
        logging.getLogger("common.jobs.runner").info(
            "job.ended",
            extra={
                "outcome": "succeeded",
                "duration_ms": 1834,
                "queue_wait_ms": 12,
                "cost_usd": "0.045",
            },
        )


def test_text_request_line_has_method_path_status_duration_and_id(text_log) -> None:  # type: ignore[no-untyped-def]
    assert _get("/v1/jobs/job_42", "req-abc") == 201
    [line] = [line for line in text_log().splitlines() if "http.request" in line]
    assert " INFO musicgw.access http.request method=GET path=/v1/jobs/job_42 " in line
    assert "route=/v1/jobs/{job_id} status=201 duration_ms=" in line
    assert line.endswith(" request_id=req-abc")


def test_text_job_ended_line_has_sku_outcome_duration_cost_and_job(text_log) -> None:  # type: ignore[no-untyped-def]
    _job_ended()
    line = text_log().strip()
    assert line.endswith(
        " INFO common.jobs.runner job.ended outcome=succeeded duration_ms=1834 queue_wait_ms=12"
        " cost_usd=0.045 request_id=req-7 job_id=job_1 account_id=acct_1 sku=minimax-music"
        " provider=local"
    )


def test_text_values_with_spaces_are_quoted_and_tracebacks_follow(text_log) -> None:  # type: ignore[no-untyped-def]
    try:
        raise ValueError("bad")
    except ValueError:
        logging.getLogger("x").exception("failed", extra={"why": 'a "b" c', "none": None})
    first, *rest = text_log().splitlines()
    assert first.endswith(' x failed why="a \\"b\\" c"')
    assert rest[0] == "Traceback (most recent call last):" and rest[-1] == "ValueError: bad"


def test_json_lines_keep_every_field(json_log) -> None:  # type: ignore[no-untyped-def]
    assert _get("/v1/jobs/job_42", "req-abc") == 201
    _job_ended()
    request, ended = [e for e in json_log() if e["message"] in ("http.request", "job.ended")]
    assert set(request) == {
        "time",
        "level",
        "logger",
        "message",
        "method",
        "path",
        "route",
        "status",
        "duration_ms",
        "request_id",
    }
    assert (request["route"], request["path"], request["status"]) == (
        "/v1/jobs/{job_id}",
        "/v1/jobs/job_42",
        201,
    )
    assert {k: v for k, v in ended.items() if k != "time"} == {
        "level": "INFO",
        "logger": "common.jobs.runner",
        "message": "job.ended",
        "outcome": "succeeded",
        "duration_ms": 1834,
        "queue_wait_ms": 12,
        "cost_usd": "0.045",
        "request_id": "req-7",
        "job_id": "job_1",
        "account_id": "acct_1",
        "sku": "minimax-music",
        "provider": "local",
    }


def test_secret_tokens_stay_out_of_the_request_line(json_log) -> None:  # type: ignore[no-untyped-def]
    assert _get("/s/share-secret-123") == 201
    [line] = [e for e in json_log() if e["message"] == "http.request"]
    assert line["path"] == line["route"] == "/s/{token}"


def test_a_request_that_raises_still_gets_its_line(json_log) -> None:  # type: ignore[no-untyped-def]
    assert _get("/boom", "req-boom") == 500
    lines = [line for line in json_log() if line["message"] == "http.request"]
    assert [(line["status"], line["request_id"]) for line in lines] == [(500, "req-boom")]


def test_alembic_plugin_lines_are_quiet_above_debug(text_log) -> None:  # type: ignore[no-untyped-def]
    logging.getLogger("alembic.runtime.plugins").info("setup plugin alembic.autogenerate.schemas")
    assert text_log() == ""
