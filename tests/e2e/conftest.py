from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from common.ledger.verify import verify_ledger
from tests.fixtures.databases import create_migrated_database, drop_database
from tests.fixtures.stack import Stack


@pytest.fixture(scope="session")
def e2e_database() -> Iterator[str]:
    url = create_migrated_database("musicgw_e2e")
    yield url
    try:
        # Every end-to-end test has left the money sound: the operator's own command says so.
        done = subprocess.run(
            [sys.executable, "-m", "api.cli", "ledger", "verify"],
            env=os.environ | {"DATABASE_URL": url, "REDIS_URL": ""},
            cwd=Path(__file__).resolve().parents[2],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        drop_database(url)


@pytest.fixture(scope="session")
def stack(e2e_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The production shape on Postgres + Redis: uvicorn and a Celery worker process."""
    stack = Stack(tmp_path_factory.mktemp("stack"), database_url=e2e_database).start()
    yield stack
    stack.stop()


def assert_ledger_sound(database_url: str, account_id: str | None = None) -> None:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with Session(engine) as session:
            assert verify_ledger(session, account_id=account_id) == []
    finally:
        engine.dispose()


@pytest.fixture
def tmp_stack_dir(tmp_path: Path) -> Path:
    return tmp_path / "stack"
