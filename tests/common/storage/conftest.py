"""Storage fixtures: a SeaweedFS S3 server for the session, the Vercel Blob fake, the stores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from common.storage.base import SAVED_PREFIX
from common.storage.s3 import S3BlobStore, build_client
from common.storage.vercel import VercelBlobStore
from tests.fakes.vercel_blob import FakeVercelBlob
from tests.fixtures.seaweed import SeaweedS3, seaweed_s3

# The stores under test keep their objects under this prefix, so the bucket's public-read
# policy covers `{S3_PREFIX}saved/`.
S3_PREFIX = "gw/"


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """One SeaweedFS S3 server for the whole session."""
    tmp_dir = tmp_path_factory.mktemp("seaweed")
    with seaweed_s3(tmp_dir, public_prefixes=(f"{S3_PREFIX}{SAVED_PREFIX}",)) as s3:
        yield s3


def make_s3_store(
    seaweed: SeaweedS3,
    *,
    endpoint_url: str | None = None,
    secret_key: str | None = None,
    max_attempts: int = 3,
) -> S3BlobStore:
    """An S3BlobStore on the test server with a fast retry schedule; close it after use."""
    client = build_client(
        region=seaweed.region,
        endpoint_url=endpoint_url or seaweed.endpoint_url,
        access_key_id=seaweed.access_key,
        secret_access_key=secret_key or seaweed.secret_key,
    )
    return S3BlobStore(
        client,
        bucket=seaweed.bucket,
        public_base_url=seaweed.public_base_url,
        prefix=S3_PREFIX,
        max_attempts=max_attempts,
        retry_initial_s=0.01,
        retry_max_s=0.05,
    )


@pytest.fixture
def s3_store(seaweed: SeaweedS3) -> Iterator[S3BlobStore]:
    store = make_s3_store(seaweed)
    yield store
    store.close()


@pytest.fixture(scope="session")
def vercel_server() -> Iterator[FakeVercelBlob]:
    with FakeVercelBlob() as fake:
        yield fake


@pytest.fixture
def vercel_fake(vercel_server: FakeVercelBlob) -> FakeVercelBlob:
    """The session's fake, with its blobs, records and switches cleared."""
    vercel_server.reset()
    return vercel_server


@pytest.fixture
def vercel_store(vercel_fake: FakeVercelBlob) -> Iterator[VercelBlobStore]:
    store = VercelBlobStore(
        token=vercel_fake.token,
        api_url=vercel_fake.api_url,
        max_attempts=3,
        retry_initial_s=0.01,
        retry_max_s=0.05,
    )
    yield store
    store.close()
