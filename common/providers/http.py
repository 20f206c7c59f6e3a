"""HTTP plumbing shared by the provider clients: one pool per process, capped reads, and the
mapping of transport failures onto the two error kinds."""

from __future__ import annotations

import json
import ssl
import time
from dataclasses import dataclass
from typing import Any

import httpx

from common.config import Settings
from common.providers.base import ProviderRejectedError, ProviderTransientError

MAX_RESPONSE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class RawResponse:
    status_code: int
    headers: httpx.Headers
    body: bytes


def tls_context(settings: Settings) -> ssl.SSLContext:
    """The system trust store, plus the configured extra CA bundle if any."""
    context = ssl.create_default_context()
    if settings.provider_ca_bundle:
        context.load_verify_locations(settings.provider_ca_bundle)
    return context


def build_client(settings: Settings, *, base_url: str, headers: dict[str, str]) -> httpx.Client:
    """One pooled client per provider per process, with timeouts sized for long generations."""
    timeout = httpx.Timeout(
        connect=settings.provider_connect_timeout_s,
        read=settings.provider_read_timeout_s,
        write=30.0,
        pool=settings.provider_read_timeout_s,
    )
    return httpx.Client(
        base_url=base_url,
        headers=headers,
        timeout=timeout,
        verify=tls_context(settings),
        follow_redirects=False,
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )


def post(
    client: httpx.Client,
    path: str,
    *,
    provider: str,
    total_timeout_s: float,
    params: dict[str, str] | None = None,
    payload: Any = None,
) -> RawResponse:
    """POST and read the whole body within `total_timeout_s`, whatever the server's pace."""
    deadline = time.monotonic() + total_timeout_s
    try:
        with client.stream("POST", path, params=params, json=payload) as response:
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise ProviderRejectedError(
                        f"{provider} sent more than {MAX_RESPONSE_BYTES} bytes",
                        provider_code="response_too_large",
                    )
                if time.monotonic() > deadline:
                    raise _timed_out(provider, total_timeout_s)
                chunks.append(chunk)
            return RawResponse(response.status_code, response.headers, b"".join(chunks))
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        # Nothing reached the provider: it cannot have started (or billed) any work.
        raise ProviderTransientError(
            f"could not connect to {provider}: {type(exc).__name__}", provider_code="connect_failed"
        ) from exc
    except httpx.TimeoutException as exc:
        # The request was sent: the provider may be generating (and billing) it. Not retried.
        raise _timed_out(provider, None) from exc
    except httpx.TransportError as exc:
        raise ProviderRejectedError(
            f"the connection to {provider} failed mid-call ({type(exc).__name__})",
            provider_code="connection_lost",
        ) from exc


def _timed_out(provider: str, total_s: float | None) -> ProviderRejectedError:
    within = f" within {total_s:g} s" if total_s else ""
    return ProviderRejectedError(f"{provider} did not answer{within}", provider_code="timeout")


def json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None
