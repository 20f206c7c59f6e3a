"""The waveform picture: a valid PNG whose bars follow the loudness, drawn late for tracks saved
without one, and never a reason for a job to fail."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from common.audio import codec, waveform
from common.errors import NotFoundError
from common.gallery.service import read_waveform
from common.jobs import runner
from common.providers.base import GeneratedAudio
from common.storage.base import StoredObject
from common.storage.local import LocalBlobStore


def read_png(data: bytes) -> np.ndarray:
    """Decode the PNGs this module writes (8-bit RGB, filter 0), checking every chunk's CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, chunks = 8, {}
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        chunks[kind] = chunks.get(kind, b"") + body
        offset += 12 + length
    width, height, depth, colour, _, _, _ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, colour) == (8, 2) and b"IEND" in chunks
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(height, -1)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(height, width, 3)


def bar_heights(picture: np.ndarray) -> list[int]:
    """The lit height of each bar column, read at the bar's first pixel column."""
    background = picture[:, :1, :]
    lit = (np.abs(picture.astype(int) - background.astype(int)).sum(axis=2) > 30).sum(axis=0)
    starts = range(
        waveform.MARGIN_X, waveform.WIDTH - waveform.MARGIN_X, waveform.BAR + waveform.GAP
    )
    return [int(lit[x]) for x in starts]


def test_bars_follow_loudness() -> None:
    rate = 44100
    t = np.arange(rate * 4) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    tone[: rate * 2] *= 0.05  # a quiet first half, a loud second half
    picture = read_png(waveform.waveform_png(np.stack([tone, tone], axis=1)))
    assert picture.shape == (waveform.HEIGHT, waveform.WIDTH, 3)
    heights = bar_heights(picture)
    half = len(heights) // 2
    assert max(heights[half + 1 :]) == waveform.BAND
    assert max(heights[: half - 1]) < waveform.BAND * 0.1
    assert min(heights) >= 4


@pytest.mark.parametrize("samples", [np.zeros((0, 2)), np.zeros((44100, 2)), np.zeros(10)])
def test_silence_and_nothing_draw_a_flat_line(samples: np.ndarray) -> None:
    heights = bar_heights(read_png(waveform.waveform_png(samples)))
    assert set(heights) == {4}


def test_renders_from_an_mp3() -> None:
    rate = 44100
    noise = np.random.default_rng(1).uniform(-0.3, 0.3, size=(rate, 2)).astype(np.float32)
    mp3 = codec.encode(noise, rate, "mp3_44100_128")
    png = waveform.render_waveform(mp3, "mp3_44100_128")
    assert read_png(png).shape == (waveform.HEIGHT, waveform.WIDTH, 3)
    assert len(png) < 60_000  # small enough to be a link preview fetched by every chat app


def test_undecodable_audio_is_a_codec_error() -> None:
    with pytest.raises(codec.CodecError):
        waveform.render_waveform(b"not audio at all" * 100, "mp3_44100_128")


def test_a_track_saved_without_a_waveform_gets_one_on_first_view(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path, public_base_url="http://test")
    rate = 44100
    tone = np.sin(2 * np.pi * 220 * np.arange(rate) / rate).astype(np.float32) * 0.3
    store.put("saved/acc/job.mp3", codec.encode(tone, rate, "mp3_44100_128"), content_type="x")
    drawn = read_waveform(store, audio_key="saved/acc/job.mp3")
    assert read_png(drawn).shape == (waveform.HEIGHT, waveform.WIDTH, 3)
    assert store.path("saved/acc/job.png").read_bytes() == drawn  # stored beside the track
    assert read_waveform(store, audio_key="saved/acc/job.mp3") == drawn
    with pytest.raises(NotFoundError):
        read_waveform(store, audio_key="saved/acc/gone.mp3")


def test_a_waveform_that_fails_never_fails_the_job(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = LocalBlobStore(tmp_path, public_base_url="http://test")
    ctx = SimpleNamespace(store=store)
    stored = StoredObject(key="saved/acc/job.mp3", size=3, content_type="audio/mpeg")
    garbage = GeneratedAudio(data=b"not audio" * 50, format="mp3_44100_128", duration_ms=1000)
    runner._store_waveform(ctx, stored, garbage)  # type: ignore[arg-type]
    assert "waveform" in caplog.text and not (tmp_path / "saved/acc/job.png").exists()
