"""The blob-store interface.

Keys are paths like `audio/<account>/<job>.mp3` (retained for a while, private) and
`saved/<32 random hex>.mp3` (permanent, public; see `saved_key`), with the saved track's
waveform picture beside it at `saved/<32 random hex>.png`. Saved objects stored before that
form keep their `saved/<account>/<job>.mp3` keys: their URLs were handed out as permanent.
Every backend stores them all; only saved objects are given a public URL.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

CHUNK_SIZE = 64 * 1024
SAVED_PREFIX = "saved/"


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    content_type: str
    # The object's permanent public URL, for saved objects on backends that have one.
    url: str | None = None


def delivery_key(*, account_id: str, job_id: str, extension: str, saved: bool) -> str:
    """Where a job's delivery is stored: a saved track under a key that names nothing (it is
    public and permanent), an unsaved one under its account and job (private, purged after
    retention)."""
    if saved:
        return saved_key(extension)
    return f"audio/{account_id}/{job_id}.{extension}"


def saved_key(extension: str) -> str:
    """A new saved object's key: 128 random bits, so its public URL can be neither guessed
    nor read back to an account or a job."""
    return f"{SAVED_PREFIX}{secrets.token_hex(16)}.{extension}"


def waveform_key(audio_key: str) -> str:
    """Where a saved track's waveform picture is kept: beside the audio, as `.png`."""
    stem, dot, _ = audio_key.rpartition(".")
    return f"{stem if dot else audio_key}.png"


def iter_range(store: BlobStore, key: str, *, start: int, stop: int) -> Iterator[bytes]:
    """Bytes `start` to `stop` (exclusive) of an object, opened now (BlobNotFound if absent).

    The stores read objects from their first byte, so the bytes before `start` are read and
    dropped: a seek in a saved track (a few MB at most) costs at worst the track once.
    """
    chunks = store.iter_chunks(key)
    return _slice(chunks, start=start, stop=stop)


def _slice(chunks: Iterator[bytes], *, start: int, stop: int) -> Iterator[bytes]:
    at = 0
    try:
        for chunk in chunks:
            end = at + len(chunk)
            if end > start:
                yield chunk[max(start - at, 0) : min(stop - at, len(chunk))]
            at = end
            if at >= stop:
                return
    finally:
        # Stopping early must let go of the store's connection or file now, not at collection.
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


class BlobNotFound(Exception):
    pass


class StorageError(Exception):
    """The store failed (after retries); nothing may be charged for a job it was storing."""


class BlobStore(Protocol):
    def put(
        self, key: str, data: bytes, *, content_type: str, public: bool = False
    ) -> StoredObject:
        """Store durably; return only once the object can be read back. Raise StorageError."""
        ...

    def iter_chunks(self, key: str, *, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """Stream an object (BlobNotFound if absent)."""
        ...

    def size(self, key: str) -> int | None:
        """Byte size, or None if absent."""
        ...

    def delete(self, key: str) -> None:
        """Remove an object; absent is fine."""
        ...
