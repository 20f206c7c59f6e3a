"""A fake Vercel Blob API (spec/providers.md §3) that also serves the blobs it stores.

    with FakeVercelBlob() as fake:            # api_url = fake.api_url = {base_url}/api/blob
        PUT  {api_url}/?pathname=saved/a.mp3  authorization: Bearer <token>, x-api-version: 12,
                                              x-content-type, x-add-random-suffix: 0,
                                              x-allow-overwrite: 1, x-vercel-blob-access, ...
             -> 200 {"url", "downloadUrl", "pathname", "contentType", "contentDisposition",
                     "etag"}
        GET  {api_url}?url=<url or pathname>  -> 200 {"url", "downloadUrl", "pathname", "size",
                                                "uploadedAt", "contentType", ...}  (head())
        POST {api_url}/delete {"urls": [...]} -> 200 {}                            (del())
        GET  {base_url}/public/<pathname>     the bytes, to anyone
        GET  {base_url}/private/<pathname>    the bytes, with the bearer token only

Blob URLs stand in for `https://<store>.public.blob.vercel-storage.com/<pathname>` and its
`.private.` twin: the access is the first path segment here instead of a host label.

Errors are `{"error": {"code", "message"}}`. Error kinds (fail_next / failure / failure_mix),
besides the generic ones in server.py:

    service_unavailable     503    (the SDK retries it)
    unknown_error           500    (the SDK retries it)
    internal_server_error   500    (the SDK retries it)
    rate_limited            429 with Retry-After: `retry_after_s`
    forbidden               403    (also the answer to a wrong or missing token)
    store_suspended         403
"""

from __future__ import annotations

import hashlib
import mimetypes
import posixpath
import secrets
import string
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote, urlsplit

from tests.fakes.server import FakeServer, RecordedRequest, Reply, json_reply

API_PATH = "/api/blob"
MAX_PATHNAME_LENGTH = 950
ACCESS_KINDS = ("public", "private")
ERRORS: dict[str, tuple[int, str]] = {
    "service_unavailable": (503, "The blob service is currently not available."),
    "unknown_error": (500, "Unknown error, please visit https://vercel.com/help."),
    "internal_server_error": (500, "Internal server error."),
    "rate_limited": (429, "Too many requests, please slow down."),
    "forbidden": (403, "Access denied, please provide a valid token for this resource."),
    "store_suspended": (403, "This store has been suspended."),
    "store_not_found": (404, "This store does not exist."),
    "not_found": (404, "The requested blob does not exist"),
    "bad_request": (400, "Bad request"),
}
ALREADY_EXISTS = (
    "This blob already exists, use `allowOverwrite: true` if you want to overwrite it. "
    "Or `addRandomSuffix: true` to generate a unique filename."
)


@dataclass(frozen=True)
class Blob:
    """One stored blob."""

    pathname: str
    data: bytes
    content_type: str
    access: str
    uploaded_at: datetime
    etag: str


def error_reply(code: str, message: str | None = None, *, retry_after_s: int = 0) -> Reply:
    """The API's error body for `code`."""
    status, default = ERRORS[code]
    headers = {"Retry-After": str(retry_after_s)} if code == "rate_limited" else None
    return json_reply(status, {"error": {"code": code, "message": message or default}}, headers)


class FakeVercelBlob(FakeServer):
    """Vercel Blob on 127.0.0.1: the API under /api/blob and the blob URLs it hands out."""

    error_kinds = frozenset(
        {
            "service_unavailable",
            "unknown_error",
            "internal_server_error",
            "rate_limited",
            "forbidden",
            "store_suspended",
        }
    )

    def __init__(self, *, token: str = "vercel_blob_rw_fakestore_secret", seed: int = 0) -> None:
        self.token = token
        self.blobs: dict[str, Blob] = {}
        self._blobs_lock = threading.Lock()
        super().__init__(seed=seed)

    def reset_switches(self) -> None:
        # The Retry-After (seconds) that comes with rate_limited.
        self.retry_after_s = 0
        with self._blobs_lock:
            self.blobs.clear()

    @property
    def api_url(self) -> str:
        return f"{self.base_url}{API_PATH}"

    def blob_url(self, pathname: str, access: str = "public") -> str:
        """The URL the fake hands out for a blob (and serves)."""
        return f"{self.base_url}/{access}/{quote(pathname)}"

    def api_requests(self) -> list[RecordedRequest]:
        """Requests to the API (not to blob URLs), oldest first."""
        return [r for r in self.requests if r.path.rstrip("/").startswith(API_PATH)]

    def respond(self, request: RecordedRequest, failure: str | None) -> Reply:
        if failure in self.error_kinds:
            assert failure is not None
            return error_reply(failure, retry_after_s=self.retry_after_s)
        path = request.path.rstrip("/") or "/"
        if path == API_PATH or path == f"{API_PATH}/delete":
            return self._api(request, path)
        access, _, pathname = request.path.lstrip("/").partition("/")
        if access in ACCESS_KINDS and request.method in ("GET", "HEAD"):
            return self._serve_blob(request, access, unquote(pathname), failure)
        return json_reply(404, {"error": {"code": "not_found", "message": "Not Found"}})

    # --- the API ----------------------------------------------------------------------------

    def _api(self, request: RecordedRequest, path: str) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return error_reply("forbidden")
        if not request.headers.get("x-api-version"):
            return error_reply("bad_request", "Missing x-api-version header.")
        if path.endswith("/delete"):
            if request.method != "POST":
                return error_reply("bad_request", f"{request.method} is not allowed here.")
            return self._delete(request)
        if request.method == "PUT":
            return self._put(request)
        if request.method == "GET" and "url" in request.query:
            return self._head(request.query["url"])
        return error_reply("bad_request", f"{request.method} {path} is not supported.")

    def _put(self, request: RecordedRequest) -> Reply:
        headers = request.headers
        pathname = request.query.get("pathname", "")
        if not pathname:
            return error_reply("bad_request", "pathname is required.")
        if len(pathname) > MAX_PATHNAME_LENGTH:
            message = f"pathname is too long, maximum length is {MAX_PATHNAME_LENGTH}."
            return error_reply("bad_request", message)
        # Sent only since SDK 2.2.0; older clients' blobs were public.
        access = headers.get("x-vercel-blob-access", "public")
        if access not in ACCESS_KINDS:
            return error_reply("bad_request", f"Invalid access {access!r}.")
        declared = headers.get("x-content-length")
        if declared is not None and declared != str(len(request.body)):
            message = f"x-content-length {declared} does not match the body."
            return error_reply("bad_request", message)
        if headers.get("x-add-random-suffix") == "1":
            pathname = _with_random_suffix(pathname)
        content_type = headers.get("x-content-type") or _guess_type(pathname)
        with self._blobs_lock:
            if pathname in self.blobs and headers.get("x-allow-overwrite") != "1":
                return error_reply("bad_request", ALREADY_EXISTS)
            blob = Blob(
                pathname=pathname,
                data=request.body,
                content_type=content_type,
                access=access,
                uploaded_at=datetime.now(UTC),
                etag=f'"{hashlib.md5(request.body, usedforsecurity=False).hexdigest()}"',
            )
            self.blobs[pathname] = blob
        url = self.blob_url(pathname, access)
        return json_reply(
            200,
            {
                "url": url,
                "downloadUrl": f"{url}?download=1",
                "pathname": pathname,
                "contentType": content_type,
                "contentDisposition": _disposition(pathname),
                "etag": blob.etag,
            },
        )

    def _head(self, url_or_pathname: str) -> Reply:
        blob = self._find(url_or_pathname)
        if blob is None:
            return error_reply("not_found")
        url = self.blob_url(blob.pathname, blob.access)
        return json_reply(
            200,
            {
                "url": url,
                "downloadUrl": f"{url}?download=1",
                "pathname": blob.pathname,
                "size": len(blob.data),
                "uploadedAt": blob.uploaded_at.isoformat().replace("+00:00", "Z"),
                "contentType": blob.content_type,
                "contentDisposition": _disposition(blob.pathname),
                "cacheControl": "public, max-age=2592000",
                "etag": blob.etag,
            },
        )

    def _delete(self, request: RecordedRequest) -> Reply:
        body = request.json
        urls = body.get("urls") if isinstance(body, dict) else None
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            return error_reply("bad_request", "urls must be a list of strings.")
        with self._blobs_lock:
            for url in urls:
                blob = self._find_locked(url)
                if blob is not None:
                    del self.blobs[blob.pathname]
        return json_reply(200, {})

    def _find(self, url_or_pathname: str) -> Blob | None:
        with self._blobs_lock:
            return self._find_locked(url_or_pathname)

    def _find_locked(self, url_or_pathname: str) -> Blob | None:
        pathname = url_or_pathname
        if url_or_pathname.startswith(("http://", "https://")):
            url = urlsplit(url_or_pathname)
            if url.netloc != urlsplit(self.base_url).netloc:
                return None
            access, _, pathname = url.path.lstrip("/").partition("/")
            blob = self.blobs.get(unquote(pathname))
            return blob if blob is not None and blob.access == access else None
        return self.blobs.get(pathname)

    # --- blob URLs --------------------------------------------------------------------------

    def _serve_blob(
        self, request: RecordedRequest, access: str, pathname: str, failure: str | None
    ) -> Reply:
        blob = self._find(self.blob_url(pathname, access))
        if blob is None:
            return Reply(404, b"The requested blob does not exist", {"Content-Type": "text/plain"})
        if access == "private" and request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(403, b"Forbidden", {"Content-Type": "text/plain"})
        data = blob.data
        if failure == "truncated":
            data = data[: len(data) // 2]
        elif failure == "corrupt":
            data = self.rng.randbytes(len(data))
        headers = {
            "Content-Type": blob.content_type,
            "ETag": blob.etag,
            "Last-Modified": blob.uploaded_at.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        }
        if request.query.get("download") == "1":
            headers["Content-Disposition"] = _disposition(pathname, attachment=True)
        return Reply(200, data, headers)


def _guess_type(pathname: str) -> str:
    return mimetypes.guess_type(pathname)[0] or "application/octet-stream"


def _disposition(pathname: str, *, attachment: bool = False) -> str:
    kind = "attachment" if attachment else "inline"
    return f'{kind}; filename="{posixpath.basename(pathname)}"'


def _with_random_suffix(pathname: str) -> str:
    stem, ext = posixpath.splitext(pathname)
    alphabet = string.ascii_letters + string.digits
    return f"{stem}-{''.join(secrets.choice(alphabet) for _ in range(30))}{ext}"
