"""Pooled Postgres connections are checked with one round trip before they are handed out."""

from __future__ import annotations

import psycopg
from sqlalchemy import text

from common.config import Settings
from common.db import create_db_engine, create_session_factory, one_statement


def test_a_connection_whose_server_went_away_is_replaced(database_url: str) -> None:
    engine = create_db_engine(Settings(database_url=database_url))
    sessions = create_session_factory(engine)
    try:
        with one_statement(sessions) as session:
            first = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert engine.pool.checkedin() == 1
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        # The pooled connection is dead; the checkout's ping finds out and opens another,
        # so the statement itself never sees it.
        with one_statement(sessions) as session:
            second = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert second != first
    finally:
        engine.dispose()


def test_the_ping_leaves_no_transaction_open(database_url: str) -> None:
    engine = create_db_engine(Settings(database_url=database_url))
    try:
        engine.raw_connection().close()  # opened, pinged, returned
        raw = engine.raw_connection()  # pinged again on this checkout
        try:
            status = raw.driver_connection.info.transaction_status
            assert status == psycopg.pq.TransactionStatus.IDLE
        finally:
            raw.close()
    finally:
        engine.dispose()
