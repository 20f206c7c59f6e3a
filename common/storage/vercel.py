"""Blob storage in Vercel Blob, spoken over its HTTP API (spec/providers.md §3).

    put      PUT  {api}/?pathname=<key>      raw body; x-* headers; 200 {url, downloadUrl, ...}
    head     GET  {api}?url=<key>            200 {url, size, contentType, ...} (@vercel/blob head())
    delete   POST {api}/delete               {"urls": [<key>]}                 (@vercel/blob del())
    read     GET  <url from head>            the bytes; private blobs need the bearer token

Keys are used as pathnames as they are: no random suffix, so a key always names one blob and a
retried upload overwrites its own earlier attempt.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from common.config import Settings
from common.storage.base import CHUNK_SIZE, BlobNotFound, StorageError, StoredObject

T = TypeVar("T")

DEFAULT_API_URL = "https://vercel.com/api/blob"
# The SDK's limit (1024 upstream, less Vercel's own suffixes), applied whatever the suffix option.
MAX_PATHNAME_LENGTH = 950
CONNECT_TIMEOUT_S = 10.0
# The longest wait for the next byte of a request or answer (an upload is one request).
READ_TIMEOUT_S = 60.0
# A Retry-After longer than this is cut short: a worker does not sleep for minutes.
MAX_RETRY_AFTER_S = 60.0
# The codes @vercel/blob retries (its request loop), plus rate_limited after its Retry-After.
RETRYABLE_CODES = frozenset(
    {"unknown_error", "service_unavailable", "internal_server_error", "rate_limited"}
)
# Hosts that serve blob content: the read-write token goes to them and the API's host only.
BLOB_HOST_SUFFIX = ".blob.vercel-storage.com"


class VercelBlobError(StorageError):
    """Vercel Blob refused or failed a request; `code` is the API's error code."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"Vercel Blob {code}: {message}")
        self.code = code
        self.status = status
        self.retryable = retryable
        self.retry_after_s = retry_after_s


class VercelBlobStore:
    """Blobs in one Vercel Blob store, named by their key; saved ones are public.

    Requests are retried (exponential backoff with jitter, `max_attempts` in all, Retry-After
    honoured) on connection errors and the codes the official SDK retries; any other error is
    raised at once as VercelBlobError (a StorageError) carrying the API's code.
    """

    def __init__(
        self,
        *,
        token: str,
        api_url: str = DEFAULT_API_URL,
        api_version: str = "12",
        max_attempts: int = 4,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 8.0,
        max_connections: int = 100,
        client: httpx.Client | None = None,
    ) -> None:
        if not token:
            raise ValueError("VercelBlobStore needs a read-write token (BLOB_READ_WRITE_TOKEN)")
        self._token = token
        self.api_url = api_url.rstrip("/")
        self.api_version = api_version
        # vercel_blob_rw_<storeId>_<secret>: the SDK puts the store id in its request ids.
        parts = token.split("_")
        self._store_id = parts[3] if len(parts) > 3 else ""
        self._owns_client = client is None
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
            limits=httpx.Limits(max_connections=max_connections),
        )
        # Full jitter: workers that failed together do not come back together.
        backoff = wait_random_exponential(multiplier=retry_initial_s, max=retry_max_s)

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, VercelBlobError) and error.retry_after_s is not None:
                return min(error.retry_after_s, MAX_RETRY_AFTER_S)
            return backoff(state)

        self._retrying = Retrying(
            retry=retry_if_exception(_is_transient),
            stop=stop_after_attempt(max_attempts),
            wait=wait,
            reraise=True,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> VercelBlobStore:
        """The store reached with VERCEL_BLOB_TOKEN (or BLOB_READ_WRITE_TOKEN)."""
        if settings.vercel_blob_token is None:
            raise ValueError("STORAGE_BACKEND=vercel needs BLOB_READ_WRITE_TOKEN")
        return cls(
            token=settings.vercel_blob_token.get_secret_value(),
            api_url=settings.vercel_blob_api_url,
            api_version=settings.vercel_blob_api_version,
            max_attempts=settings.storage_max_attempts,
            # Every worker thread may upload at once, besides the API's streaming reads.
            max_connections=max(10, settings.worker_concurrency),
        )

    def close(self) -> None:
        """Close the connection pool (unless the client was handed in)."""
        if self._owns_client:
            self.client.close()

    def put(
        self, key: str, data: bytes, *, content_type: str, public: bool = False
    ) -> StoredObject:
        """Upload in one request; Vercel answers 200 only once the blob is stored."""
        if len(key) > MAX_PATHNAME_LENGTH:
            raise VercelBlobError(
                "bad_request", f"pathname is longer than {MAX_PATHNAME_LENGTH} characters"
            )
        headers = {
            "x-content-type": content_type,
            "x-add-random-suffix": "0",
            # A retried upload must be able to replace its own half-finished attempt.
            "x-allow-overwrite": "1",
            "x-vercel-blob-access": "public" if public else "private",
            "x-content-length": str(len(data)),
        }
        response = self._api(
            "PUT", f"{self.api_url}/", params={"pathname": key}, headers=headers, content=data
        )
        blob = _json_object(response)
        url = blob.get("url")
        # Reads find the blob by this pathname: a store that renamed it would lose it.
        if blob.get("pathname") != key or not isinstance(url, str):
            raise StorageError(f"Vercel Blob stored {key!r} as {blob.get('pathname')!r}")
        stored_type = blob.get("contentType") or content_type
        return StoredObject(
            key=key, size=len(data), content_type=stored_type, url=url if public else None
        )

    def head(self, key: str) -> dict[str, Any]:
        """The blob's metadata (`url`, `size`, `contentType`, ...); BlobNotFound if absent."""
        try:
            response = self._api("GET", self.api_url, params={"url": key})
        except VercelBlobError as exc:
            if exc.code == "not_found":
                raise BlobNotFound(key) from exc
            raise
        return _json_object(response)

    def iter_chunks(self, key: str, *, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """Find the blob's URL, open it now (BlobNotFound if absent), then stream it."""
        url = self.head(key).get("url")
        if not isinstance(url, str):
            raise StorageError(f"Vercel Blob head of {key!r} has no url")
        response = self._retry(f"GET {url}", lambda: self._open(url, key))
        return _Chunks(response, chunk_size, key)

    def size(self, key: str) -> int | None:
        """The blob's size from its metadata, or None if absent."""
        try:
            return int(self.head(key)["size"])
        except BlobNotFound:
            return None
        except (KeyError, TypeError, ValueError) as exc:
            raise StorageError(f"Vercel Blob head of {key!r} has no size") from exc

    def delete(self, key: str) -> None:
        """Delete the blob; deleting an absent blob succeeds."""
        try:
            self._api("POST", f"{self.api_url}/delete", json_body={"urls": [key]})
        except VercelBlobError as exc:
            if exc.code != "not_found":
                raise

    def _api(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        json_body: Any = None,
    ) -> httpx.Response:
        """One API call, retried; the request id stays the same across attempts, as the SDK's."""
        request_id = f"{self._store_id}:{int(time.time() * 1000)}:{secrets.token_hex(6)}"
        attempts = itertools.count()

        def attempt() -> httpx.Response:
            sent = {
                "authorization": f"Bearer {self._token}",
                "x-api-version": self.api_version,
                "x-api-blob-request-id": request_id,
                "x-api-blob-request-attempt": str(next(attempts)),
                **(headers or {}),
            }
            response = self.client.request(
                method, url, params=params, headers=sent, content=content, json=json_body
            )
            if response.is_success:
                return response
            raise _api_error(response)

        return self._retry(f"{method} {url}", attempt)

    def _open(self, url: str, key: str) -> httpx.Response:
        request = self.client.build_request("GET", url, headers=self._read_headers(url))
        response = self.client.send(request, stream=True)
        if response.status_code == 200:
            return response
        response.close()
        if response.status_code == 404:
            raise BlobNotFound(key)
        status = response.status_code
        raise VercelBlobError(
            f"http_{status}",
            f"reading {url} answered {status}",
            status=status,
            # Throttled or failing upstream: a later read may work; 401/403 will not.
            retryable=status == 429 or status >= 500,
        )

    def _read_headers(self, url: str) -> dict[str, str]:
        host = urlsplit(url).netloc
        if not (host.endswith(BLOB_HOST_SUFFIX) or host == urlsplit(self.api_url).netloc):
            return {}
        # Public blobs live on <store>.public.blob..., private ones on <store>.private.blob...
        access = "private" if ".private." in host else "public"
        return {"authorization": f"Bearer {self._token}", "x-vercel-blob-access": access}

    def _retry(self, what: str, operation: Callable[[], T]) -> T:
        try:
            return self._retrying.copy()(operation)
        except httpx.TransportError as exc:
            raise StorageError(f"Vercel Blob {what} failed: {exc!r}") from exc


def _is_transient(exc: BaseException) -> bool:
    # Every call is idempotent (uploads overwrite), so a request that may or may not have
    # arrived (connection refused, reset, timed out) is safe to repeat.
    if isinstance(exc, httpx.TransportError):
        return True
    # The API's own verdict (see RETRYABLE_CODES); forbidden, store_suspended, bad_request and
    # the like cannot be fixed by asking again.
    return isinstance(exc, VercelBlobError) and exc.retryable


def _api_error(response: httpx.Response) -> VercelBlobError:
    """The SDK's reading of an error answer: an unreadable body counts as unknown_error."""
    code, message = "unknown_error", f"HTTP {response.status_code}"
    try:
        error = response.json().get("error") or {}
        code = str(error.get("code") or code)
        message = str(error.get("message") or message)
    except (ValueError, AttributeError):
        pass
    retry_after = None
    if code == "rate_limited":
        retry_after = _seconds(response.headers.get("retry-after"))
    return VercelBlobError(
        code,
        message,
        status=response.status_code,
        retryable=code in RETRYABLE_CODES,
        retry_after_s=retry_after,
    )


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise StorageError(f"Vercel Blob answered {response.status_code} without JSON") from exc
    if not isinstance(body, dict):
        raise StorageError(f"Vercel Blob answered {response.status_code} with {body!r}")
    return body


class _Chunks:
    """An open blob's body as chunks. The connection goes back to the pool when the chunks run
    out, on a read error, on close(), or when the iterator is dropped, even before its first
    chunk (a client that hangs up at once)."""

    _open = False

    def __init__(self, response: httpx.Response, chunk_size: int, key: str) -> None:
        self._response = response
        self._chunks = response.iter_bytes(chunk_size)
        self._key = key
        self._open = True

    def __iter__(self) -> _Chunks:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except StopIteration:
            self.close()
            raise
        except httpx.HTTPError as exc:
            self.close()
            # Mid-stream the caller has already sent part of the blob: no retry can help it.
            raise StorageError(f"Vercel Blob read of {self._key!r} broke off: {exc!r}") from exc

    def close(self) -> None:
        """Release the connection (idempotent)."""
        if self._open:
            self._open = False
            self._response.close()

    def __del__(self) -> None:
        self.close()
