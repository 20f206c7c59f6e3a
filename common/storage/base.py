"""The blob-store interface.

Keys are paths like `audio/<account>/<job>.mp3` (retained for a while, private) and
`saved/<account>/<job>.mp3` (permanent, public), with the saved track's waveform picture beside
it at `saved/<account>/<job>.png`. Every backend stores them all; only saved objects are given a
public URL.
"""

from __future__ import annotations

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


def waveform_key(audio_key: str) -> str:
    """Where a saved track's waveform picture is kept: beside the audio, as `.png`."""
    stem, dot, _ = audio_key.rpartition(".")
    return f"{stem if dot else audio_key}.png"


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
