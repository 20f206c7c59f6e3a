"""Running short synchronous domain steps from async routes, one transaction each."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from common.db import one_statement, transaction

T = TypeVar("T")


async def in_transaction(
    sessions: sessionmaker[Session], fn: Callable[..., T], /, **kwargs: Any
) -> T:
    """Call `fn(session, **kwargs)` in the threadpool; commit on success, roll back on error."""
    return await _in_threadpool(transaction, sessions, fn, kwargs)


async def in_one_statement(
    sessions: sessionmaker[Session], fn: Callable[..., T], /, **kwargs: Any
) -> T:
    """Call `fn(session, **kwargs)`, whose work is one statement, in the threadpool (see
    `common.db.one_statement`)."""
    return await _in_threadpool(one_statement, sessions, fn, kwargs)


async def _in_threadpool(
    scope: Callable[[sessionmaker[Session]], AbstractContextManager[Session]],
    sessions: sessionmaker[Session],
    fn: Callable[..., T],
    kwargs: dict[str, Any],
) -> T:
    def run() -> T:
        with scope(sessions) as session:
            return fn(session, **kwargs)

    return await run_in_threadpool(run)
