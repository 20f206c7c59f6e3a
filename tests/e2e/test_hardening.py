"""What an attack on the production shape found, each a regression test over HTTP: bad input is
a 400 in the envelope (never a 500 or a reset connection) and nothing is held or charged."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.fixtures.stack import Stack

JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def caller(stack: Stack) -> Iterator[tuple[str, httpx.Client]]:
    account_id, key = stack.account("20")
    with stack.client(key) as client:
        yield account_id, client


@pytest.mark.parametrize(
    ("body", "param"),
    [
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
def test_bodies_that_were_a_500_are_a_400_naming_the_field(
    stack: Stack, caller: tuple[str, httpx.Client], body: bytes, param: str | None
) -> None:
    account_id, client = caller
    r = client.post("/v1/audio/music", content=body, headers=JSON)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_request" and error.get("param") == param
    # The same keep-alive connection goes on serving.
    assert client.get("/v1/gallery").status_code == 200
    assert stack.balance(account_id) == "20"


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
    stack: Stack, caller: tuple[str, httpx.Client], url: str
) -> None:
    account_id, client = caller
    r = client.post("/v1/audio/music", json={"prompt": "x", "webhook_url": url})
    assert r.status_code == 400, r.text
    assert (r.json()["error"]["code"], r.json()["error"]["param"]) == (
        "invalid_request",
        "webhook_url",
    )
    assert stack.balance(account_id) == "20"


def test_save_to_blob_takes_its_documented_values_and_refuses_the_rest(
    stack: Stack, caller: tuple[str, httpx.Client]
) -> None:
    account_id, client = caller
    body = {"model": "minimax-music", "prompt": "a tune"}
    for value in ("yes", "2", "TRUE", ""):
        r = client.post("/v1/audio/music", params={"save_to_blob": value}, json=body)
        assert r.status_code == 400, (value, r.text)
        assert r.json()["error"]["param"] == "save_to_blob"
    assert stack.balance(account_id) == "20"
    saved = client.post("/v1/audio/music", params={"save_to_blob": "true"}, json=body)
    assert saved.status_code == 200 and saved.json()["object"] == "audio.generation"
    streamed = client.post("/v1/audio/music", params={"save_to_blob": "false"}, json=body)
    assert streamed.status_code == 200 and streamed.headers["content-type"] == "audio/mpeg"


def test_an_unauthenticated_oversized_body_is_a_401_not_a_413(
    stack: Stack, caller: tuple[str, httpx.Client]
) -> None:
    _, client = caller
    huge = b'{"prompt": "' + b"y" * (80 * 1024) + b'"}'
    with stack.client() as anonymous:
        r = anonymous.post("/v1/audio/music", content=huge, headers=JSON)
        assert r.status_code == 401 and r.json()["error"]["code"] == "auth_error"
        bad_key = {"Authorization": "Bearer mgw_0123456789ab_" + "x" * 43} | JSON
        r = anonymous.post("/v1/audio/music", content=huge, headers=bad_key)
        assert r.status_code == 401
    r = client.post("/v1/audio/music", content=huge, headers=JSON)
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"


@pytest.mark.parametrize(
    "cursor",
    [
        "2026-01-01~x",
        "0001-01-01T00:00:00+14:00~job_x",
        "9999-12-31T23:00:00-14:00~job_x",
        "not a time~job_x",
    ],
)
def test_a_gallery_cursor_this_api_never_returned_is_a_400(
    caller: tuple[str, httpx.Client], cursor: str
) -> None:
    _, client = caller
    r = client.get("/v1/gallery", params={"cursor": cursor})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == "cursor"


def test_a_trailing_slash_redirect_is_built_from_the_public_base_not_the_host_header(
    stack: Stack,
) -> None:
    with stack.client() as client:
        r = client.get("/gallery/", headers={"Host": "evil.example"}, params={"page": "2"})
        unknown = client.get("/no/such/route/", headers={"Host": "evil.example"})
    assert r.status_code == 307
    assert r.headers["location"] == f"{stack.base_url}/gallery?page=2"
    assert unknown.status_code == 404 and "location" not in unknown.headers
