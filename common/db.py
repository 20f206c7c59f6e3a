"""Engine and session factories, and the declarative Base with a naming convention."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import pq
from sqlalchemy import DateTime, MetaData, create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, configure_mappers, sessionmaker
from sqlalchemy.types import TypeDecorator

from common.config import Settings

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """timestamptz on Postgres; on SQLite, naive UTC stored and made aware again on load."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def create_db_engine(settings: Settings) -> Engine:
    """An engine for the configured database (SQLite in WAL mode for the embedded default)."""
    url = settings.effective_database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; take the write lock up front instead
        # so a read-then-write in one transaction cannot deadlock with another writer.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    engine = create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=30,
    )
    event.listen(engine.pool, "checkout", _ping)
    return engine


def _ping(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    """Every pooled connection answers one round trip before it is handed out.

    SQLAlchemy's `pool_pre_ping` does this through a cursor and `SELECT 1`, toggling
    autocommit around it; here it is libpq's own empty query, which parses nothing, opens no
    transaction and waits without the GIL, so a checkout costs less CPU (measured:
    bench/results.md). A connection that fails it is replaced (SQLAlchemy's documented
    pessimistic disconnect handling: the pool discards it and checks out another).
    """
    try:
        status = dbapi_conn.pgconn.exec_(b"").status
    except psycopg.Error as exc:
        raise DisconnectionError(str(exc)) from exc
    if status != pq.ExecStatus.EMPTY_QUERY:
        raise DisconnectionError(f"ping answered {pq.ExecStatus(status).name}")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # let the "begin" listener issue BEGIN
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on any error."""
    with factory() as session, session.begin():
        yield session


def on_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


@contextmanager
def one_statement(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for work that is a single statement (a read, or one conditional write).

    On Postgres its connection is in autocommit, so the statement commits by itself: no BEGIN
    and COMMIT round trips, which on the hot path (auth, claim, re-read) are most of the cost.
    Elsewhere it is an ordinary transaction. More than one write here would not be atomic.
    """
    with factory() as session:
        if on_postgres(session):
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            yield session
            return
        with session.begin():
            yield session


def warm_up(factory: sessionmaker[Session]) -> None:
    """Pay the first-use costs at start-up rather than in the first burst of requests or jobs.

    SQLAlchemy configures every mapper on first use, under one process-wide lock, and the first
    connection initialises the dialect (a few queries). Done lazily, the first job of a fresh
    worker made every other thread wait behind both. A database that is down is not an error
    here: the first real use will retry or report it.
    """
    configure_mappers()
    try:
        with one_statement(factory) as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - start-up goes on; the database may come up later
        log.warning("database not reachable at start-up: %s", exc)
