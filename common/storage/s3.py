"""Blob storage in an S3 bucket: AWS, or any S3-compatible store (MinIO, SeaweedFS, R2…)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import quote

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from common.config import Settings
from common.storage.base import CHUNK_SIZE, BlobNotFound, StorageError, StoredObject

T = TypeVar("T")

CONNECT_TIMEOUT_S = 10.0
# One request moves at most one multipart part (8 MiB), so a minute without a byte means a
# stuck connection, not a slow one.
READ_TIMEOUT_S = 60.0
MULTIPART_THRESHOLD = 8 * 1024 * 1024
MULTIPART_CHUNKSIZE = 8 * 1024 * 1024
# Parts of one upload in flight at once; many workers upload at the same time.
MULTIPART_CONCURRENCY = 4

# Error codes that mean "slow down" or "try again": the request was refused before anything
# changed, so repeating it is safe and may succeed.
_RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "RequestTimeout",
        "InternalError",
        "ServiceUnavailable",
    }
)
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


class _NotDurable(StorageError):
    """The upload returned but a HEAD does not show the whole object (yet)."""


def default_public_base_url(*, bucket: str, endpoint_url: str | None, region: str) -> str:
    """Where a bucket's objects are addressed when no public base URL (a CDN) is configured.

    With an endpoint URL (MinIO, SeaweedFS, R2…) the URL is path-style, `{endpoint}/{bucket}`,
    because those stores rarely have a wildcard DNS name per bucket. On AWS it is the
    virtual-hosted form `https://{bucket}.s3.{region}.amazonaws.com`, the one AWS documents for
    new buckets (path-style is deprecated there). A bucket name with dots breaks TLS on the
    virtual-hosted form: such setups must set S3_PUBLIC_BASE_URL.
    """
    if endpoint_url:
        return f"{endpoint_url.rstrip('/')}/{bucket}"
    return f"https://{bucket}.s3.{region}.amazonaws.com"


def build_client(
    *,
    region: str,
    endpoint_url: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    max_pool_connections: int = 10,
) -> Any:
    """A boto3 S3 client with bounded timeouts, and retries left to the store."""
    config = Config(
        region_name=region,
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        # One retry layer only: botocore classifies errors the "standard" way but makes a single
        # attempt, and the store retries whole operations (an upload plus its verification) so
        # attempts are counted once and not multiplied.
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=max_pool_connections,
        # MinIO, SeaweedFS and most S3-compatible stores have no per-bucket DNS names.
        s3={"addressing_style": "path"} if endpoint_url else None,
        # Default CRC trailers (boto3 1.36+) are refused by several S3-compatible stores; the
        # size check after each upload is the integrity check that works everywhere.
        request_checksum_calculation="when_required" if endpoint_url else "when_supported",
        response_checksum_validation="when_required" if endpoint_url else "when_supported",
    )
    # A private session: boto3's default one is shared and not safe to build clients from
    # several threads at once.
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=endpoint_url or None,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=config,
    )


class S3BlobStore:
    """Objects at `{prefix}{key}` in one bucket; saved objects are public at `{public_base_url}/`.

    Every operation is retried (exponential backoff with jitter, `max_attempts` in all) on
    connection errors, throttling and 5xx answers only; any other failure, and the last
    transient one, is raised as StorageError.
    """

    def __init__(
        self,
        client: Any,
        *,
        bucket: str,
        public_base_url: str,
        prefix: str = "",
        max_attempts: int = 4,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 8.0,
        transfer_config: TransferConfig | None = None,
    ) -> None:
        if not bucket:
            raise ValueError("S3BlobStore needs a bucket (S3_BUCKET)")
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.public_base_url = public_base_url.rstrip("/")
        self.transfer_config = transfer_config or TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD,
            multipart_chunksize=MULTIPART_CHUNKSIZE,
            max_concurrency=MULTIPART_CONCURRENCY,
        )
        self._retrying = Retrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_attempt(max_attempts),
            # Full jitter: workers that failed together do not come back together.
            wait=wait_random_exponential(multiplier=retry_initial_s, max=retry_max_s),
            reraise=True,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> S3BlobStore:
        """The store named by the S3_* settings, with its own client."""
        if not settings.s3_bucket:
            raise ValueError("STORAGE_BACKEND=s3 needs S3_BUCKET")
        client = build_client(
            region=settings.s3_region,
            endpoint_url=settings.s3_endpoint_url,
            access_key_id=_secret(settings.s3_access_key_id),
            secret_access_key=_secret(settings.s3_secret_access_key),
            # Every worker thread may hold a connection, plus the API's streaming reads.
            max_pool_connections=max(10, settings.worker_concurrency),
        )
        public_base_url = settings.s3_public_base_url or default_public_base_url(
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
        )
        return cls(
            client,
            bucket=settings.s3_bucket,
            public_base_url=public_base_url,
            prefix=settings.s3_prefix,
            max_attempts=settings.storage_max_attempts,
        )

    def close(self) -> None:
        """Close the client's connection pool."""
        self.client.close()

    def object_key(self, key: str) -> str:
        """The key in the bucket: the configured prefix, then the blob key."""
        return f"{self.prefix}{key}"

    def public_url(self, key: str) -> str:
        """The anonymous URL of a public object."""
        return f"{self.public_base_url}/{quote(self.object_key(key))}"

    def put(
        self, key: str, data: bytes, *, content_type: str, public: bool = False
    ) -> StoredObject:
        """Upload (multipart when large), then HEAD it: return only once the size matches."""
        object_key = self.object_key(key)
        self._call(f"put {object_key}", lambda: self._upload(object_key, data, content_type))
        url = self.public_url(key) if public else None
        return StoredObject(key=key, size=len(data), content_type=content_type, url=url)

    def iter_chunks(self, key: str, *, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """Open the object now (BlobNotFound if absent), then stream its body."""
        object_key = self.object_key(key)
        response = self._call(
            f"get {object_key}",
            lambda: self.client.get_object(Bucket=self.bucket, Key=object_key),
            not_found=key,
        )
        return _Chunks(response["Body"], chunk_size, object_key)

    def size(self, key: str) -> int | None:
        """The object's size from a HEAD, or None if absent."""
        object_key = self.object_key(key)
        try:
            head = self._call(f"head {object_key}", lambda: self._head(object_key), not_found=key)
        except BlobNotFound:
            return None
        return int(head["ContentLength"])

    def delete(self, key: str) -> None:
        """Delete the object; S3 answers the same whether it existed or not."""
        object_key = self.object_key(key)
        self._call(
            f"delete {object_key}",
            lambda: self.client.delete_object(Bucket=self.bucket, Key=object_key),
        )

    def _upload(self, object_key: str, data: bytes, content_type: str) -> None:
        # A fresh file object per attempt: a failed attempt may have read part of the last one.
        self.client.upload_fileobj(
            io.BytesIO(data),
            self.bucket,
            object_key,
            ExtraArgs={"ContentType": content_type},
            Config=self.transfer_config,
        )
        try:
            stored = int(self._head(object_key)["ContentLength"])
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND_CODES:
                raise _NotDurable(f"{object_key} is not visible after its upload") from exc
            raise
        if stored != len(data):
            raise _NotDurable(f"{object_key} holds {stored} bytes after uploading {len(data)}")

    def _head(self, object_key: str) -> dict[str, Any]:
        return dict(self.client.head_object(Bucket=self.bucket, Key=object_key))

    def _call(self, what: str, operation: Callable[[], T], *, not_found: str | None = None) -> T:
        """Run `operation` under the retry policy; boto errors come out as StorageError."""
        try:
            # A copy per call: the retry state of concurrent calls stays apart.
            return self._retrying.copy()(operation)
        except StorageError:
            raise
        except ClientError as exc:
            if not_found is not None and _code(exc) in _NOT_FOUND_CODES:
                raise BlobNotFound(not_found) from exc
            raise StorageError(f"S3 {what} failed: {_code(exc)}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"S3 {what} failed: {exc}") from exc


def is_transient(exc: BaseException) -> bool:
    """Whether repeating the failed request may succeed."""
    # Every store operation is idempotent (an upload overwrites its own earlier attempt), so a
    # request that may or may not have arrived is safe to repeat.
    # Could not connect, or the connection broke or timed out mid-request.
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return True
    # The object is missing or short right after its upload: upload it again.
    if isinstance(exc, _NotDurable):
        return True
    if isinstance(exc, ClientError):
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        # Throttling and server-side failures pass; 4xx (no such bucket, access denied, bad
        # signature) are configuration errors that a retry cannot fix.
        return _code(exc) in _RETRYABLE_CODES or status == 429 or status >= 500
    # Missing credentials, invalid parameters and the like.
    return False


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


class _Chunks:
    """An open object's body as chunks. The connection is let go when the chunks run out, on a
    read error, on close(), or when the iterator is dropped, even before its first chunk (a
    client that hangs up at once)."""

    _open = False

    def __init__(self, body: Any, chunk_size: int, object_key: str) -> None:
        self._body = body
        self._chunks = body.iter_chunks(chunk_size)
        self._object_key = object_key
        self._open = True

    def __iter__(self) -> _Chunks:
        return self

    def __next__(self) -> bytes:
        try:
            return bytes(next(self._chunks))
        except StopIteration:
            self.close()
            raise
        except BotoCoreError as exc:
            self.close()
            # Mid-stream the caller has already sent part of the object: no retry can help it.
            raise StorageError(f"S3 read of {self._object_key} broke off: {exc}") from exc

    def close(self) -> None:
        """Release the connection (idempotent)."""
        if self._open:
            self._open = False
            self._body.close()

    def __del__(self) -> None:
        self.close()
