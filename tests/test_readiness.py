"""/readyz under a flood: one run of the dependency checks serves every probe that asks."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest

from api.routes import health as routes

# What the checks read of the app's state; the probes themselves are replaced below.
STATE: Any = SimpleNamespace(sessions=None, settings=None, store=None)


class Counting:
    def __init__(self, *, hang_s: float = 0.0) -> None:
        self.calls = 0
        self.hang_s = hang_s

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        self.calls += 1
        time.sleep(self.hang_s)
        return "ok"


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch) -> dict[str, Counting]:
    counting = {"database": Counting(hang_s=0.05), "redis": Counting(), "storage": Counting()}

    async def database(*args: Any, **kwargs: Any) -> str:
        return await asyncio.to_thread(counting["database"])

    monkeypatch.setattr(routes, "in_transaction", database)
    monkeypatch.setattr(routes.health, "check_redis", counting["redis"])
    monkeypatch.setattr(routes.health, "check_storage", counting["storage"])
    return counting


def test_a_flood_of_probes_runs_the_checks_once_per_second(probes: dict[str, Counting]) -> None:
    readiness = routes.ReadinessChecks(fresh_s=1.0)

    async def flood() -> list[dict[str, str]]:
        first = await asyncio.gather(*(readiness.checks(STATE) for _ in range(500)))  # type: ignore[arg-type]
        again = await asyncio.gather(*(readiness.checks(STATE) for _ in range(500)))  # type: ignore[arg-type]
        return first + again

    answers = asyncio.run(flood())
    assert all(a == {"database": "ok", "redis": "ok", "storage": "ok"} for a in answers)
    assert {name: p.calls for name, p in probes.items()} == {
        "database": 1,
        "redis": 1,
        "storage": 1,
    }


def test_a_check_that_hangs_is_reported_not_waited_for(probes: dict[str, Counting]) -> None:
    probes["redis"].hang_s = 1.0
    readiness = routes.ReadinessChecks(timeout_s=0.2)
    started = time.monotonic()
    checks = asyncio.run(readiness.checks(STATE))  # type: ignore[arg-type]
    assert checks["redis"].startswith("unavailable: no answer in 0.2 s")
    assert checks["database"] == checks["storage"] == "ok"
    assert time.monotonic() - started < 1.0
