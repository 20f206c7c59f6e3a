"""Liveness (`/healthz`, no I/O) and readiness (`/readyz`, every dependency)."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.db import in_transaction
from api.deps import AppState, get_state
from api.schemas import Health, Readiness
from common.health import service as health

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    response_model=None,
    responses={200: {"model": Health}},
    summary="Process is alive (no I/O)",
)
async def healthz(request: Request) -> dict[str, object]:
    """Liveness, and how many callers this process is holding open (in memory, no I/O)."""
    return {"status": "ok", "waiting": request.app.state.gateway.waiters.waiting}


@router.get(
    "/readyz",
    responses={
        200: {"model": Readiness, "description": "Every dependency is reachable."},
        503: {"model": Readiness, "description": "Not ready: `checks` says which is not."},
    },
    summary="Postgres, Redis and storage reachable, migrations at head",
)
async def readyz(request: Request, state: AppState = Depends(get_state)) -> JSONResponse:
    checks = await _readiness(request).checks(state)
    ready = all(v == "ok" or v.startswith("not used") for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )


class ReadinessChecks:
    """The dependency checks behind /readyz, run at most once per `fresh_s` however many
    probes ask: callers that arrive while a run is going share it, and each check gives up
    after `timeout_s`. A flood of unauthenticated probes costs one database, one Redis and one
    store request a second, not one each, on the threads real requests need."""

    def __init__(self, *, fresh_s: float = 1.0, timeout_s: float = 3.0) -> None:
        self.fresh_s, self.timeout_s = fresh_s, timeout_s
        self._result: dict[str, str] | None = None
        self._at = 0.0
        self._running: asyncio.Future[dict[str, str]] | None = None

    async def checks(self, state: AppState) -> dict[str, str]:
        if self._result is not None and time.monotonic() - self._at < self.fresh_s:
            return self._result
        if self._running is None:
            self._running = asyncio.ensure_future(self._run(state))
            self._running.add_done_callback(self._finished)
        return await asyncio.shield(self._running)

    def _finished(self, run: asyncio.Future[dict[str, str]]) -> None:
        self._running = None
        if not run.cancelled() and run.exception() is None:
            self._result, self._at = run.result(), time.monotonic()

    async def _run(self, state: AppState) -> dict[str, str]:
        probes = {
            "database": lambda: in_transaction(
                state.sessions, health.check_database, settings=state.settings
            ),
            "redis": lambda: run_in_threadpool(health.check_redis, state.settings),
            "storage": lambda: run_in_threadpool(health.check_storage, state.store),
        }
        checks: dict[str, str] = {}
        for name, probe in probes.items():
            try:
                checks[name] = await asyncio.wait_for(probe(), self.timeout_s)
            except TimeoutError:
                checks[name] = f"unavailable: no answer in {self.timeout_s:g} s"
            except Exception as exc:
                checks[name] = f"unavailable: {type(exc).__name__}"
        return checks


def _readiness(request: Request) -> ReadinessChecks:
    app_state = request.app.state
    if not hasattr(app_state, "readiness"):
        app_state.readiness = ReadinessChecks()
    return app_state.readiness  # type: ignore[no-any-return]
