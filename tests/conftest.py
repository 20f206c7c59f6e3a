"""Session-wide fixtures: one migrated Postgres database, tests in rolled-back transactions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tests.fixtures.databases import create_migrated_database, drop_database


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    url = create_migrated_database("musicgw_test")
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(
        database_url.replace("postgresql://", "postgresql+psycopg://"),
        # Races use up to 32 connections at once; keep only a few open between tests, so the
        # stacks started by the end-to-end tests never run Postgres out of connections.
        pool_size=5,
        max_overflow=40,
    )
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            session.close()
            transaction.rollback()


# A loaded 2-core machine can stretch one example past hypothesis's 200 ms deadline; the
# properties tested here are about values, not speed.
settings.register_profile("musicgw", deadline=None)
settings.load_profile("musicgw")
