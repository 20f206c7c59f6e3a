"""The configured blob store."""

from __future__ import annotations

from common.config import Settings
from common.storage.base import BlobStore
from common.storage.local import LocalBlobStore


def build_store(settings: Settings) -> BlobStore:
    """The backend named by STORAGE_BACKEND."""
    if settings.storage_backend == "s3":
        from common.storage.s3 import S3BlobStore

        return S3BlobStore.from_settings(settings)
    if settings.storage_backend == "vercel":
        from common.storage.vercel import VercelBlobStore

        return VercelBlobStore.from_settings(settings)
    return LocalBlobStore(
        settings.effective_blob_dir, public_base_url=settings.effective_public_base_url
    )
