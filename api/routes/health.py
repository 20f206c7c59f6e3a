from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Process is alive (no I/O)")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
