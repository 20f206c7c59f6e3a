"""Encoding, decoding and measuring audio in the contract's formats, in memory.

MP3 is encoded by LAME through lameenc (`common.audio.mp3`, which also writes the gapless tag);
everything else, and every decode, goes through PyAV (FFmpeg).
"""

import io
from fractions import Fraction
from typing import cast

import av
import numpy as np
from av.audio.stream import AudioStream

from common.audio.formats import AudioFormat, get_format
from common.audio.mp3 import encode_mp3

# (muxer, encoder) per kind; the raw kinds use the headerless muxers so the body is bare samples.
# MP3 is encoded by LAME directly, faster than through PyAV's bundled LAME (measured:
# bench/results.md); the mp3 muxer is still how MP3 is read.
_CODECS = {
    "mp3": ("mp3", "libmp3lame"),
    "pcm": ("s16le", "pcm_s16le"),
    "ulaw": ("mulaw", "pcm_mulaw"),
}
_LAYOUTS = {1: "mono", 2: "stereo"}
# Big enough that per-frame Python overhead is negligible.
_CHUNK = 1152 * 16


class CodecError(ValueError):
    """The bytes could not be decoded as the stated format."""


def encode(samples: np.ndarray, sample_rate: int, response_format: str) -> bytes:
    """Encode float samples (n, channels) in [-1, 1] as `response_format`."""
    fmt = get_format(response_format)
    pcm = _match_channels(_as_2d(samples), fmt.channels)
    if fmt.kind == "mp3":
        if sample_rate != fmt.sample_rate:
            pcm = _resample(pcm, sample_rate, fmt.sample_rate)
        return encode_mp3(pcm, fmt.sample_rate, (fmt.bitrate or 0) // 1000)
    muxer, encoder = _CODECS[fmt.kind]
    layout = _LAYOUTS[fmt.channels]
    out = io.BytesIO()
    with av.open(out, "w", format=muxer) as container:
        stream = cast(
            AudioStream, container.add_stream(encoder, rate=fmt.sample_rate, layout=layout)
        )
        time_base = Fraction(1, sample_rate)
        for start in range(0, len(pcm), _CHUNK):
            frame = _frame(pcm[start : start + _CHUNK], sample_rate, layout)
            frame.time_base = time_base
            frame.pts = start
            # The stream resamples to its own rate and sample format (swresample) and re-frames
            # for the encoder; encode(None) below flushes that resampler as well as the encoder.
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()


def _frame(block: np.ndarray, sample_rate: int, layout: str) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="flt", layout=layout)
    frame.sample_rate = sample_rate
    return frame


def _resample(pcm: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Resample float samples (n, channels) with swresample, flushing its delay line."""
    layout = _LAYOUTS[pcm.shape[1]]
    resampler = av.AudioResampler(format="flt", layout=layout, rate=target)
    out: list[np.ndarray] = []
    if len(pcm):
        frame = _frame(pcm, rate, layout)
        frame.pts = 0
        frame.time_base = Fraction(1, rate)
        out.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
    out.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    if not out:
        return np.zeros((0, pcm.shape[1]), dtype=np.float32)
    return np.concatenate(out).reshape(-1, pcm.shape[1])


def decode(data: bytes, response_format: str) -> tuple[np.ndarray, int]:
    """Decode `data` in `response_format` to float32 samples (n, channels) and the sample rate."""
    fmt = get_format(response_format)
    if not data:
        # No samples in, no bytes out (an MP3 without frames has no header either).
        return np.zeros((0, fmt.channels), dtype=np.float32), fmt.sample_rate
    frames: list[np.ndarray] = []
    try:
        with _open_for_reading(data, fmt) as container:
            stream = container.streams.audio[0]
            channels = stream.codec_context.layout.nb_channels or fmt.channels
            rate = stream.codec_context.sample_rate or fmt.sample_rate
            resampler = av.AudioResampler(format="flt", layout=_LAYOUTS.get(channels), rate=rate)
            for frame in container.decode(stream):
                frames.extend(f.to_ndarray() for f in resampler.resample(frame))
            frames.extend(f.to_ndarray() for f in resampler.resample(None))
    except av.FFmpegError as exc:
        raise CodecError(f"cannot decode {fmt.name}: {exc}") from exc
    if not frames:
        return np.zeros((0, channels), dtype=np.float32), rate
    packed = np.concatenate([f.reshape(-1) for f in frames])
    return packed.reshape(-1, channels).astype(np.float32, copy=False), rate


def transcode(data: bytes, *, src_format: str, dst_format: str) -> bytes:
    """Re-encode `data` from `src_format` to `dst_format`; the same bytes when they are equal."""
    get_format(dst_format)
    if src_format == dst_format:
        get_format(src_format)
        return data
    samples, rate = decode(data, src_format)
    return encode(samples, rate, dst_format)


def measure_duration_ms(data: bytes, response_format: str) -> int:
    """Return the decoded length of `data` in milliseconds."""
    fmt = get_format(response_format)
    if not data:
        return 0
    total = 0
    try:
        with _open_for_reading(data, fmt) as container:
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate or fmt.sample_rate
            # Decoding, not the header's estimate: the MP3 decoder drops the encoder delay and
            # padding recorded in the LAME tag, which is what a player will actually play.
            for frame in container.decode(stream):
                total += frame.samples
    except av.FFmpegError as exc:
        raise CodecError(f"cannot decode {fmt.name}: {exc}") from exc
    return round(total * 1000 / rate)


def _as_2d(samples: np.ndarray) -> np.ndarray:
    array = np.asarray(samples, dtype=np.float32)
    if array.ndim == 1:
        array = array[:, np.newaxis]
    if array.ndim != 2 or array.shape[1] not in _LAYOUTS:
        raise ValueError(f"expected samples of shape (n, 1) or (n, 2), got {array.shape}")
    return array


def _match_channels(pcm: np.ndarray, channels: int) -> np.ndarray:
    # Channel mixing is done here rather than in swresample because its stereo-to-mono matrix
    # (0.707 per side) can push in-phase material past full scale in float formats.
    if pcm.shape[1] == 2 and channels == 1:
        pcm = pcm.mean(axis=1, keepdims=True, dtype=np.float32)
    elif pcm.shape[1] == 1 and channels == 2:
        pcm = np.repeat(pcm, 2, axis=1)
    return np.ascontiguousarray(pcm, dtype=np.float32)


def _open_for_reading(data: bytes, fmt: AudioFormat) -> av.container.InputContainer:
    muxer, _ = _CODECS[fmt.kind]
    options = {}
    if fmt.kind != "mp3":
        # Raw samples carry no header, so the rate and layout come from the format.
        options = {"sample_rate": str(fmt.sample_rate), "ch_layout": _LAYOUTS[fmt.channels]}
    return av.open(io.BytesIO(data), "r", format=muxer, options=options)
