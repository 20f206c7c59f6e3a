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
    """The caller behind the bearer key (401 otherwise). Runs before anything else."""
    return await in_one_statement(
        get_state(request).sessions,
        authenticate,
        authorization=request.headers.get("authorization"),
    )
