"""What an operator asks of a running gateway: readiness and status."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.fixtures.stack import Stack, free_port


def test_readyz_checks_every_dependency(stack: Stack) -> None:
    r = httpx.get(f"{stack.base_url}/readyz")
    assert r.status_code == 200
    assert r.json() == {
        "status": "ready",
        "checks": {"database": "ok", "redis": "ok", "storage": "ok"},
    }


def test_status_reports_queue_holds_and_workers(stack: Stack) -> None:
    report = stack.cli("status")
    assert report["workers"] >= 1
    assert isinstance(report["queue_depth"], int)
    assert {"active_holds", "active_holds_micro_usd", "jobs"} <= set(report)


def test_metrics_on_the_api_and_on_a_worker(
    e2e_database: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    port = free_port()
    stack = Stack(
        tmp_path_factory.mktemp("metrics"),
        database_url=e2e_database,
        env={"WORKER_METRICS_PORT": str(port)},
    ).start()
    try:
        _, key = stack.account("1")
        with stack.client(key) as client:
            assert (
                client.post(
                    "/v1/audio/music", json={"prompt": "x", "music_length_ms": 1000}
                ).status_code
                == 200
            )
            api = client.get("/metrics").text
        assert (
            'musicgw_http_requests_total{method="POST",route="/v1/audio/music",status="200"}' in api
        )
        assert "musicgw_waiting_callers" in api and "musicgw_active_holds" in api
        worker = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert (
            'musicgw_jobs_total{outcome="succeeded",provider="local",'
            'sku="elevenlabs-music"} 1.0' in worker
        )
        assert "musicgw_job_queue_wait_seconds_bucket" in worker
    finally:
        stack.stop()


def test_json_logs_follow_the_request_into_the_worker(stack: Stack) -> None:
    _, key = stack.account("1")
    with stack.client(key) as client:
        r = client.post(
            "/v1/audio/music",
            json={"prompt": "x", "music_length_ms": 1000},
            headers={"X-Request-Id": "req-trace-1"},
        )
        fresh = client.get("/healthz")
    assert r.headers["x-request-id"] == "req-trace-1"
    assert len(fresh.headers["x-request-id"]) == 32  # one is made up when none is sent
    job_id = r.headers["x-kyma-job-id"]

    def lines(name: str) -> list[dict]:
        return [json.loads(line) for line in stack.log(name).splitlines() if line.startswith("{")]

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ended = [
            e
            for e in lines("worker")
            if e.get("message") == "job.ended" and e.get("job_id") == job_id
        ]
        if ended:
            break
        time.sleep(0.1)
    assert ended and ended[0]["request_id"] == "req-trace-1"
    assert ended[0]["outcome"] == "succeeded" and ended[0]["sku"] == "elevenlabs-music"
    access = [
        e
        for e in lines("api")
        if e.get("message") == "http.request" and e.get("request_id") == "req-trace-1"
    ]
    assert access and access[0]["status"] == 200 and access[0]["route"] == "/v1/audio/music"
    for name in ("api", "worker"):
        assert key not in stack.log(name)
