"""POST /v1/audio/music in-process: the contract's error rows (each code with its param, 401
before anything else, 413, 402, 429 in flight) and what a success answers, on the embedded
default. Every refusal leaves the balance as it was."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest

from common.account import service as accounts
from common.audio.codec import measure_duration_ms
from common.audio.formats import FORMATS
from common.db import transaction, utcnow
from common.pricing import SKUS
from common.validation import MAX_LENGTH_MS
from tests.api.conftest import Gateway

JSON = {"Content-Type": "application/json"}
DECOMPOSED_E = "e\u0301"
ELEVENLABS, MINIMAX = SKUS["elevenlabs-music"], SKUS["minimax-music"]
assert MINIMAX.lyrics_max is not None


@pytest.fixture(scope="module")
def caller(gateway: Gateway) -> tuple[str, str]:
    return gateway.account("20")


def error_of(response: httpx.Response) -> dict[str, object]:
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message", "type"} <= set(body["error"])
    return body["error"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"model": "tts-1", "prompt": "x"}, "not_a_music_model", "model"),
        ({"model": 7, "prompt": "x"}, "invalid_request", "model"),
        ({"prompt": "x" * (ELEVENLABS.prompt_max + 1)}, "prompt_too_long", "prompt"),
        (
            {"model": MINIMAX.id, "lyrics": "l" * (MINIMAX.lyrics_max + 1)},
            "lyrics_too_long",
            "lyrics",
        ),
        (
            {"prompt": "x", "music_length_ms": MAX_LENGTH_MS + 1},
            "invalid_duration",
            "music_length_ms",
        ),
        ({"prompt": "x", "music_length_ms": 999}, "invalid_duration", "music_length_ms"),
        ({"prompt": "x", "music_length_ms": 1.5}, "invalid_duration", "music_length_ms"),
        (
            {"prompt": "x", "duration_ms": 2000, "music_length_ms": 3000},
            "invalid_duration",
            "duration_ms",
        ),
        ({"prompt": "x", "response_format": "flac"}, "invalid_response_format", "response_format"),
        ({"prompt": ["x"]}, "invalid_request", "prompt"),
        ({"prompt": "a\x00b"}, "invalid_request", "prompt"),
        ({"music_length_ms": 5000}, "invalid_request", "prompt"),
        ({"model": MINIMAX.id, "prompt": " ", "lyrics": "\n"}, "invalid_request", "prompt"),
        ([1, 2], "invalid_request", None),
    ],
)
def test_each_400_row_names_its_code_and_param_and_charges_nothing(
    gateway: Gateway, caller: tuple[str, str], body: object, code: str, param: str | None
) -> None:
    account_id, key = caller
    r = gateway.post("/v1/audio/music", key=key, json=body)
    assert r.status_code == 400, r.text
    error = error_of(r)
    assert (error["code"], error.get("param")) == (code, param)
    assert "x-kyma-job-id" not in r.headers
    assert gateway.balance(account_id) == "20"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b'{"prompt": ', None),
        (b'{"prompt": "rain \\ud800 on glass"}', "prompt"),
        (b'{"model": "minimax-music", "lyrics": "[verse]\\n\\udfff la la"}', "lyrics"),
        (b'{"prompt": "x", "webhook_url": "https://\\ud800.example.com/"}', "webhook_url"),
        (b'{"prompt": "x", "meta": ' + b"[" * 2000 + b"]" * 2000 + b"}", None),
        (b'{"prompt": "x", "music_length_ms": 1' + b"0" * 4400 + b"}", "music_length_ms"),
        (b'{"prompt": "x", "extra": -' + b"9" * 5000 + b"}", "extra"),
        (b'{"prompt": "x", "music_length_ms": NaN}', None),
        (b'{"prompt": "x", "webhook_url": "https://[::1/"}', "webhook_url"),
        (b'{"prompt": "x", "webhook_url": "https://[zz]/"}', "webhook_url"),
    ],
)
def test_a_body_that_is_not_plain_json_text_is_a_400_naming_the_field(
    gateway: Gateway, caller: tuple[str, str], body: bytes, param: str | None
) -> None:
    account_id, key = caller
    r = gateway.post("/v1/audio/music", key=key, content=body, headers=JSON)
    assert r.status_code == 400, r.text
    assert (error_of(r)["code"], error_of(r).get("param")) == ("invalid_request", param)
    assert gateway.balance(account_id) == "20"


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/done",
        "https://127.0.0.1/done",
        "https://[::1]/done",
        "https://10.1.2.3/done",
        "https://169.254.169.254/latest/meta-data",
        "https://[64:ff9b::a9fe:a9fe]/done",
        "https://localhost/done",
        "https://hooks.example.com:0/done",
    ],
)
def test_a_webhook_url_that_can_never_be_delivered_is_refused_before_any_hold(
    gateway: Gateway, caller: tuple[str, str], url: str
) -> None:
    account_id, key = caller
    r = gateway.post("/v1/audio/music", key=key, json={"prompt": "x", "webhook_url": url})
    assert r.status_code == 400, r.text
    assert (error_of(r)["code"], error_of(r)["param"]) == ("invalid_request", "webhook_url")
    assert gateway.balance(account_id) == "20"


def test_the_nfc_length_is_what_the_limit_counts(gateway: Gateway, caller: tuple[str, str]) -> None:
    limit = MINIMAX.prompt_max
    _, key = caller
    ok = gateway.post(
        "/v1/audio/music", key=key, json={"model": MINIMAX.id, "prompt": DECOMPOSED_E * limit}
    )
    too_long = gateway.post(
        "/v1/audio/music", key=key, json={"model": MINIMAX.id, "prompt": DECOMPOSED_E * (limit + 1)}
    )
    assert ok.status_code == 200, ok.text
    assert ok.headers["x-kyma-cost-usd"] == "0.045"
    assert too_long.status_code == 400
    error = error_of(too_long)
    assert (error["code"], error["param"], error["sku"]) == (
        "prompt_too_long",
        "prompt",
        MINIMAX.id,
    )
    assert (error["limit"], error["length"]) == (limit, limit + 1)
    assert error["message"] == (
        f"prompt is {limit + 1} characters after NFC normalisation; "
        f"{MINIMAX.id} allows at most {limit}"
    )


def test_401_comes_before_anything_else(gateway: Gateway) -> None:
    account_id, key = gateway.account("5")
    with transaction(gateway.sessions) as session:
        revoked, revoked_key = accounts.create_key(session, account_id=account_id)
        accounts.revoke_key(session, key_id=revoked.id)
        _, expired_key = accounts.create_key(
            session, account_id=account_id, expires_at=utcnow() - timedelta(seconds=1)
        )
    for authorization in (
        None,
        "Bearer",
        f"Basic {key}",
        "Bearer mgw_0123456789ab_" + "x" * 43,
        f"Bearer {key[:-1]}",
        f"Bearer {revoked_key}",
        f"Bearer {expired_key}",
    ):
        headers = {"Authorization": authorization} if authorization else {}
        # An invalid body too: authentication is checked first.
        r = gateway.post("/v1/audio/music", content=b"not json", headers=headers)
        assert r.status_code == 401, authorization
        assert error_of(r)["code"] == "auth_error"
        assert gateway.get("/v1/jobs/job_x", headers=headers).status_code == 401, authorization
    assert gateway.balance(account_id) == "5"


def test_an_unauthenticated_oversized_body_is_a_401_not_a_413(
    gateway: Gateway, caller: tuple[str, str]
) -> None:
    huge = b'{"prompt": "' + b"y" * (80 * 1024) + b'"}'
    r = gateway.post("/v1/audio/music", content=huge, headers=JSON)
    assert r.status_code == 401 and error_of(r)["code"] == "auth_error"
    r = gateway.post("/v1/audio/music", key="mgw_0123456789ab_" + "x" * 43, content=huge)
    assert r.status_code == 401
    r = gateway.post("/v1/audio/music", key=caller[1], content=huge, headers=JSON)
    assert r.status_code == 413 and error_of(r)["code"] == "request_too_large"


def test_413_over_64_kib_and_not_under(gateway: Gateway) -> None:
    account_id, key = gateway.account("5")
    over = json.dumps({"prompt": "x", "pad": "y" * (64 * 1024)}).encode()
    under = json.dumps({"prompt": "x", "music_length_ms": 1000, "pad": "y" * 60_000}).encode()
    r = gateway.post("/v1/audio/music", key=key, content=over, headers=JSON)
    assert r.status_code == 413 and error_of(r)["code"] == "request_too_large"
    assert gateway.post("/v1/audio/music", key=key, content=under).status_code == 200
    assert gateway.balance(account_id) == "4.865"


def test_402_when_the_balance_is_a_micro_dollar_short(gateway: Gateway) -> None:
    account_id, key = gateway.account("4.049999")
    r = gateway.post("/v1/audio/music", key=key, json={"prompt": "x", "music_length_ms": 30_000})
    assert r.status_code == 402 and error_of(r)["code"] == "billing_error"
    assert gateway.balance(account_id) == "4.049999"


def test_429_over_the_accounts_jobs_in_flight(gateway: Gateway) -> None:
    account_id, key = gateway.account("5", max_in_flight=1)
    gateway.queued_job(account_id)
    r = gateway.post("/v1/audio/music", key=key, json={"prompt": "x", "music_length_ms": 1000})
    assert r.status_code == 429 and error_of(r)["code"] == "rate_limited"
    assert "1 jobs in flight" in str(error_of(r)["message"])
    assert r.headers["retry-after"] == "5" and "x-kyma-job-id" not in r.headers
    assert gateway.balance(account_id) == "5"


def test_a_one_second_track_answers_its_audio_and_kyma_headers(gateway: Gateway) -> None:
    account_id, key = gateway.account("10")
    r = gateway.post("/v1/audio/music", key=key, json={"prompt": "lo-fi", "music_length_ms": 1000})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == FORMATS["mp3_44100_128"].content_type
    assert (r.headers["x-kyma-model"], r.headers["x-kyma-duration-sec"]) == (ELEVENLABS.id, "1")
    assert (r.headers["x-kyma-cost-usd"], r.headers["x-kyma-balance-usd"]) == ("0.135", "9.865")
    assert r.headers["x-kyma-job-id"].startswith("job_")
    assert abs(measure_duration_ms(r.content, "mp3_44100_128") - 1000) <= 50
    assert gateway.balance(account_id) == "9.865"


def test_duration_ms_is_an_alias_of_music_length_ms(
    gateway: Gateway, caller: tuple[str, str]
) -> None:
    r = gateway.post("/v1/audio/music", key=caller[1], json={"prompt": "jazz", "duration_ms": 4200})
    assert r.status_code == 200, r.text
    assert (r.headers["x-kyma-duration-sec"], r.headers["x-kyma-cost-usd"]) == ("4.2", "0.567")


def test_save_to_blob_answers_json_and_refuses_undocumented_values(gateway: Gateway) -> None:
    account_id, key = gateway.account("1")
    body = {"model": MINIMAX.id, "prompt": "a tune"}
    for value in ("yes", "2", "TRUE", ""):
        r = gateway.post("/v1/audio/music", key=key, params={"save_to_blob": value}, json=body)
        assert r.status_code == 400, (value, r.text)
        assert error_of(r)["param"] == "save_to_blob"
    assert gateway.balance(account_id) == "1"
    saved = gateway.post("/v1/audio/music", key=key, params={"save_to_blob": "true"}, json=body)
    assert saved.status_code == 200, saved.text
    answer = saved.json()
    assert set(answer) == {
        "object",
        "job_id",
        "kind",
        "url",
        "duration_sec",
        "cost_usd",
        "balance_usd",
    }
    assert (answer["object"], answer["kind"], answer["job_id"]) == (
        "audio.generation",
        "audio",
        saved.headers["x-kyma-job-id"],
    )
    assert (answer["cost_usd"], answer["balance_usd"]) == (0.045, 0.955)
    assert answer["url"].endswith(".mp3") and saved.headers["x-kyma-cost-usd"] == "0.045"
    blob = gateway.get(httpx.URL(answer["url"]).path)
    assert blob.status_code == 200
    measured = measure_duration_ms(blob.content, "mp3_44100_128")
    assert abs(measured - answer["duration_sec"] * 1000) <= 50
    streamed = gateway.post("/v1/audio/music", key=key, params={"save_to_blob": "0"}, json=body)
    assert streamed.status_code == 200 and streamed.headers["content-type"] == "audio/mpeg"
