"""The operator CLI against a database of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest

from tests.fixtures.databases import create_migrated_database, drop_database


@pytest.fixture(scope="module")
def db() -> Iterator[str]:
    url = create_migrated_database("musicgw_cli")
    yield url
    drop_database(url)


def musicgw(db: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DATABASE_URL": db, "REDIS_URL": ""}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env=env,
        text=True,
        capture_output=True,
        check=check,
        timeout=60,
    )


def test_accounts_and_keys(db: str) -> None:
    created = json.loads(
        musicgw(db, "accounts", "create", "--name", "acme", "--balance-usd", "12.5").stdout
    )
    assert created["api_key"].startswith("mgw_") and created["balance_usd"] == "12.5"
    topped = json.loads(
        musicgw(db, "accounts", "topup", created["account_id"], "--usd", "0.25").stdout
    )
    assert topped["balance_usd"] == "12.75"
    shown = json.loads(musicgw(db, "accounts", "show", created["account_id"]).stdout)
    assert (shown["balance_usd"], shown["held_usd"], len(shown["entries"])) == ("12.75", "0", 2)
    key = json.loads(musicgw(db, "keys", "create", created["account_id"]).stdout)
    assert json.loads(musicgw(db, "keys", "revoke", key["key_id"]).stdout)["revoked"] is True
    bad = musicgw(db, "accounts", "topup", created["account_id"], "--usd", "-3", check=False)
    assert bad.returncode != 0 and "must be" in bad.stderr


def test_ledger_verify_catches_a_corrupted_row(db: str) -> None:
    assert musicgw(db, "ledger", "verify").returncode == 0
    account = json.loads(
        musicgw(db, "accounts", "create", "--name", "victim", "--balance-usd", "5").stdout
    )["account_id"]
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(
            "UPDATE account SET balance_micro_usd = balance_micro_usd + 1 WHERE id = %s", (account,)
        )
    result = musicgw(db, "ledger", "verify", check=False)
    assert result.returncode == 1
    assert f"{account}: deposits 5000000 != balance 5000001" in result.stdout
