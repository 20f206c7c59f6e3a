"""S3BlobStore: multipart uploads, the size check, retries, settings and URLs."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from pydantic import SecretStr

from common.config import Settings
from common.storage.base import StorageError
from common.storage.s3 import (
    MULTIPART_CHUNKSIZE,
    MULTIPART_THRESHOLD,
    S3BlobStore,
    build_client,
    default_public_base_url,
    is_transient,
)
from tests.common.storage.conftest import S3_PREFIX, make_s3_store
from tests.fakes.server import FakeServer, RecordedRequest, Reply
from tests.fixtures.seaweed import SeaweedS3

MP3 = "audio/mpeg"


def record_operations(store: S3BlobStore) -> list[str]:
    """The names of the S3 operations the store's client calls from now on, in order."""
    operations: list[str] = []
    lock = threading.Lock()

    def record(model: Any, **kwargs: Any) -> None:
        with lock:
            operations.append(model.name)

    store.client.meta.events.register("before-call.s3", record)
    return operations


def count_sends(store: S3BlobStore) -> list[str]:
    """One entry per HTTP request the client tries to send (connected or not)."""
    sends: list[str] = []

    def record(request: Any, **kwargs: Any) -> None:
        sends.append(request.method)

    store.client.meta.events.register("before-send.s3", record)
    return sends


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_small_object_is_one_put_then_a_head(s3_store: S3BlobStore) -> None:
    operations = record_operations(s3_store)

    s3_store.put(f"audio/{uuid.uuid4().hex}.mp3", b"ID3" * 1000, content_type=MP3)

    assert operations == ["PutObject", "HeadObject"]


def test_large_object_goes_multipart(seaweed: SeaweedS3, s3_store: S3BlobStore) -> None:
    data = os.urandom(20 * 1024 * 1024)
    key = f"audio/{uuid.uuid4().hex}.mp3"
    operations = record_operations(s3_store)

    stored = s3_store.put(key, data, content_type=MP3)

    parts = -(-len(data) // MULTIPART_CHUNKSIZE)
    assert len(data) > MULTIPART_THRESHOLD and parts == 3
    assert operations[0] == "CreateMultipartUpload"
    assert operations.count("UploadPart") == parts
    assert operations[-2:] == ["CompleteMultipartUpload", "HeadObject"]
    assert "PutObject" not in operations
    assert stored.size == len(data)
    # The server agrees: the object is made of three parts, and reads back whole.
    client = seaweed.client()
    try:
        head = client.head_object(Bucket=seaweed.bucket, Key=f"{S3_PREFIX}{key}", PartNumber=1)
    finally:
        client.close()
    assert head["PartsCount"] == parts
    digest = hashlib.sha256()
    for chunk in s3_store.iter_chunks(key, chunk_size=1024 * 1024):
        digest.update(chunk)
    assert digest.digest() == hashlib.sha256(data).digest()


def test_objects_live_under_the_prefix_with_their_content_type(
    seaweed: SeaweedS3, s3_store: S3BlobStore
) -> None:
    key = f"audio/{uuid.uuid4().hex}.mp3"
    s3_store.put(key, b"ID3 track", content_type=MP3)

    client = seaweed.client()
    try:
        head = client.head_object(Bucket=seaweed.bucket, Key=f"{S3_PREFIX}{key}")
        with pytest.raises(ClientError):
            client.head_object(Bucket=seaweed.bucket, Key=key)
    finally:
        client.close()
    assert head["ContentType"] == MP3
    assert head["ContentLength"] == len(b"ID3 track")


def test_put_returns_only_once_a_head_shows_the_whole_object(seaweed: SeaweedS3) -> None:
    store = make_s3_store(seaweed, max_attempts=3)
    operations = record_operations(store)

    def short_object(parsed: dict[str, Any], **kwargs: Any) -> None:
        # The store answers as one that lost the end of the upload.
        parsed["ContentLength"] = parsed["ContentLength"] - 1

    store.client.meta.events.register("after-call.s3.HeadObject", short_object)
    try:
        with pytest.raises(StorageError, match="bytes after uploading"):
            store.put(f"audio/{uuid.uuid4().hex}.mp3", b"x" * 1000, content_type=MP3)
    finally:
        store.close()
    # Uploaded again each time, within the attempt budget.
    assert operations == ["PutObject", "HeadObject"] * 3


@pytest.mark.parametrize("max_attempts", [1, 4])
def test_unreachable_endpoint_fails_after_max_attempts(max_attempts: int) -> None:
    client = build_client(
        region="us-east-1",
        endpoint_url=f"http://127.0.0.1:{closed_port()}",
        access_key_id="key",
        secret_access_key="secret",
    )
    store = S3BlobStore(
        client,
        bucket="bucket",
        public_base_url="http://cdn.test",
        max_attempts=max_attempts,
        retry_initial_s=0.01,
        retry_max_s=0.02,
    )
    sends = count_sends(store)
    started = time.monotonic()
    try:
        with pytest.raises(StorageError) as raised:
            store.put("audio/a.mp3", b"data", content_type=MP3)
        assert isinstance(raised.value.__cause__, EndpointConnectionError)
        assert len(sends) == max_attempts
        # Reads fail as loudly: an unreachable store is not an absent object.
        for read in (lambda: store.size("audio/a.mp3"), lambda: store.iter_chunks("a")):
            with pytest.raises(StorageError):
                read()
        with pytest.raises(StorageError):
            store.delete("audio/a.mp3")
    finally:
        store.close()
    assert len(sends) == 4 * max_attempts
    assert time.monotonic() - started < 5


def test_bad_credentials_fail_without_retrying(seaweed: SeaweedS3) -> None:
    store = make_s3_store(seaweed, secret_key="not-the-secret", max_attempts=4)
    sends = count_sends(store)
    try:
        with pytest.raises(StorageError, match="SignatureDoesNotMatch|InvalidAccessKeyId|Denied"):
            store.put("audio/a.mp3", b"data", content_type=MP3)
    finally:
        store.close()
    assert len(sends) == 1


class FlakyS3(FakeServer):
    """Just enough of S3 (PUT, HEAD, GET of path-style objects) to fail on purpose."""

    def reset_switches(self) -> None:
        self.objects: dict[str, bytes] = {}

    def respond(self, request: RecordedRequest, failure: str | None) -> Reply:
        if request.method == "PUT":
            self.objects[request.path] = request.body
            return Reply(200, b"", {"ETag": f'"{hashlib.md5(request.body).hexdigest()}"'})
        data = self.objects.get(request.path)
        if data is None:
            return Reply(404, b"", {"Content-Type": "application/xml"})
        return Reply(200, data, {"Content-Type": MP3})


@pytest.fixture
def flaky_s3() -> Iterator[tuple[FlakyS3, S3BlobStore]]:
    with FlakyS3() as fake:
        client = build_client(
            region="us-east-1",
            endpoint_url=fake.base_url,
            access_key_id="key",
            secret_access_key="secret",
        )
        store = S3BlobStore(
            client,
            bucket="bucket",
            public_base_url=f"{fake.base_url}/bucket",
            max_attempts=4,
            retry_initial_s=0.01,
            retry_max_s=0.02,
        )
        yield fake, store
        store.close()


def test_5xx_answers_are_retried(flaky_s3: tuple[FlakyS3, S3BlobStore]) -> None:
    fake, store = flaky_s3
    fake.fail_next("503", 2)

    store.put("audio/a.mp3", b"data", content_type=MP3)

    assert [r.method for r in fake.requests] == ["PUT", "PUT", "PUT", "HEAD"]
    assert store.size("audio/a.mp3") == 4


def test_5xx_answers_give_up_after_max_attempts(flaky_s3: tuple[FlakyS3, S3BlobStore]) -> None:
    fake, store = flaky_s3
    fake.failure = "502"

    with pytest.raises(StorageError, match="502"):
        store.put("audio/a.mp3", b"data", content_type=MP3)

    assert [r.method for r in fake.requests] == ["PUT"] * 4


def _client_error(code: str, status: int) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": code}}
    response["ResponseMetadata"] = {"HTTPStatusCode": status}
    return ClientError(response, "PutObject")


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (_client_error("SlowDown", 503), True),
        (_client_error("Throttling", 400), True),
        (_client_error("RequestTimeout", 400), True),
        (_client_error("InternalError", 500), True),
        (_client_error("TooManyRequests", 429), True),
        (_client_error("AccessDenied", 403), False),
        (_client_error("NoSuchBucket", 404), False),
        (_client_error("InvalidAccessKeyId", 403), False),
        (EndpointConnectionError(endpoint_url="http://s3.test"), True),
        (NoCredentialsError(), False),
        (ValueError("a bug"), False),
    ],
)
def test_which_errors_are_retried(error: Exception, transient: bool) -> None:
    assert is_transient(error) is transient


def test_from_settings(seaweed: SeaweedS3) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        storage_backend="s3",
        s3_bucket=seaweed.bucket,
        s3_prefix=S3_PREFIX,
        s3_endpoint_url=seaweed.endpoint_url,
        s3_region=seaweed.region,
        s3_access_key_id=SecretStr(seaweed.access_key),
        s3_secret_access_key=SecretStr(seaweed.secret_key),
        storage_max_attempts=2,
    )
    store = S3BlobStore.from_settings(settings)
    try:
        key = f"saved/{uuid.uuid4().hex}.mp3"
        stored = store.put(key, b"ID3 saved", content_type=MP3, public=True)
    finally:
        store.close()

    # No S3_PUBLIC_BASE_URL: the endpoint's path-style address of the object.
    assert stored.url == f"{seaweed.endpoint_url}/{seaweed.bucket}/{S3_PREFIX}{key}"
    assert httpx.get(stored.url).content == b"ID3 saved"


def test_from_settings_needs_a_bucket() -> None:
    with pytest.raises(ValueError, match="S3_BUCKET"):
        S3BlobStore.from_settings(Settings(_env_file=None, s3_bucket=""))  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("endpoint_url", "region", "expected"),
    [
        (None, "eu-west-3", "https://tracks.s3.eu-west-3.amazonaws.com"),
        (None, "us-east-1", "https://tracks.s3.us-east-1.amazonaws.com"),
        ("http://minio.internal:9000/", "us-east-1", "http://minio.internal:9000/tracks"),
    ],
)
def test_default_public_base_url(endpoint_url: str | None, region: str, expected: str) -> None:
    assert (
        default_public_base_url(bucket="tracks", endpoint_url=endpoint_url, region=region)
        == expected
    )


def test_public_url_under_a_configured_base() -> None:
    client = build_client(region="us-east-1", access_key_id="k", secret_access_key="s")
    store = S3BlobStore(
        client, bucket="tracks", public_base_url="https://cdn.example.com/music/", prefix="gw/"
    )
    try:
        url = store.public_url("saved/acct 1/track #2.mp3")
    finally:
        store.close()
    assert url == "https://cdn.example.com/music/gw/saved/acct%201/track%20%232.mp3"
