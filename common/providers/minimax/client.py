"""The MiniMax Music client: `POST /v1/music_generation` with a bearer key."""

from __future__ import annotations

import logging
from typing import Any

from common.config import Settings
from common.providers import audio_check, http
from common.providers.base import (
    GeneratedAudio,
    GenerationRequest,
    ProviderFailure,
    ProviderRejectedError,
    ProviderTransientError,
)
from common.providers.download import SafeDownloader
from common.providers.minimax.request import build_body

NAME = "minimax"
DELIVERED_FORMAT = "mp3_44100_128"  # what AUDIO_SETTING asks for
# 1002 rate limit, 1041 connection limit: refused before any work started. HTTP 429 likewise.
TRANSIENT_CODES = frozenset({1002, 1041})
SENSITIVE_CODES = frozenset({1026, 1027})
SENSITIVE_SUGGESTION = (
    "MiniMax flagged the prompt or lyrics as sensitive content; rephrase them and try again."
)
log = logging.getLogger(__name__)


class MiniMaxClient:
    name = NAME

    def __init__(self, settings: Settings, downloader: SafeDownloader) -> None:
        assert settings.minimax_api_key is not None
        self._output_format = settings.minimax_output_format
        self._total_timeout_s = settings.provider_total_timeout_s
        self._downloader = downloader
        self._http = http.build_client(
            settings,
            base_url=settings.minimax_base_url,
            headers={"Authorization": f"Bearer {settings.minimax_api_key.get_secret_value()}"},
        )

    def generate(self, request: GenerationRequest) -> GeneratedAudio:
        """Generate a song whose length follows the lyrics; report its measured length."""
        body = build_body(
            model=request.sku.provider_model,
            prompt=request.prompt,
            lyrics=request.lyrics,
            output_format=self._output_format,
        )
        response = http.post(
            self._http,
            "/v1/music_generation",
            provider=NAME,
            total_timeout_s=self._total_timeout_s,
            payload=body,
        )
        payload = http.json_or_none(response.body)
        if response.status_code != 200:
            raise _http_error(response.status_code, payload)
        if not isinstance(payload, dict):
            raise ProviderRejectedError(
                "MiniMax answered with a body that is not JSON", provider_code="malformed_response"
            )
        _raise_for_base_resp(payload)
        data = self._audio_bytes(payload)
        measured = audio_check.measure(data, DELIVERED_FORMAT, provider=NAME)
        reported = _reported_duration_ms(payload)
        if reported is not None:
            audio_check.check_not_truncated(measured, reported, provider=NAME)
            if abs(measured - reported) > audio_check.TRUNCATION_TOLERANCE_MS:
                log.warning("MiniMax reported %d ms, audio measures %d ms", reported, measured)
        return GeneratedAudio(
            data=data,
            format=DELIVERED_FORMAT,
            duration_ms=measured,
            provider_ref=payload.get("trace_id"),
        )

    def _audio_bytes(self, payload: dict[str, Any]) -> bytes:
        data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
        # "audio" per the reference; one version of MiniMax's own CLI reads "audio_url".
        audio = (data.get("audio") or data.get("audio_url")) if data else None
        if not isinstance(audio, str) or not audio:
            raise ProviderRejectedError("MiniMax returned no audio", provider_code="empty_audio")
        if self._output_format == "url":
            return self._downloader.fetch(audio)
        try:
            return bytes.fromhex(audio)
        except ValueError as exc:
            raise ProviderRejectedError(
                "MiniMax returned audio that is not hex", provider_code="malformed_audio"
            ) from exc


def _raise_for_base_resp(payload: dict[str, Any]) -> None:
    """MiniMax reports most failures as HTTP 200 with a non-zero base_resp.status_code."""
    base = payload.get("base_resp")
    if not isinstance(base, dict):
        raise ProviderRejectedError(
            "MiniMax answered without base_resp", provider_code="malformed_response"
        )
    code = base.get("status_code")
    if code == 0:
        return
    message = str(base.get("status_msg") or "unknown error")
    kind = ProviderTransientError if code in TRANSIENT_CODES else ProviderRejectedError
    suggestion = SENSITIVE_SUGGESTION if code in SENSITIVE_CODES else None
    raise kind(f"MiniMax: {message} ({code})", provider_code=str(code), suggestion=suggestion)


def _http_error(status: int, payload: Any) -> ProviderFailure:
    base = payload.get("base_resp") if isinstance(payload, dict) else None
    message = (base or {}).get("status_msg") if isinstance(base, dict) else None
    text = f"MiniMax: {message or f'HTTP {status}'} (http_{status})"
    if status in (429, 503):
        return ProviderTransientError(text, provider_code=f"http_{status}")
    return ProviderRejectedError(text, provider_code=f"http_{status}")


def _reported_duration_ms(payload: dict[str, Any]) -> int | None:
    extra = payload.get("extra_info")
    value = extra.get("music_duration") if isinstance(extra, dict) else None
    return int(value) if isinstance(value, int | float) and value > 0 else None
