"""The ElevenLabs Music client: `POST /v1/music?output_format=…` with `xi-api-key`."""

from __future__ import annotations

from typing import Any

from common.audio.edit import fit_length
from common.config import Settings
from common.providers import audio_check, http
from common.providers.base import (
    GeneratedAudio,
    GenerationRequest,
    ProviderFailure,
    ProviderRejectedError,
    ProviderTransientError,
)

NAME = "elevenlabs"
MODEL_ID = "music_v1"
# ElevenLabs' current minimum; the gateway sells from 1000 ms, so shorter requests are rendered
# at the minimum and cut down (billing follows the request, not the render).
MIN_LENGTH_MS = 3000
FALLBACK_FORMAT = "mp3_44100_128"
# MP3 frames are 26 ms: a delivered length within this of the request is the request.
LENGTH_TOLERANCE_MS = 30
TIERS = ("free", "starter", "creator", "pro", "scale", "business")
# Formats that need a plan tier (the rest are on every paid plan).
FORMAT_MIN_TIER = {"mp3_44100_192": "creator", "pcm_44100": "pro"}
# 429: wait for a concurrency slot or back off; 503: not taken. Neither started billable work.
TRANSIENT_STATUSES = frozenset({429, 503})


class ElevenLabsClient:
    name = NAME

    def __init__(self, settings: Settings) -> None:
        assert settings.elevenlabs_api_key is not None
        self._tier = TIERS.index(settings.elevenlabs_tier)
        self._total_timeout_s = settings.provider_total_timeout_s
        self._http = http.build_client(
            settings,
            base_url=settings.elevenlabs_base_url,
            headers={"xi-api-key": settings.elevenlabs_api_key.get_secret_value()},
        )

    def native_format(self, response_format: str) -> str:
        """The format to ask for: the requested one if the plan allows it, else the fallback."""
        needed = FORMAT_MIN_TIER.get(response_format)
        return FALLBACK_FORMAT if needed and TIERS.index(needed) > self._tier else response_format

    def generate(self, request: GenerationRequest) -> GeneratedAudio:
        """Compose a track of the requested length (billed as requested)."""
        output_format = self.native_format(request.response_format)
        asked_ms = max(request.music_length_ms, MIN_LENGTH_MS)
        response = http.post(
            self._http,
            "/v1/music",
            provider=NAME,
            total_timeout_s=self._total_timeout_s,
            params={"output_format": output_format},
            payload={"prompt": request.prompt, "music_length_ms": asked_ms, "model_id": MODEL_ID},
        )
        if response.status_code != 200:
            raise error_from_response(response.status_code, response.body)
        data = response.body
        measured = audio_check.measure(data, output_format, provider=NAME)
        audio_check.check_not_truncated(measured, asked_ms, provider=NAME)
        # The contract promises the requested length: cut what runs over (the 3 s minimum, or a
        # provider that overshoots) with a short fade.
        if measured > request.music_length_ms + LENGTH_TOLERANCE_MS:
            data, measured = fit_length(data, output_format, length_ms=request.music_length_ms)
        return GeneratedAudio(
            data=data,
            format=output_format,
            duration_ms=measured,
            provider_ref=response.headers.get("song-id"),
        )


def error_from_response(status: int, body: bytes) -> ProviderFailure:
    """Both `detail` shapes (current {type, code, message…}, legacy {status, message}) and 422's
    list; the content-policy refusal keeps its suggestion."""
    parsed = http.json_or_none(body)
    detail: Any = parsed.get("detail") if isinstance(parsed, dict) else None
    code, message, suggestion = f"http_{status}", f"ElevenLabs answered HTTP {status}", None
    if isinstance(detail, list):
        code = "validation_error"
        message = (
            "; ".join(
                f"{'.'.join(str(p) for p in item.get('loc', []))}: {item.get('msg', '')}"
                for item in detail
                if isinstance(item, dict)
            )
            or message
        )
    elif isinstance(detail, dict):
        code = str(detail.get("code") or detail.get("status") or code)
        message = str(detail.get("message") or message)
        data = detail.get("data")
        data = data if isinstance(data, dict) else {}
        suggestion = data.get("prompt_suggestion") or data.get("composition_plan_suggestion")
    elif isinstance(detail, str):
        message = detail
    kind = ProviderTransientError if status in TRANSIENT_STATUSES else ProviderRejectedError
    return kind(f"ElevenLabs: {message} ({code})", provider_code=code, suggestion=suggestion)
