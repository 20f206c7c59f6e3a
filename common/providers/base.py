"""The provider interface and its two error kinds.

ProviderFailure
├── ProviderTransientError   may be retried: the provider cannot have started billable work
│                            (connection refused, 429, 503, MiniMax 1002/1041)
└── ProviderRejectedError    fails the job; keeps the upstream code and message
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from common.pricing import Sku


@dataclass(frozen=True)
class GenerationRequest:
    job_id: str
    sku: Sku
    prompt: str | None
    lyrics: str | None
    music_length_ms: int
    response_format: str


@dataclass(frozen=True)
class GeneratedAudio:
    data: bytes
    format: str  # one of common.audio.formats.FORMATS; the runner transcodes when it differs
    duration_ms: int  # measured length of the audio as delivered
    provider_ref: str | None = None


class MusicProvider(Protocol):
    # The name concurrency caps are keyed by ("elevenlabs", "minimax", "local").
    name: str

    def generate(self, request: GenerationRequest) -> GeneratedAudio: ...


class ProviderFailure(Exception):
    def __init__(
        self,
        message: str,
        *,
        provider_code: str | None = None,
        suggestion: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider_code = provider_code
        self.suggestion = suggestion


class ProviderTransientError(ProviderFailure):
    pass


class ProviderRejectedError(ProviderFailure):
    pass
