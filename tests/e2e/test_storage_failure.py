"""A store that refuses the track: nothing is charged, the caller gets 502 storage_error.
Also the happy path on Vercel Blob (its faithful fake) through the whole stack."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import assert_ledger_sound
from tests.fakes.vercel_blob import FakeVercelBlob
from tests.fixtures.stack import Stack


@pytest.fixture(scope="module")
def blob() -> Iterator[FakeVercelBlob]:
    with FakeVercelBlob() as fake:
        yield fake


@pytest.fixture(scope="module")
def vercel(
    blob: FakeVercelBlob, e2e_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    stack = Stack(
        tmp_path_factory.mktemp("vercel"),
        database_url=e2e_database,
        env={
            "STORAGE_BACKEND": "vercel",
            "BLOB_READ_WRITE_TOKEN": blob.token,
            "VERCEL_BLOB_API_URL": blob.api_url,
        },
    ).start()
    yield stack
    stack.stop()


def test_saved_track_on_vercel_blob(vercel: Stack, blob: FakeVercelBlob) -> None:
    blob.reset()
    _, key = vercel.account("5")
    with vercel.client(key) as client:
        r = client.post(
            "/v1/audio/music",
            params={"save_to_blob": "1"},
            json={"prompt": "synth pop", "music_length_ms": 2000},
        )
        assert r.status_code == 200, r.text
        public = httpx.get(r.json()["url"])
        assert public.status_code == 200 and public.headers["content-type"] == "audio/mpeg"
        streamed = client.post("/v1/audio/music", json={"prompt": "x", "music_length_ms": 2000})
        assert streamed.status_code == 200 and streamed.headers["content-type"] == "audio/mpeg"


@pytest.mark.parametrize("save", [True, False])
def test_storage_refusal_charges_nothing(
    vercel: Stack, blob: FakeVercelBlob, e2e_database: str, save: bool
) -> None:
    blob.reset()
    blob.failure = "forbidden"
    account_id, key = vercel.account("5")
    with vercel.client(key) as client:
        r = client.post(
            "/v1/audio/music",
            params={"save_to_blob": "1"} if save else {},
            json={"prompt": "x", "music_length_ms": 2000},
        )
        job = client.get(f"/v1/jobs/{r.headers['x-kyma-job-id']}").json()
    blob.reset()
    assert r.status_code == 502
    assert r.json()["error"]["code"] == "storage_error"
    assert (job["status"], job["error"]["code"], job["charged_usd"]) == (
        "failed",
        "storage_error",
        0,
    )
    assert vercel.balance(account_id) == "5"
    assert_ledger_sound(e2e_database, account_id)
