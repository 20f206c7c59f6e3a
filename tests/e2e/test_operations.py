"""What an operator asks of a running gateway: readiness and status."""

from __future__ import annotations

import httpx

from tests.fixtures.stack import Stack


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
