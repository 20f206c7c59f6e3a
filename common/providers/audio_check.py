"""Decoding what a provider delivered: malformed or truncated audio is a rejected call."""

from __future__ import annotations

from common.audio import codec
from common.providers.base import ProviderRejectedError

# A track shorter than promised by more than this was cut off in transit or upstream.
TRUNCATION_TOLERANCE_MS = 1000


def measure(data: bytes, response_format: str, *, provider: str) -> int:
    """The decoded length in ms; ProviderRejectedError when the bytes are not that format."""
    if not data:
        raise ProviderRejectedError(f"{provider} returned no audio", provider_code="empty_audio")
    try:
        samples, rate = codec.decode(data, response_format)
    except codec.CodecError as exc:
        raise ProviderRejectedError(
            f"{provider} returned audio that does not decode as {response_format}",
            provider_code="malformed_audio",
        ) from exc
    if len(samples) == 0:
        raise ProviderRejectedError(
            f"{provider} returned audio with no samples", provider_code="malformed_audio"
        )
    return round(len(samples) * 1000 / rate)


def check_not_truncated(measured_ms: int, expected_ms: int, *, provider: str) -> None:
    if measured_ms < expected_ms - TRUNCATION_TOLERANCE_MS:
        raise ProviderRejectedError(
            f"{provider} delivered {measured_ms} ms of audio where {expected_ms} ms were "
            "promised (truncated)",
            provider_code="truncated_audio",
        )
