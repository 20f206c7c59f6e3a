"""The BlobStore contract, run against every backend: local, S3 (SeaweedFS), Vercel (the fake)."""

from __future__ import annotations

import gc
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from common.storage.base import SAVED_PREFIX, BlobNotFound, BlobStore
from common.storage.local import LocalBlobStore
from common.storage.s3 import S3BlobStore
from common.storage.vercel import VercelBlobStore
from tests.fakes.vercel_blob import FakeVercelBlob

MP3 = "audio/mpeg"


@dataclass
class Backend:
    """A store under test and what only its backend can tell about it."""

    name: str
    store: BlobStore
    # The content type the backend itself recorded for a key (None: it keeps none).
    recorded_type: Callable[[str], str | None]
    # Where a private object would be if it were reachable without credentials (None: no URL).
    private_url: Callable[[str], str | None]


@pytest.fixture(params=["local", "s3", "vercel"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "local":
        local = LocalBlobStore(tmp_path / "blobs", public_base_url="http://gateway.test")
        yield Backend("local", local, lambda key: None, lambda key: None)
    elif request.param == "s3":
        s3: S3BlobStore = request.getfixturevalue("s3_store")

        def s3_type(key: str) -> str | None:
            head = s3.client.head_object(Bucket=s3.bucket, Key=s3.object_key(key))
            return str(head["ContentType"])

        yield Backend("s3", s3, s3_type, s3.public_url)
    else:
        vercel: VercelBlobStore = request.getfixturevalue("vercel_store")
        fake: FakeVercelBlob = request.getfixturevalue("vercel_fake")

        def vercel_type(key: str) -> str | None:
            # The fake would guess audio/mpeg from ".mp3" by itself: look at what was sent.
            puts = [r for r in fake.api_requests() if r.query.get("pathname") == key]
            return puts[-1].headers.get("x-content-type")

        yield Backend("vercel", vercel, vercel_type, lambda key: fake.blob_url(key, "private"))


def saved_key() -> str:
    return f"{SAVED_PREFIX}acct-{uuid.uuid4().hex[:8]}/{uuid.uuid4().hex}.mp3"


def audio_key() -> str:
    return f"audio/acct-{uuid.uuid4().hex[:8]}/{uuid.uuid4().hex}.mp3"


@pytest.mark.parametrize("public", [False, True])
def test_put_then_read_back_identical_bytes(backend: Backend, public: bool) -> None:
    data = os.urandom(300_000)
    key = saved_key() if public else audio_key()

    stored = backend.store.put(key, data, content_type=MP3, public=public)

    assert (stored.key, stored.size, stored.content_type) == (key, len(data), MP3)
    assert backend.store.size(key) == len(data)
    chunks = list(backend.store.iter_chunks(key, chunk_size=64 * 1024))
    assert b"".join(chunks) == data
    assert max(len(chunk) for chunk in chunks) <= 64 * 1024
    assert len(chunks) >= 300_000 // (64 * 1024)


def test_put_overwrites(backend: Backend) -> None:
    key = audio_key()
    backend.store.put(key, b"first attempt, cut short", content_type=MP3)

    backend.store.put(key, b"second", content_type=MP3)

    assert b"".join(backend.store.iter_chunks(key)) == b"second"
    assert backend.store.size(key) == len(b"second")


def test_content_type_is_kept(backend: Backend) -> None:
    if backend.name == "local":
        pytest.skip("the local store keeps no metadata; the job row holds the content type")
    key = saved_key()
    backend.store.put(key, b"ID3" + os.urandom(1000), content_type=MP3, public=True)

    assert backend.recorded_type(key) == MP3


def test_public_object_is_readable_anonymously(backend: Backend) -> None:
    key = saved_key()
    data = os.urandom(50_000)

    stored = backend.store.put(key, data, content_type=MP3, public=True)

    assert stored.url is not None
    if backend.name == "local":
        assert stored.url == f"http://gateway.test/blobs/{key}"
        pytest.skip("the API serves local blobs; its own tests fetch them")
    response = httpx.get(stored.url)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == MP3


def test_private_object_has_no_url_and_is_not_public(backend: Backend) -> None:
    key = audio_key()

    stored = backend.store.put(key, b"private track", content_type=MP3)

    assert stored.url is None
    url = backend.private_url(key)
    if url is None:
        pytest.skip(f"the {backend.name} store has no URL for objects")
    response = httpx.get(url)
    assert response.status_code in (401, 403)
    assert b"private track" not in response.content


def test_delete_is_idempotent(backend: Backend) -> None:
    key = audio_key()
    backend.store.put(key, b"to be deleted", content_type=MP3)

    backend.store.delete(key)
    backend.store.delete(key)

    assert backend.store.size(key) is None
    with pytest.raises(BlobNotFound):
        backend.store.iter_chunks(key)


def test_absent_object(backend: Backend) -> None:
    key = audio_key()

    assert backend.store.size(key) is None
    # Raised when the read is opened, before the first chunk is asked for.
    with pytest.raises(BlobNotFound):
        backend.store.iter_chunks(key)
    backend.store.delete(key)


def test_a_reader_that_stops_early_leaves_the_store_usable(backend: Backend) -> None:
    key = audio_key()
    data = os.urandom(200_000)
    backend.store.put(key, data, content_type=MP3)

    for _ in range(3):
        chunks = backend.store.iter_chunks(key, chunk_size=1024)
        assert next(chunks) == data[:1024]
        chunks.close()  # type: ignore[attr-defined]

    assert b"".join(backend.store.iter_chunks(key)) == data


def test_a_read_dropped_before_its_first_chunk_is_let_go(backend: Backend) -> None:
    key = audio_key()
    backend.store.put(key, b"ID3" * 1000, content_type=MP3)

    # A client that hangs up before the first chunk: the iterator is dropped unread.
    for _ in range(5):
        backend.store.iter_chunks(key)
    gc.collect()

    assert b"".join(backend.store.iter_chunks(key)) == b"ID3" * 1000
