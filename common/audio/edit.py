"""Editing delivered audio: cutting a longer render down to the length that was asked for."""

from __future__ import annotations

import numpy as np

from common.audio import codec

DEFAULT_FADE_MS = 40


def fit_length(
    data: bytes, response_format: str, *, length_ms: int, fade_ms: int = DEFAULT_FADE_MS
) -> tuple[bytes, int]:
    """Cut `data` to `length_ms` with a short fade-out; return the new bytes and their length."""
    samples, rate = codec.decode(data, response_format)
    keep = round(length_ms * rate / 1000)
    if len(samples) <= keep:
        return data, round(len(samples) * 1000 / rate)
    cut = samples[:keep].copy()
    fade = min(keep, round(fade_ms * rate / 1000))
    if fade:
        # A raised-cosine ramp: no click at the cut, and inaudible as a fade at 40 ms.
        ramp = 0.5 * (1 + np.cos(np.linspace(0, np.pi, fade, dtype=np.float32)))
        cut[-fade:] *= ramp[:, None]
    return codec.encode(cut, rate, response_format), round(keep * 1000 / rate)
