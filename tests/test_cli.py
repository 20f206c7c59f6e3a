"""The operator CLI against a database of its own."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.fixtures.databases import REDIS_URL, create_migrated_database, drop_database
from tests.fixtures.stack import free_port

# Where the gateway's URLs come from: unset here so each test says which it means.
URL_SETTINGS = ("PUBLIC_BASE_URL", "HOST", "PORT")


@pytest.fixture(scope="module")
def db() -> Iterator[str]:
    url = create_migrated_database("musicgw_cli")
    yield url
    drop_database(url)


def _env(db: str, env: dict[str, str] | None) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in URL_SETTINGS}
    return base | {"DATABASE_URL": db, "REDIS_URL": ""} | (env or {})


def musicgw(
    db: str,
    *args: str,
    check: bool = True,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env=_env(db, env),
        cwd=cwd,
        text=True,
        capture_output=True,
        check=check,
        timeout=60,
    )


def on_terminal(db: str, *args: str, env: dict[str, str] | None = None) -> str:
    """What `musicgw ARGS` prints when its stdout is a terminal."""
    leader, follower = pty.openpty()
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", *args],
            env=_env(db, env),
            stdout=follower,
            stderr=stderr,
        )
        os.close(follower)
        out = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the program exited and closed the terminal
                break
            if not chunk:
                break
            out += chunk
        os.close(leader)
        code = process.wait(timeout=60)
        stderr.seek(0)
        assert code == 0, stderr.read().decode()
    return out.decode().replace("\r\n", "\n")


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


def test_accounts_list_counts_active_keys(db: str) -> None:
    created = json.loads(
        musicgw(db, "accounts", "create", "--name", "lister", "--balance-usd", "3.5").stdout
    )
    account_id = created["account_id"]
    revoked = json.loads(musicgw(db, "keys", "create", account_id).stdout)["key_id"]
    musicgw(db, "keys", "revoke", revoked)
    musicgw(db, "keys", "create", account_id, "--expires-in-days", "0.000001")  # gone at once
    musicgw(db, "keys", "create", account_id, "--expires-in-days", "30")
    listed = json.loads(musicgw(db, "accounts", "list").stdout)["accounts"]
    [row] = [a for a in listed if a["account_id"] == account_id]
    assert (row["name"], row["balance_usd"], row["active_keys"]) == ("lister", "3.5", 2)
    assert row["created_at"].startswith("20")
    assert [a["created_at"] for a in listed] == sorted(a["created_at"] for a in listed)


def test_tables_on_a_terminal_and_json_when_asked(db: str) -> None:
    account_id = json.loads(
        musicgw(db, "accounts", "create", "--name", "tty-co", "--balance-usd", "7.25").stdout
    )["account_id"]
    listed = on_terminal(db, "accounts", "list")
    assert listed.startswith("ID ") and "ACTIVE KEYS" in listed
    [row] = [line for line in listed.splitlines() if line.startswith(account_id)]
    assert row.split()[1] == "tty-co" and row.split()[-2:] == ["1", "$7.25"]
    shown = on_terminal(db, "accounts", "show", account_id)
    assert f"Account    {account_id} (tty-co)" in shown and "Available  $7.25" in shown
    assert "deposit" in shown and "opening" in shown and "{" not in shown
    status = on_terminal(db, "status", env={"PORT": str(free_port())})
    assert status.startswith("Workers ") and "Active holds" in status
    as_json = json.loads(on_terminal(db, "accounts", "show", account_id, "--json"))
    assert as_json["available_usd"] == "7.25"


def test_status_without_the_embedded_api_claims_no_worker(db: str) -> None:
    port = free_port()  # nothing listens there
    report = json.loads(musicgw(db, "status", env={"PORT": str(port)}).stdout)
    assert (report["mode"], report["workers"], report["queue_depth"]) == ("embedded", 0, None)
    assert report["api_url"] == f"http://127.0.0.1:{port}"
    text = on_terminal(db, "status", env={"PORT": str(port)})
    assert f"none: the API at http://127.0.0.1:{port} is not answering" in text


def test_status_without_a_celery_worker_says_none(db: str) -> None:
    report = json.loads(musicgw(db, "status", env={"REDIS_URL": REDIS_URL}).stdout)
    assert (report["mode"], report["workers"]) == ("celery", 0)
    assert isinstance(report["queue_depth"], int)
    down = json.loads(musicgw(db, "status", env={"REDIS_URL": "redis://127.0.0.1:1/0"}).stdout)
    assert (down["workers"], down["queue_depth"]) == (0, None)
    assert down["redis"].startswith("unavailable: ")


def test_urls_start_with_public_base_url(db: str) -> None:
    account_id = json.loads(musicgw(db, "accounts", "create", "--name", "urls").stdout)[
        "account_id"
    ]
    env = {"PUBLIC_BASE_URL": "https://music.example.com/", "HOST": "0.0.0.0", "PORT": "9"}
    link = json.loads(musicgw(db, "gallery-link", account_id, env=env).stdout)["url"]
    assert link.startswith("https://music.example.com/gallery/login/")
    demo = musicgw(db, "demo", env=env).stdout
    assert "curl -sS -o track.mp3 -D - https://music.example.com/v1/audio/music" in demo
    assert "API docs: https://music.example.com/docs" in demo


def test_urls_start_with_host_and_port_from_the_environment_or_dotenv(
    db: str, tmp_path: Path
) -> None:
    account_id = json.loads(musicgw(db, "accounts", "create", "--name", "urls").stdout)[
        "account_id"
    ]
    env = {"HOST": "10.0.0.7", "PORT": "8111"}
    link = json.loads(musicgw(db, "gallery-link", account_id, env=env).stdout)["url"]
    assert link.startswith("http://10.0.0.7:8111/gallery/login/")
    (tmp_path / ".env").write_text("HOST=192.168.5.5\nPORT=8222\n")
    demo = musicgw(db, "demo", cwd=tmp_path).stdout
    assert " http://192.168.5.5:8222/v1/audio/music " in demo


@pytest.mark.parametrize("command", ["gallery-link", "demo"])
def test_help_says_where_urls_come_from(db: str, command: str) -> None:
    assert "PUBLIC_BASE_URL" in musicgw(db, command, "--help").stdout


@pytest.mark.parametrize("usd", ["nan", "Infinity", "-Infinity", "1e30", "1e400", "0", "-5"])
def test_amounts_that_are_not_money_are_a_clear_error(db: str, usd: str) -> None:
    account_id = json.loads(musicgw(db, "accounts", "create", "--name", "amounts").stdout)[
        "account_id"
    ]
    for args in (
        ("accounts", "topup", account_id, f"--usd={usd}"),
        ("accounts", "create", "--name", "rich", f"--balance-usd={usd}"),
    ):
        answer = musicgw(db, *args, check=False)
        if args[1] == "create" and usd == "0":
            assert answer.returncode == 0  # an account may start empty
            continue
        assert answer.returncode == 2, answer.stderr
        assert "Traceback" not in answer.stderr and "Invalid value" in answer.stderr


@pytest.mark.parametrize("days", ["0", "-1", "nan", "inf", "1e30", "3651"])
def test_key_lifetimes_that_are_not_a_number_of_days_are_a_clear_error(db: str, days: str) -> None:
    account_id = json.loads(musicgw(db, "accounts", "create", "--name", "keys").stdout)[
        "account_id"
    ]
    answer = musicgw(db, "keys", "create", account_id, f"--expires-in-days={days}", check=False)
    assert answer.returncode == 2, answer.stdout
    assert "Traceback" not in answer.stderr and "--expires-in-days" in answer.stderr
    assert "api_key" not in answer.stdout
