"""Request dependencies: the app's shared state and the authenticated caller."""

from __future__ import annotations

from dataclasses import dataclass

from celery import Celery
from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from api.db import in_one_statement
from api.waiters import JobWaiters
from common.account.limits import RequestRateLimiter
from common.account.service import Principal, authenticate
from common.config import Settings
from common.storage.base import BlobStore


@dataclass
class AppState:
    settings: Settings
    sessions: sessionmaker[Session]
    store: BlobStore
    celery: Celery
    waiters: JobWaiters
    rate_limiter: RequestRateLimiter


def get_state(request: Request) -> AppState:
    return request.app.state.gateway  # type: ignore[no-any-return]


async def require_principal(request: Request) -> Principal:
    """The caller behind the bearer key (401 otherwise), its read counted against the key's
    reads budget (429 over it). Runs before anything else."""
    state = get_state(request)
    return await in_one_statement(
        state.sessions,
        _authenticate_read,
        authorization=request.headers.get("authorization"),
        limiter=state.rate_limiter,
    )


def _authenticate_read(
    session: Session, *, authorization: str | None, limiter: RequestRateLimiter
) -> Principal:
    principal = authenticate(session, authorization=authorization)
    limiter.check_read(api_key_id=principal.api_key_id)
    return principal
