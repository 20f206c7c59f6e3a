"""The blob-store interface."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

CHUNK_SIZE = 64 * 1024


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    content_type: str


class BlobNotFound(Exception):
    pass


class BlobStore(Protocol):
    def put(self, key: str, data: bytes, *, content_type: str) -> StoredObject:
        """Store durably; return only once the object can be read back."""
        ...

    def iter_chunks(self, key: str, *, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """Stream an object (BlobNotFound if absent)."""
        ...

    def size(self, key: str) -> int | None:
        """Byte size, or None if absent."""
        ...

    def delete(self, key: str) -> None: ...
