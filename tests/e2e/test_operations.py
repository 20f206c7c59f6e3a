"""What an operator asks of a running gateway: readiness and status."""

from __future__ import annotations

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
