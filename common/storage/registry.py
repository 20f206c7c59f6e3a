"""The configured blob store."""

from __future__ import annotations

from common.config import Settings
from common.storage.base import BlobStore
from common.storage.local import LocalBlobStore


def build_store(settings: Settings) -> BlobStore:
    return LocalBlobStore(settings.effective_blob_dir)
