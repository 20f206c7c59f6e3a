"""Running short synchronous domain steps from async routes, one transaction each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from common.db import one_statement, transaction

T = TypeVar("T")


async def in_transaction(
    sessions: sessionmaker[Session], fn: Callable[..., T], /, **kwargs: Any
) -> T:
    """Call `fn(session, **kwargs)` in the threadpool; commit on success, roll back on error."""

    def run() -> T:
        with transaction(sessions) as session:
            return fn(session, **kwargs)

    return await run_in_threadpool(run)


async def in_one_statement(
    sessions: sessionmaker[Session], fn: Callable[..., T], /, **kwargs: Any
) -> T:
    """Call `fn(session, **kwargs)`, whose work is one statement, in the threadpool (see
    `common.db.one_statement`)."""

    def run() -> T:
        with one_statement(sessions) as session:
            return fn(session, **kwargs)

    return await run_in_threadpool(run)
