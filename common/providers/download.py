"""Fetching a provider's audio URL without letting it reach anything else.

A URL from a provider response is untrusted input. It is fetched only when:
- the scheme is https;
- the host is on the provider's allowlist (exact name, or a suffix that starts with a dot);
- every address the host resolves to is public (not loopback, private, link-local, shared,
  reserved or multicast), unless an operator listed its network as allowed;
and the connection goes to the address that was checked (the Host header and TLS name stay the
host's), so a DNS answer that changes between check and connect cannot redirect it. Redirects are
followed only within the same host, each hop checked again; size and time are capped.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import httpx

from common.net import AddressRefused, IPAddress, PublicAddressPolicy, pinned
from common.providers.base import ProviderRejectedError

MAX_REDIRECTS = 3


class DownloadRefused(ProviderRejectedError):
    def __init__(self, message: str) -> None:
        super().__init__(f"audio URL refused: {message}", provider_code="audio_url_refused")


class SafeDownloader:
    def __init__(
        self,
        *,
        allowed_hosts: Iterable[str],
        max_bytes: int,
        timeout_s: float,
        verify: object = True,
        resolve: dict[str, str] | None = None,
        allow_networks: Iterable[str] = (),
    ) -> None:
        self._allowed_hosts = [h.lower() for h in allowed_hosts]
        self._max_bytes = max_bytes
        self._timeout_s = timeout_s
        self._policy = PublicAddressPolicy(resolve=resolve, allow_networks=allow_networks)
        self._client = httpx.Client(
            verify=verify,  # type: ignore[arg-type]
            follow_redirects=False,
            timeout=httpx.Timeout(timeout_s, connect=10.0),
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SafeDownloader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def fetch(self, url: str) -> bytes:
        """The body at `url`, or DownloadRefused / ProviderRejectedError."""
        deadline = time.monotonic() + self._timeout_s
        target = self._parse(url)
        host = target.host
        for _ in range(MAX_REDIRECTS + 1):
            address = self._checked_address(host)
            response_or_next = self._get(target, address, deadline)
            if isinstance(response_or_next, bytes):
                return response_or_next
            try:
                next_host = httpx.URL(response_or_next).host
            except httpx.InvalidURL as exc:
                raise DownloadRefused("redirect to an invalid URL") from exc
            if next_host != host:
                raise DownloadRefused(f"redirect to another host ({next_host})")
            target = self._parse(response_or_next)
        raise DownloadRefused("too many redirects")

    def _parse(self, url: str) -> httpx.URL:
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise DownloadRefused("not a valid URL") from exc
        if target.scheme != "https":
            raise DownloadRefused(f"scheme {target.scheme or 'none'!r} is not https")
        if not self._host_allowed(target.host):
            raise DownloadRefused(f"host {target.host!r} is not on the allowlist")
        return target

    def _host_allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return any(
            host == allowed or (allowed.startswith(".") and host.endswith(allowed))
            for allowed in self._allowed_hosts
        )

    def _checked_address(self, host: str) -> IPAddress:
        try:
            return self._policy.checked_address(host)
        except AddressRefused as exc:
            raise DownloadRefused(str(exc)) from exc

    def _get(self, target: httpx.URL, address: IPAddress, deadline: float) -> bytes | str:
        url, headers, extensions = pinned(target, address)
        try:
            with self._client.stream(
                "GET", url, headers=headers, extensions=extensions
            ) as response:
                if response.is_redirect:
                    return str(target.join(response.headers.get("location", "")))
                if response.status_code != 200:
                    raise ProviderRejectedError(
                        f"audio download answered HTTP {response.status_code}",
                        provider_code="audio_download_failed",
                    )
                return self._read_capped(response, deadline)
        except httpx.HTTPError as exc:
            raise ProviderRejectedError(
                f"audio download failed ({type(exc).__name__})",
                provider_code="audio_download_failed",
            ) from exc

    def _read_capped(self, response: httpx.Response, deadline: float) -> bytes:
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self._max_bytes:
                raise ProviderRejectedError(
                    f"audio download is over {self._max_bytes} bytes",
                    provider_code="audio_too_large",
                )
            if time.monotonic() > deadline:
                raise ProviderRejectedError(
                    "audio download took too long", provider_code="audio_download_timeout"
                )
            chunks.append(chunk)
        return b"".join(chunks)
