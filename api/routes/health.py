from __future__ import annotations

from fastapi import APIRouter, Request

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Process is alive (no I/O)")
async def healthz(request: Request) -> dict[str, object]:
    """Liveness, and how many callers this process is holding open (in memory, no I/O)."""
    return {"status": "ok", "waiting": request.app.state.gateway.waiters.waiting}
