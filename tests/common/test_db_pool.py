"""The pool pings a connection only after it sat idle, and replaces one whose server went away."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy.exc
from sqlalchemy import text
from sqlalchemy.engine import Engine

from common import db
from common.config import Settings


@pytest.fixture
def pooled(database_url: str) -> Iterator[Engine]:
    engine = db.create_db_engine(Settings(database_url=database_url, redis_url=""))
    yield engine
    engine.dispose()


def pool_one_dead_connection(engine: Engine) -> int:
    """Two pooled connections, one of them killed on the server; its backend pid."""
    with engine.connect() as victim, engine.connect() as killer:
        pid = int(victim.execute(text("SELECT pg_backend_pid()")).scalar_one())
        victim.commit()  # idle in the pool, as after any use
        killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    return pid


def use_twice(engine: Engine) -> list[str]:
    """Check out and use a connection twice; the errors met."""
    errors = []
    for _ in range(2):
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except sqlalchemy.exc.OperationalError as exc:
            errors.append(type(exc.orig).__name__)
    return errors


def test_an_idle_connection_whose_server_went_away_is_replaced_unseen(
    pooled: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool_one_dead_connection(pooled)
    monkeypatch.setattr(db, "IDLE_PING_S", 0.0)  # every connection counts as idle
    assert use_twice(pooled) == []


def test_a_recently_used_connection_is_not_pinged(pooled: Engine) -> None:
    pings: list[object] = []
    real = pooled.dialect.do_ping

    def counting(conn: object) -> bool:
        pings.append(conn)
        return bool(real(conn))

    pooled.dialect.do_ping = counting  # type: ignore[method-assign]
    pool_one_dead_connection(pooled)
    # Not pinged, the dead one fails its statement once; the pool then drops it.
    assert use_twice(pooled) == ["AdminShutdown"]
    assert pings == []
    assert use_twice(pooled) == []
