"""Blob storage in a local folder (the embedded default)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from common.storage.base import CHUNK_SIZE, BlobNotFound, StoredObject


class LocalBlobStore:
    """Files under `root`; the API serves public objects at `{public_base_url}/blobs/<key>`."""

    def __init__(self, root: Path, *, public_base_url: str) -> None:
        self.public_base_url = public_base_url.rstrip("/")
        root.mkdir(parents=True, exist_ok=True)
        # Resolved once: a key is a plain relative path (checked below), so the file is the
        # root joined with it, without Path.resolve()'s system call per path component on every
        # request (measured: bench/results.md). The store writes only regular files, never links.
        self.root = Path(os.path.realpath(root))

    def path(self, key: str) -> Path:
        """The file behind a key (ValueError if the key is not a plain relative path: no empty,
        "." or ".." segment, so it cannot leave the store, nor reach past a prefix the caller
        checked as "saved/../audio/..." would)."""
        if any(part in ("", ".", "..") for part in key.split("/")):
            raise ValueError(f"blob key is not a plain path: {key!r}")
        return self.root / key

    def put(
        self, key: str, data: bytes, *, content_type: str, public: bool = False
    ) -> StoredObject:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write, fsync, rename: a reader (or a crash) never sees half an object.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        url = f"{self.public_base_url}/blobs/{key}" if public else None
        return StoredObject(key=key, size=len(data), content_type=content_type, url=url)

    def iter_chunks(self, key: str, *, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        path = self.path(key)
        if not path.is_file():
            raise BlobNotFound(key)
        return _read_chunks(path, chunk_size)

    def size(self, key: str) -> int | None:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)


def _read_chunks(path: Path, chunk_size: int) -> Iterator[bytes]:
    # The file is opened on the first chunk, inside the generator, so an iterator dropped
    # before it starts (a client that hung up) leaves nothing open.
    try:
        f = path.open("rb")
    except FileNotFoundError as exc:
        raise BlobNotFound(str(path)) from exc
    with f:
        while chunk := f.read(chunk_size):
            yield chunk
