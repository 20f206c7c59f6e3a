"""The offline local provider: answers every SKU with music made on this machine.

The synthesiser is deterministic: one prompt, lyrics, length and format always give the same
bytes. So finished tracks are kept in a per-process LRU bounded in bytes, and identical requests
that arrive together wait for the one render in progress instead of each rendering it. A demo or
a load test that repeats a prompt then spends the worker's CPU on the gateway, as a remote
provider would, not on rendering the same track again.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time

from cachetools import LRUCache, cached
from cachetools.keys import hashkey

from common.audio import codec
from common.providers.base import GeneratedAudio, GenerationRequest, ProviderRejectedError
from common.providers.local.synth import synthesize


class LocalProvider:
    name = "local"

    def __init__(
        self, *, latency_ms: int = 0, failure_rate: float = 0.0, cache_bytes: int = 0
    ) -> None:
        self.latency_ms = latency_ms
        self.failure_rate = failure_rate
        self._render = _render
        if cache_bytes:
            tracks: LRUCache[tuple[object, ...], tuple[bytes, int]] = LRUCache(
                maxsize=cache_bytes, getsizeof=lambda track: len(track[0])
            )
            # The condition makes concurrent callers of one key wait for the first one's render.
            self._render = cached(tracks, key=hashkey, condition=threading.Condition())(_render)

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
        data, duration_ms = self._render(
            request.prompt, request.lyrics, length_ms, request.response_format
        )
        ref = hashlib.sha256(
            f"{request.sku.id}\0{request.prompt}\0{request.lyrics}\0{length_ms}".encode()
        ).hexdigest()[:16]
        return GeneratedAudio(
            data=data,
            format=request.response_format,
            duration_ms=duration_ms,
            provider_ref=f"local-{ref}",
        )


def _render(
    prompt: str | None, lyrics: str | None, length_ms: int | None, response_format: str
) -> tuple[bytes, int]:
    track = synthesize(prompt=prompt, lyrics=lyrics, length_ms=length_ms)
    return codec.encode(track.samples, track.sample_rate, response_format), track.duration_ms
