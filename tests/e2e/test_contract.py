"""The public contract, over HTTP, against uvicorn + a Celery worker on Postgres and Redis."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from common.audio.codec import measure_duration_ms
from common.audio.formats import FORMATS
from tests.e2e.conftest import assert_ledger_sound
from tests.fixtures.stack import Stack

DECOMPOSED_E = "e\u0301"
TWO_VERSES_AND_A_CHORUS = """[verse]
Morning light on the river
Coffee steam and a slow guitar
Every step is a little lighter
Every road leads where you are
[chorus]
Sing it loud, sing it slow
Let the whole wide city know
Sing it loud, sing it slow
Here we go, here we go
[verse]
Evening falls on the water
Neon hums a familiar tune
Hold the moment a little longer
Dancing under a paper moon
"""


@pytest.fixture(scope="module")
def caller(stack: Stack) -> tuple[str, str]:
    return stack.account("1000")


def error_of(response) -> dict:  # type: ignore[no-untyped-def]
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message", "type"} <= set(body["error"])
    return body["error"]


def test_thirty_second_track_costs_4_05(stack: Stack) -> None:
    account_id, key = stack.account("10")
    with stack.client(key) as client:
        r = client.post("/v1/audio/music", json={"prompt": "upbeat lo-fi hip hop"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "audio/mpeg"
    assert r.headers["x-kyma-model"] == "elevenlabs-music"
    assert r.headers["x-kyma-cost-usd"] == "4.05"
    assert r.headers["x-kyma-duration-sec"] == "30"
    assert r.headers["x-kyma-balance-usd"] == "5.95"
    assert r.headers["x-kyma-job-id"].startswith("job_")
    assert abs(measure_duration_ms(r.content, "mp3_44100_128") - 30_000) <= 50
    assert stack.balance(account_id) == "5.95"


def test_minimax_pro_length_follows_lyrics(stack: Stack, caller: tuple[str, str]) -> None:
    with stack.client(caller[1]) as client:
        song = client.post(
            "/v1/audio/music",
            json={
                "model": "minimax-music-pro",
                "prompt": "sunny indie pop",
                "lyrics": TWO_VERSES_AND_A_CHORUS,
            },
        )
        short = client.post(
            "/v1/audio/music",
            json={
                "model": "minimax-music-pro",
                "prompt": "sunny indie pop",
                "lyrics": "[verse]\nMorning light on the river",
            },
        )
    assert song.status_code == 200, song.text
    assert song.headers["x-kyma-cost-usd"] == "0.21"
    measured = measure_duration_ms(song.content, "mp3_44100_128")
    billed = Decimal(song.headers["x-kyma-duration-sec"]) * 1000
    assert abs(measured - billed) <= 50
    assert billed > Decimal(short.headers["x-kyma-duration-sec"]) * 1000


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format(stack: Stack, caller: tuple[str, str], fmt: str) -> None:
    with stack.client(caller[1]) as client:
        r = client.post(
            "/v1/audio/music",
            json={"prompt": "calm ambient pads", "music_length_ms": 2500, "response_format": fmt},
        )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == FORMATS[fmt].content_type
    assert abs(measure_duration_ms(r.content, fmt) - 2500) <= 40
    if FORMATS[fmt].kind == "pcm":  # 16-bit mono: two bytes a sample
        assert abs(len(r.content) / 2 - FORMATS[fmt].sample_rate * 2.5) <= 4
    if fmt == "ulaw_8000":
        assert abs(len(r.content) - 20_000) <= 4


def test_duration_ms_alias(stack: Stack, caller: tuple[str, str]) -> None:
    with stack.client(caller[1]) as client:
        r = client.post("/v1/audio/music", json={"prompt": "jazz trio", "duration_ms": 4200})
    assert r.status_code == 200
    assert r.headers["x-kyma-duration-sec"] == "4.2"
    assert r.headers["x-kyma-cost-usd"] == "0.567"


def test_nfc_boundary(stack: Stack, caller: tuple[str, str]) -> None:
    with stack.client(caller[1]) as client:
        ok = client.post(
            "/v1/audio/music", json={"model": "minimax-music", "prompt": DECOMPOSED_E * 200}
        )
        too_long = client.post(
            "/v1/audio/music", json={"model": "minimax-music", "prompt": DECOMPOSED_E * 201}
        )
    assert ok.status_code == 200, ok.text
    assert ok.headers["x-kyma-cost-usd"] == "0.045"
    assert too_long.status_code == 400
    error = error_of(too_long)
    assert error["code"] == "prompt_too_long"
    assert (error["param"], error["sku"]) == ("prompt", "minimax-music")
    assert error["message"] == (
        "prompt is 201 characters after NFC normalisation; minimax-music allows at most 200"
    )


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"model": "tts-1", "prompt": "x"}, "not_a_music_model", "model"),
        ({"prompt": "x" * 2001}, "prompt_too_long", "prompt"),
        ({"model": "minimax-music", "lyrics": "la " * 201}, "lyrics_too_long", "lyrics"),
        ({"prompt": "x", "music_length_ms": 300_001}, "invalid_duration", "music_length_ms"),
        (
            {"prompt": "x", "duration_ms": 2000, "music_length_ms": 3000},
            "invalid_duration",
            "duration_ms",
        ),
        ({"prompt": "x", "response_format": "flac"}, "invalid_response_format", "response_format"),
        ({"prompt": ["x"]}, "invalid_request", "prompt"),
        ({"music_length_ms": 5000}, "invalid_request", "prompt"),
        ([1, 2], "invalid_request", None),
    ],
)
def test_400_rows_charge_nothing(stack: Stack, body: object, code: str, param: str | None) -> None:
    account_id, key = stack.account("5")
    with stack.client(key) as client:
        r = client.post("/v1/audio/music", json=body)
    assert r.status_code == 400
    error = error_of(r)
    assert error["code"] == code and error.get("param") == param
    assert "x-kyma-job-id" not in r.headers
    assert stack.balance(account_id) == "5"


def test_malformed_json(stack: Stack, caller: tuple[str, str]) -> None:
    with stack.client(caller[1]) as client:
        r = client.post(
            "/v1/audio/music", content=b'{"prompt": ', headers={"Content-Type": "application/json"}
        )
    assert r.status_code == 400 and error_of(r)["code"] == "invalid_request"


def test_401_before_anything_else(stack: Stack) -> None:
    account_id, key = stack.account("5")
    revoked_id = stack.cli("keys", "create", account_id)
    stack.cli("keys", "revoke", revoked_id["key_id"])
    headers_list = [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {key}"},
        {"Authorization": "Bearer mgw_0123456789ab_" + "x" * 43},
        {"Authorization": f"Bearer {key[:-1]}"},
        {"Authorization": f"Bearer {revoked_id['api_key']}"},
    ]
    with stack.client() as client:
        for headers in headers_list:
            # an invalid body too: authentication is checked first
            r = client.post("/v1/audio/music", content=b"not json", headers=headers)
            assert r.status_code == 401, headers
            assert error_of(r)["code"] == "auth_error"
            assert client.get("/v1/jobs/job_x", headers=headers).status_code == 401


def test_402_when_balance_is_short(stack: Stack) -> None:
    account_id, key = stack.account("4.049999")
    with stack.client(key) as client:
        r = client.post("/v1/audio/music", json={"prompt": "x", "music_length_ms": 30_000})
    assert r.status_code == 402 and error_of(r)["code"] == "billing_error"
    assert stack.balance(account_id) == "4.049999"


def test_413_over_64_kib(stack: Stack) -> None:
    account_id, key = stack.account("5")
    body = json.dumps({"prompt": "x", "pad": "y" * (64 * 1024)}).encode()
    with stack.client(key) as client:
        r = client.post(
            "/v1/audio/music", content=body, headers={"Content-Type": "application/json"}
        )
        under = client.post(
            "/v1/audio/music",
            content=json.dumps(
                {"prompt": "x", "music_length_ms": 1000, "pad": "y" * 60_000}
            ).encode(),
        )
    assert r.status_code == 413 and error_of(r)["code"] == "request_too_large"
    assert under.status_code == 200
    assert stack.balance(account_id) == "4.865"


def test_jobs_are_private_and_fetchable(stack: Stack) -> None:
    _, key = stack.account("5")
    _, other = stack.account("5")
    with stack.client(key) as client:
        r = client.post(
            "/v1/audio/music",
            json={"prompt": "folk guitar", "music_length_ms": 2000, "response_format": "pcm_16000"},
        )
        job_id = r.headers["x-kyma-job-id"]
        status = client.get(f"/v1/jobs/{job_id}")
        audio = client.get(f"/v1/jobs/{job_id}/audio")
    assert status.status_code == 200
    body = status.json()
    assert (body["status"], body["model"], body["duration_sec"], body["cost_usd"]) == (
        "succeeded",
        "elevenlabs-music",
        2.0,
        0.27,
    )
    assert audio.content == r.content
    assert audio.headers["content-type"] == "audio/pcm"
    assert audio.headers["x-kyma-cost-usd"] == "0.27"
    with stack.client(other) as client:
        for path in (f"/v1/jobs/{job_id}", f"/v1/jobs/{job_id}/audio", "/v1/jobs/job_nope"):
            r = client.get(path)
            assert r.status_code == 404 and error_of(r)["code"] == "not_found"


def test_openapi_documents_the_endpoint(stack: Stack) -> None:
    with stack.client() as client:
        schema = client.get("/openapi.json").json()
        docs = client.get("/docs")
    assert docs.status_code == 200
    post = schema["paths"]["/v1/audio/music"]["post"]
    props = post["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert {
        "model",
        "prompt",
        "lyrics",
        "music_length_ms",
        "duration_ms",
        "response_format",
    } <= set(props)
    assert {"200", "202", "400", "401", "402", "413", "502"} <= set(post["responses"])


def test_ledger_sound_after_contract_tests(stack: Stack, e2e_database: str) -> None:
    assert_ledger_sound(e2e_database)
