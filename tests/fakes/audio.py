"""Real, decodable audio for the fake providers: a short chord loop encoded with PyAV."""

from __future__ import annotations

import io
import random
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Literal, cast

import av
import numpy as np
from av.audio.stream import AudioStream

from common.audio import codec
from common.audio.formats import FORMATS

Kind = Literal["mp3", "pcm", "ulaw", "alaw", "opus", "wav"]

_LAYOUTS = {1: "mono", 2: "stereo"}
# (muxer, encoder) for the formats common.audio.codec does not cover.
_CODECS: dict[str, tuple[str, str]] = {
    "mp3": ("mp3", "libmp3lame"),
    "pcm": ("s16le", "pcm_s16le"),
    "ulaw": ("mulaw", "pcm_mulaw"),
    "alaw": ("alaw", "pcm_alaw"),
    "opus": ("ogg", "libopus"),
    "wav": ("wav", "pcm_s16le"),
}
_CONTENT_TYPES: dict[str, str] = {
    "mp3": "audio/mpeg",
    "pcm": "audio/pcm",
    "ulaw": "audio/basic",
    "alaw": "audio/alaw",
    "opus": "audio/ogg",
    "wav": "audio/wav",
}
_CHUNK = 1152 * 16
# MPEG-2 Layer III (16, 22.05 and 24 kHz) stops at 160 kbit/s.
_MPEG2_MAX_BITRATE = 160_000


@dataclass(frozen=True)
class AudioSpec:
    """How a fake encodes one answer: codec kind, rate, bitrate and channel count."""

    kind: Kind
    sample_rate: int
    bitrate: int | None
    channels: int
    # Set when common.audio.codec knows this exact format, so the fake reuses its encoder.
    codec_name: str | None = None

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES[self.kind]

    @property
    def extension(self) -> str:
        return self.kind


_EL_NAME = re.compile(r"^(mp3|pcm|ulaw|alaw|opus)_(\d+)(?:_(\d+))?$")


def elevenlabs_spec(output_format: str) -> AudioSpec:
    """The encoding of an ElevenLabs `output_format` value such as `mp3_44100_128`."""
    if output_format in FORMATS:
        fmt = FORMATS[output_format]
        return AudioSpec(fmt.kind, fmt.sample_rate, fmt.bitrate, fmt.channels, fmt.name)
    match = _EL_NAME.match(output_format)
    if match is None:
        raise KeyError(output_format)
    kind, rate, kbps = match.group(1), int(match.group(2)), match.group(3)
    bitrate = int(kbps) * 1000 if kbps else None
    # Low mp3/opus bitrates leave too few bits for two channels (the contract's mp3_22050_32 is
    # mono for the same reason); the raw telephony formats are mono like pcm_*.
    channels = 2 if kind in ("mp3", "opus") and bitrate is not None and bitrate >= 96_000 else 1
    return AudioSpec(cast(Kind, kind), rate, bitrate, channels)


def minimax_spec(*, sample_rate: int, bitrate: int, fmt: str) -> AudioSpec:
    """The encoding of a MiniMax `audio_setting` (always two channels, as `music_channel` says)."""
    if fmt == "mp3" and (sample_rate, bitrate) == (44100, 128_000):
        return AudioSpec("mp3", 44100, 128_000, 2, "mp3_44100_128")
    if fmt == "mp3":
        if sample_rate < 32000:
            bitrate = min(bitrate, _MPEG2_MAX_BITRATE)
        return AudioSpec("mp3", sample_rate, bitrate, 2)
    return AudioSpec(cast(Kind, fmt), sample_rate, None, 2)


def music(n_samples: int, sample_rate: int, channels: int = 2) -> np.ndarray:
    """A I-V-vi-IV chord loop (three partials per note, plucked envelope), float32 (n, ch)."""
    t = np.arange(n_samples, dtype=np.float64) / sample_rate
    out = np.zeros((n_samples, 2), dtype=np.float64)
    chords = (
        (261.63, 329.63, 392.00),
        (196.00, 246.94, 293.66),
        (220.00, 261.63, 329.63),
        (174.61, 220.00, 261.63),
    )
    bar = 2.0
    for index, start in enumerate(np.arange(0.0, n_samples / sample_rate, bar)):
        lo, hi = int(start * sample_rate), min(n_samples, int((start + bar) * sample_rate))
        tau = t[lo:hi] - start
        # 20 ms attack then an exponential decay: each bar sounds like a struck chord.
        envelope = np.minimum(1.0, tau / 0.02) * np.exp(-1.5 * tau)
        for voice, freq in enumerate(chords[index % len(chords)]):
            tone = sum(np.sin(2 * np.pi * freq * h * tau) / h**2 for h in (1, 2, 3))
            pan = 0.35 + 0.15 * voice
            out[lo:hi, 0] += (1 - pan) * envelope * tone
            out[lo:hi, 1] += pan * envelope * tone
    # 10 ms fades so the clip starts and ends without a click.
    edge = np.clip(np.minimum(t, t[-1] - t if n_samples else t) / 0.01, 0.0, 1.0)
    out *= (0.3 * edge)[:, np.newaxis]
    if channels == 1:
        out = out.mean(axis=1, keepdims=True)
    return out.astype(np.float32)


@lru_cache(maxsize=64)
def render(spec: AudioSpec, duration_ms: int) -> bytes:
    """Encoded audio exactly `duration_ms` long (cached: tests ask for the same clips often)."""
    n_samples = round(duration_ms * spec.sample_rate / 1000)
    samples = music(n_samples, spec.sample_rate, spec.channels)
    if spec.codec_name is not None:
        return codec.encode(samples, spec.sample_rate, spec.codec_name)
    return _encode(samples, spec)


def duration_ms(data: bytes, spec: AudioSpec) -> int:
    """The decoded length of `data` in milliseconds."""
    if spec.codec_name is not None:
        return codec.measure_duration_ms(data, spec.codec_name)
    muxer, _ = _CODECS[spec.kind]
    options = {}
    if spec.kind in ("pcm", "ulaw", "alaw"):
        options = {"sample_rate": str(spec.sample_rate), "ch_layout": _LAYOUTS[spec.channels]}
    total, rate = 0, spec.sample_rate
    with av.open(io.BytesIO(data), "r", format=muxer, options=options) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate or rate
        for frame in container.decode(stream):
            total += frame.samples
    return round(total * 1000 / rate)


def truncate(data: bytes, spec: AudioSpec) -> bytes:
    """About the first half of `data`, cut where a decoder still reads it cleanly."""
    if spec.kind == "mp3":
        offsets = mp3_frame_offsets(data)
        # The first frame is the Xing/LAME header: it stays, still claiming the full length.
        return data[: offsets[len(offsets) // 2]] if len(offsets) > 2 else data
    if spec.kind == "opus":
        page = data.find(b"OggS", len(data) // 2)
        return data[:page] if page > 0 else data
    # A WAV keeps its header (still stating the full size); the samples follow the data chunk.
    header = data.find(b"data") + 8 if spec.kind == "wav" else 0
    frame = spec.channels * (2 if spec.kind in ("pcm", "wav") else 1)
    keep = (len(data) - header) // 2 // frame * frame
    return data[: header + keep]


def garble(data: bytes, rng: random.Random) -> bytes:
    """Random bytes as long as `data`: right size and headers, nothing a decoder can use."""
    return rng.randbytes(len(data))


# Layer III bitrates in kbit/s by bitrate index, for MPEG-1 and for MPEG-2/2.5.
_MP3_KBPS = {
    True: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    False: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
# Sample rates by the header's version bits (3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5).
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def mp3_frame_offsets(data: bytes) -> list[int]:
    """Byte offsets of the MPEG Layer III frames at the start of `data`, in order."""
    offsets: list[int] = []
    pos = 0
    while pos + 4 <= len(data):
        header = int.from_bytes(data[pos : pos + 4], "big")
        version, layer = (header >> 19) & 3, (header >> 17) & 3
        bitrate_index, rate_index = (header >> 12) & 0xF, (header >> 10) & 3
        if header >> 21 != 0x7FF or version == 1 or layer != 1:
            break
        if bitrate_index in (0, 15) or rate_index == 3:
            break
        mpeg1 = version == 3
        bitrate = _MP3_KBPS[mpeg1][bitrate_index] * 1000
        size = (144 if mpeg1 else 72) * bitrate // _MP3_RATES[version][rate_index]
        offsets.append(pos)
        pos += size + ((header >> 9) & 1)
    return offsets


def _encode(samples: np.ndarray, spec: AudioSpec) -> bytes:
    muxer, encoder = _CODECS[spec.kind]
    layout = _LAYOUTS[spec.channels]
    out = io.BytesIO()
    # No ID3 tag in front of the MP3, so the first frame is the Xing/LAME header.
    options = {"id3v2_version": "0"} if spec.kind == "mp3" else {}
    with av.open(out, "w", format=muxer, options=options) as container:
        stream = cast(
            AudioStream, container.add_stream(encoder, rate=spec.sample_rate, layout=layout)
        )
        if spec.bitrate is not None:
            stream.bit_rate = spec.bitrate
        for start in range(0, len(samples), _CHUNK):
            block = np.ascontiguousarray(samples[start : start + _CHUNK])
            frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="flt", layout=layout)
            frame.sample_rate = spec.sample_rate
            frame.time_base = Fraction(1, spec.sample_rate)
            frame.pts = start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()
