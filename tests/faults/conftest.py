"""Fault injection: the reliability table of spec/reliability.md, one module per row.

Every test starts its own stack (the API under uvicorn, Celery workers, often `musicgw beat`)
on a database of its own module, breaks something, checks the row's pass number, and ends by
running `musicgw ledger verify` against that database. A row that measures something prints it
on a line starting with `FIGURE ` (run pytest with `-s` to collect them).

Rows that restart Postgres or Redis, or take minutes, are marked `faults_slow`: `make test`
leaves them out and `make test-faults` runs them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.harness import Rows
from tests.fixtures.databases import create_migrated_database, drop_database


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A migrated Postgres database for one module's stacks."""
    url = create_migrated_database("musicgw_faults")
    yield url
    drop_database(url)


@pytest.fixture(scope="module")
def rows(database: str) -> Iterator[Rows]:
    reader = Rows(database)
    yield reader
    reader.close()
