"""The embedded default (`make run`): SQLite, in-process queue and worker, no services."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from common.audio.codec import measure_duration_ms
from tests.fixtures.stack import Stack


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("embedded"), embedded=True).start()
    yield stack
    stack.stop()


def test_demo_then_curl_line(embedded: Stack) -> None:
    account_id, key = embedded.account("10")
    with embedded.client(key) as client:
        r = client.post(
            "/v1/audio/music",
            json={"prompt": "upbeat lo-fi hip hop with warm keys", "music_length_ms": 30000},
        )
    assert r.status_code == 200, r.text
    assert r.headers["x-kyma-cost-usd"] == "4.05"
    assert r.headers["x-kyma-balance-usd"] == "5.95"
    assert abs(measure_duration_ms(r.content, "mp3_44100_128") - 30_000) <= 50
    assert embedded.balance(account_id) == "5.95"
    assert embedded.cli("accounts", "show", account_id)["entries"][0]["kind"] == "capture"


def test_provider_failure_is_502_and_free(tmp_path_factory: pytest.TempPathFactory) -> None:
    stack = Stack(
        tmp_path_factory.mktemp("failing"), embedded=True, env={"OFFLINE_FAILURE_RATE": "1"}
    ).start()
    try:
        account_id, key = stack.account("10")
        with stack.client(key) as client:
            r = client.post("/v1/audio/music", json={"model": "minimax-music", "prompt": "x"})
            assert r.status_code == 502
            error = r.json()["error"]
            assert (error["code"], error["sku"]) == ("provider_error", "minimax-music")
            job = client.get(f"/v1/jobs/{r.headers['x-kyma-job-id']}").json()
        assert job["status"] == "failed" and job["charged_usd"] == 0
        assert stack.balance(account_id) == "10"
    finally:
        stack.stop()


def test_ledger_verify_with_objects_reports_a_charged_track_whose_audio_is_gone(
    embedded: Stack,
) -> None:
    _, key = embedded.account("10")
    with embedded.client(key) as client:
        r = client.post(
            "/v1/audio/music",
            params={"save_to_blob": "1"},
            json={"model": "minimax-music", "prompt": "a short folk tune"},
        )
    assert r.status_code == 200, r.text
    job_id = r.json()["job_id"]
    verify = [sys.executable, "-m", "api.cli", "ledger", "verify", "--objects"]
    clean = subprocess.run(verify, env=embedded.env, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stdout
    [mp3] = list(embedded.data_dir.rglob(r.json()["url"].rsplit("/", 1)[1]))
    mp3.unlink()
    broken = subprocess.run(verify, env=embedded.env, capture_output=True, text=True)
    assert broken.returncode == 1
    assert f"job {job_id} succeeded and was charged, but its object" in broken.stdout
