"""Liveness (`/healthz`, no I/O) and readiness (`/readyz`, every dependency)."""

from __future__ import annotations

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
async def readyz(state: AppState = Depends(get_state)) -> JSONResponse:
    checks: dict[str, str] = {}
    probes = {
        "database": lambda: in_transaction(
            state.sessions, health.check_database, settings=state.settings
        ),
        "redis": lambda: run_in_threadpool(health.check_redis, state.settings),
        "storage": lambda: run_in_threadpool(health.check_storage, state.store),
    }
    for name, probe in probes.items():
        try:
            checks[name] = await probe()
        except Exception as exc:
            checks[name] = f"unavailable: {type(exc).__name__}"
    ready = all(v == "ok" or v.startswith("not used") for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )
