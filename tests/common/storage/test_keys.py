"""Saved objects' keys name nothing (no account, no job) and cannot be guessed; old keys keep
working; a byte range of any object is read through the store interface."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from common.storage.base import (
    CHUNK_SIZE,
    SAVED_PREFIX,
    BlobNotFound,
    BlobStore,
    delivery_key,
    iter_range,
    saved_key,
    waveform_key,
)
from common.storage.local import LocalBlobStore


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs", public_base_url="http://gw")


def test_a_saved_key_is_the_saved_prefix_and_128_random_bits() -> None:
    keys = {saved_key("mp3") for _ in range(1000)}
    assert len(keys) == 1000
    for key in keys:
        assert re.fullmatch(r"saved/[0-9a-f]{32}\.mp3", key), key
        # Under the prefix the purge never touches and the local backend serves.
        assert key.startswith(SAVED_PREFIX)
    assert re.fullmatch(r"saved/[0-9a-f]{32}\.png", saved_key("png"))


@pytest.mark.parametrize(
    ("audio_key", "picture_key"),
    [
        (
            "saved/0123456789abcdef0123456789abcdef.mp3",
            "saved/0123456789abcdef0123456789abcdef.png",
        ),
        ("saved/acct_1/job_2.mp3", "saved/acct_1/job_2.png"),  # saved before the random form
        ("saved/acct_1/job_2", "saved/acct_1/job_2.png"),
    ],
)
def test_the_waveform_sits_beside_the_audio_in_both_key_forms(
    audio_key: str, picture_key: str
) -> None:
    assert waveform_key(audio_key) == picture_key


def test_a_new_saved_object_is_public_at_a_url_that_names_nothing(store: LocalBlobStore) -> None:
    key = saved_key("mp3")
    stored = store.put(key, b"ID3", content_type="audio/mpeg", public=True)
    assert stored.url == f"http://gw/blobs/{key}"
    assert store.path(key).read_bytes() == b"ID3"
    store.put(waveform_key(key), b"\x89PNG", content_type="image/png", public=True)
    store.delete(key)
    store.delete(waveform_key(key))
    assert store.size(key) is None and store.size(waveform_key(key)) is None


@pytest.mark.parametrize(
    ("start", "stop"),
    [
        (0, 1),
        (0, 3 * CHUNK_SIZE + 17),  # the whole object
        (CHUNK_SIZE - 1, CHUNK_SIZE + 1),  # across a chunk boundary
        (CHUNK_SIZE, 2 * CHUNK_SIZE),  # exactly one chunk
        (5, 2 * CHUNK_SIZE + 9),
        (3 * CHUNK_SIZE + 16, 3 * CHUNK_SIZE + 17),  # the last byte
    ],
)
def test_iter_range_reads_those_bytes(store: LocalBlobStore, start: int, stop: int) -> None:
    data = bytes(i % 251 for i in range(3 * CHUNK_SIZE + 17))
    store.put("saved/x.mp3", data, content_type="audio/mpeg", public=True)
    assert b"".join(iter_range(store, "saved/x.mp3", start=start, stop=stop)) == data[start:stop]


def test_iter_range_opens_now_and_lets_go_of_the_rest() -> None:
    class Chunks:
        closed = False
        read = 0

        def __iter__(self) -> Iterator[bytes]:
            return self

        def __next__(self) -> bytes:
            self.read += 1
            return b"abcd"

        def close(self) -> None:
            self.closed = True

    chunks = Chunks()

    class Endless:
        def iter_chunks(self, key: str, *, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
            if key != "saved/x.mp3":
                raise BlobNotFound(key)
            return chunks

    store = cast(BlobStore, Endless())
    with pytest.raises(BlobNotFound):
        iter_range(store, "saved/missing.mp3", start=0, stop=1)
    assert b"".join(iter_range(store, "saved/x.mp3", start=6, stop=10)) == b"cdab"
    assert chunks.read == 3 and chunks.closed


def test_a_delivery_is_stored_by_whether_it_is_saved() -> None:
    saved = delivery_key(account_id="acct_1", job_id="job_1", extension="mp3", saved=True)
    unsaved = delivery_key(account_id="acct_1", job_id="job_1", extension="pcm", saved=False)
    assert saved.startswith(SAVED_PREFIX) and "acct_1" not in saved and "job_1" not in saved
    assert unsaved == "audio/acct_1/job_1.pcm"
