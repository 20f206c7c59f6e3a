"""A track's waveform as a PNG picture: bars on a dark panel, sized for link previews.

Drawn with numpy and written with zlib, so no imaging library is needed. The picture is
1200×630, the size chat apps and social sites show as a large preview; the bars fill a band
across the middle so a page may crop it to a strip (`object-fit: cover`) and lose nothing.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from common.audio import codec

WIDTH, HEIGHT = 1200, 630
CONTENT_TYPE = "image/png"
# The bars' band: half the picture's height, centred, so a 4:1 crop of it keeps every bar.
BAND = 300
MARGIN_X = 48
BAR, GAP = 6, 3
TOP_COLOUR, BOTTOM_COLOUR = (27, 22, 48), (18, 14, 32)
LEFT_COLOUR, RIGHT_COLOUR = (139, 124, 246), (244, 114, 182)


def render_waveform(data: bytes, audio_format: str) -> bytes:
    """The PNG waveform of encoded audio (any format the codec decodes)."""
    samples, _ = codec.decode(data, audio_format)
    return waveform_png(samples)


def waveform_png(samples: np.ndarray) -> bytes:
    """The PNG waveform of float samples shaped (n,) or (n, channels)."""
    return encode_png(_draw(_levels(samples, _bar_count())))


def _bar_count() -> int:
    return (WIDTH - 2 * MARGIN_X + GAP) // (BAR + GAP)


def _levels(samples: np.ndarray, bars: int) -> np.ndarray:
    """Loudness per bar in [0, 1]: the RMS of its slice, relative to the loudest bar."""
    mono = samples.reshape(len(samples), -1).mean(axis=1) if samples.size else np.zeros(0)
    if len(mono) < bars:
        return np.zeros(bars)
    edges = np.linspace(0, len(mono), bars + 1).astype(int)
    squares = np.add.reduceat(mono.astype(np.float64) ** 2, edges[:-1])
    rms = np.sqrt(squares / np.diff(edges))
    loudest = rms.max()
    return rms / loudest if loudest > 1e-6 else np.zeros(bars)


def _draw(levels: np.ndarray) -> np.ndarray:
    """An RGB picture (HEIGHT, WIDTH, 3) of mirrored bars on a vertical gradient."""
    rows = np.linspace(0.0, 1.0, HEIGHT)[:, None]
    background = (1 - rows) * np.array(TOP_COLOUR) + rows * np.array(BOTTOM_COLOUR)
    picture = np.repeat(background[:, None, :], WIDTH, axis=1)
    centre = HEIGHT // 2
    across = np.linspace(0.0, 1.0, len(levels))[:, None]
    colours = (1 - across) * np.array(LEFT_COLOUR) + across * np.array(RIGHT_COLOUR)
    for i, level in enumerate(levels):
        # Never thinner than 4 px: a quiet passage still shows as a line, not a gap.
        half = max(2, round(level * BAND / 2))
        left = MARGIN_X + i * (BAR + GAP)
        picture[centre - half : centre + half, left : left + BAR] = colours[i]
    return np.clip(np.rint(picture), 0, 255).astype(np.uint8)


def encode_png(rgb: np.ndarray) -> bytes:
    """An 8-bit RGB PNG of an array shaped (height, width, 3)."""
    height, width, _ = rgb.shape
    # Filter type 0 (none) before each row; the flat background compresses to almost nothing.
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rgb.reshape(height, -1)], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw.tobytes(), 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
