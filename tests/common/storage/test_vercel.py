"""VercelBlobStore against the fake: the wire format, head/delete, retries and settings."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from common.config import Settings
from common.storage.base import StorageError
from common.storage.vercel import MAX_PATHNAME_LENGTH, VercelBlobError, VercelBlobStore
from tests.fakes.vercel_blob import FakeVercelBlob

MP3 = "audio/mpeg"


def key() -> str:
    return f"saved/acct/{uuid.uuid4().hex}.mp3"


def puts(fake: FakeVercelBlob) -> list[str]:
    return [r.method for r in fake.api_requests() if r.method == "PUT"]


@pytest.mark.parametrize("public", [True, False])
def test_put_speaks_the_reference_wire_format(
    vercel_fake: FakeVercelBlob, vercel_store: VercelBlobStore, public: bool
) -> None:
    name = key()
    data = b"ID3" + bytes(range(256)) * 10

    stored = vercel_store.put(name, data, content_type=MP3, public=public)

    request = vercel_fake.last_request
    assert (request.method, request.path, request.query) == (
        "PUT",
        "/api/blob/",
        {"pathname": name},
    )
    assert request.body == data
    headers = request.headers
    assert headers["authorization"] == f"Bearer {vercel_fake.token}"
    assert headers["x-api-version"] == "12"
    assert headers["x-content-type"] == MP3
    assert headers["x-add-random-suffix"] == "0"
    assert headers["x-allow-overwrite"] == "1"
    assert headers["x-vercel-blob-access"] == ("public" if public else "private")
    assert headers["x-content-length"] == str(len(data))
    assert headers["x-api-blob-request-attempt"] == "0"
    assert headers["x-api-blob-request-id"].startswith("fakestore:")
    expected_url = vercel_fake.blob_url(name, "public" if public else "private")
    assert stored.url == (expected_url if public else None)
    assert (stored.key, stored.size, stored.content_type) == (name, len(data), MP3)


def test_head_and_delete_use_the_sdk_endpoints(
    vercel_fake: FakeVercelBlob, vercel_store: VercelBlobStore
) -> None:
    name = key()
    vercel_store.put(name, b"abc", content_type=MP3)
    before = len(vercel_fake.requests)

    assert vercel_store.size(name) == 3
    vercel_store.delete(name)

    head, delete = vercel_fake.requests[before:]
    assert (head.method, head.path, head.query) == ("GET", "/api/blob", {"url": name})
    assert (delete.method, delete.path, delete.json) == (
        "POST",
        "/api/blob/delete",
        {"urls": [name]},
    )
    for request in (head, delete):
        assert request.headers["authorization"] == f"Bearer {vercel_fake.token}"
        assert request.headers["x-api-version"] == "12"
    assert name not in vercel_fake.blobs


def test_private_blobs_are_read_with_the_token(
    vercel_fake: FakeVercelBlob, vercel_store: VercelBlobStore
) -> None:
    name = f"audio/acct/{uuid.uuid4().hex}.mp3"
    vercel_store.put(name, b"private bytes", content_type=MP3)

    assert b"".join(vercel_store.iter_chunks(name)) == b"private bytes"

    read = vercel_fake.last_request
    assert read.path == f"/private/{name}"
    assert read.headers["authorization"] == f"Bearer {vercel_fake.token}"
    assert httpx.get(vercel_fake.blob_url(name, "private")).status_code == 403


def test_transient_errors_are_retried_with_one_request_id(
    vercel_fake: FakeVercelBlob, vercel_store: VercelBlobStore
) -> None:
    vercel_fake.fail_next("service_unavailable", 2)

    stored = vercel_store.put(key(), b"abc", content_type=MP3, public=True)

    requests = vercel_fake.api_requests()
    assert len(requests) == 3
    assert [r.headers["x-api-blob-request-attempt"] for r in requests] == ["0", "1", "2"]
    assert len({r.headers["x-api-blob-request-id"] for r in requests}) == 1
    assert stored.url is not None


@pytest.mark.parametrize("kind", ["unknown_error", "internal_server_error", "503", "502"])
def test_other_retryable_answers(
    vercel_fake: FakeVercelBlob, vercel_store: VercelBlobStore, kind: str
) -> None:
    # A load balancer's HTML page has no error code: the SDK reads it as unknown_error.
    vercel_fake.fail_next(kind, 1)

    vercel_store.put(key(), b"abc", content_type=MP3)

    assert len(puts(vercel_fake)) == 2


@pytest.mark.parametrize("kind", ["forbidden", "store_suspended"])
def test_refusals_fail_at_once_with_their_code(
    vercel_fake: FakeVercelBlob, vercel_store: VercelBlobStore, kind: str
) -> None:
    vercel_fake.fail_next(kind, 3)

    with pytest.raises(StorageError) as raised:
        vercel_store.put(key(), b"abc", content_type=MP3)

    assert isinstance(raised.value, VercelBlobError)
    assert raised.value.code == kind
    assert len(puts(vercel_fake)) == 1


def test_a_wrong_token_is_forbidden(vercel_fake: FakeVercelBlob) -> None:
    store = VercelBlobStore(token="vercel_blob_rw_fakestore_wrong", api_url=vercel_fake.api_url)
    try:
        with pytest.raises(VercelBlobError, match="forbidden"):
            store.put(key(), b"abc", content_type=MP3)
    finally:
        store.close()
    assert len(vercel_fake.requests) == 1


def test_retries_stop_after_max_attempts(
    vercel_fake: FakeVercelBlob, vercel_store: VercelBlobStore
) -> None:
    vercel_fake.failure = "service_unavailable"

    with pytest.raises(VercelBlobError) as raised:
        vercel_store.put(key(), b"abc", content_type=MP3)

    assert raised.value.code == "service_unavailable"
    assert len(puts(vercel_fake)) == 3


def test_rate_limited_waits_for_retry_after(
    vercel_fake: FakeVercelBlob, vercel_store: VercelBlobStore
) -> None:
    vercel_fake.retry_after_s = 1
    vercel_fake.fail_next("rate_limited", 1)
    started = time.monotonic()

    vercel_store.put(key(), b"abc", content_type=MP3)

    # The store's own backoff is 10 ms: the second attempt waited because the API said so.
    assert time.monotonic() - started >= 1.0
    assert len(puts(vercel_fake)) == 2


def test_an_unreachable_api_fails_after_max_attempts() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    attempts: list[httpx.Request] = []
    client = httpx.Client(event_hooks={"request": [attempts.append]})
    store = VercelBlobStore(
        token="vercel_blob_rw_store_secret",
        api_url=f"http://127.0.0.1:{port}/api/blob",
        max_attempts=4,
        retry_initial_s=0.01,
        retry_max_s=0.02,
        client=client,
    )
    try:
        with pytest.raises(StorageError, match="ConnectError"):
            store.put(key(), b"abc", content_type=MP3)
        with pytest.raises(StorageError):
            store.size(key())
    finally:
        client.close()
    assert len(attempts) == 8


def test_a_too_long_pathname_is_refused_before_any_request(
    vercel_fake: FakeVercelBlob, vercel_store: VercelBlobStore
) -> None:
    name = "saved/" + "a" * (MAX_PATHNAME_LENGTH - 5)

    with pytest.raises(VercelBlobError, match="longer than 950"):
        vercel_store.put(name, b"abc", content_type=MP3)

    assert vercel_fake.requests == []


def test_an_upload_overwrites_its_earlier_attempt(
    vercel_fake: FakeVercelBlob, vercel_store: VercelBlobStore
) -> None:
    name = key()
    vercel_store.put(name, b"half", content_type=MP3)

    vercel_store.put(name, b"whole", content_type=MP3)

    assert vercel_fake.blobs[name].data == b"whole"


@pytest.fixture
def token_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("VERCEL_BLOB_TOKEN", raising=False)
    monkeypatch.setenv("BLOB_READ_WRITE_TOKEN", "vercel_blob_rw_fakestore_secret")
    yield


@pytest.mark.usefixtures("token_env")
def test_from_settings_takes_blob_read_write_token(vercel_fake: FakeVercelBlob) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        storage_backend="vercel",
        vercel_blob_api_url=vercel_fake.api_url,
        storage_max_attempts=2,
    )
    store = VercelBlobStore.from_settings(settings)
    try:
        vercel_fake.failure = "unknown_error"
        with pytest.raises(VercelBlobError):
            store.put(key(), b"abc", content_type=MP3)
    finally:
        store.close()
    assert len(puts(vercel_fake)) == 2
    assert vercel_fake.last_request.headers["authorization"] == (
        "Bearer vercel_blob_rw_fakestore_secret"
    )


def test_from_settings_needs_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BLOB_READ_WRITE_TOKEN", raising=False)
    monkeypatch.delenv("VERCEL_BLOB_TOKEN", raising=False)
    with pytest.raises(ValueError, match="BLOB_READ_WRITE_TOKEN"):
        VercelBlobStore.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]


def test_reads_dropped_unread_give_their_connection_back(vercel_fake: FakeVercelBlob) -> None:
    # Two connections, and a pool wait that fails fast: a leaked read would starve the third.
    client = httpx.Client(limits=httpx.Limits(max_connections=2), timeout=httpx.Timeout(5, pool=1))
    store = VercelBlobStore(
        token=vercel_fake.token, api_url=vercel_fake.api_url, max_attempts=1, client=client
    )
    try:
        name = key()
        store.put(name, b"ID3" * 1000, content_type=MP3)
        for _ in range(4):
            store.iter_chunks(name)
        assert b"".join(store.iter_chunks(name)) == b"ID3" * 1000
    finally:
        client.close()
