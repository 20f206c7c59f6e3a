"""The offline local provider: answers every SKU with music made on this machine."""

from __future__ import annotations

import hashlib
import random
import time

from common.audio import codec
from common.audio.synth import synthesize
from common.providers.base import GeneratedAudio, GenerationRequest, ProviderRejectedError


class LocalProvider:
    name = "local"

    def __init__(self, *, latency_ms: int = 0, failure_rate: float = 0.0) -> None:
        self.latency_ms = latency_ms
        self.failure_rate = failure_rate

    def generate(self, request: GenerationRequest) -> GeneratedAudio:
        """Render the track and encode it straight to the requested format."""
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        # A switch for demos and failure tests; never on unless a setting says so.
        if self.failure_rate and random.random() < self.failure_rate:
            raise ProviderRejectedError(
                "The offline provider was configured to fail this request.",
                provider_code="simulated_failure",
            )
        # elevenlabs-music honours the requested length; MiniMax SKUs follow the lyrics.
        length_ms = request.music_length_ms if request.sku.per_second else None
        track = synthesize(prompt=request.prompt, lyrics=request.lyrics, length_ms=length_ms)
        data = codec.encode(track.samples, track.sample_rate, request.response_format)
        ref = hashlib.sha256(
            f"{request.sku.id}\0{request.prompt}\0{request.lyrics}\0{length_ms}".encode()
        ).hexdigest()[:16]
        return GeneratedAudio(
            data=data,
            format=request.response_format,
            duration_ms=track.duration_ms,
            provider_ref=f"local-{ref}",
        )
