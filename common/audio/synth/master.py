"""Mastering: the mix brought to -14 LUFS integrated with its true peak at or below -1 dBTP.

Loudness is ITU-R BS.1770-4 integrated loudness (K-weighting as pyloudnorm designs it, 400 ms
blocks, absolute and relative gates). A look-ahead limiter then holds the sample peaks under a
ceiling a little below -1 dBFS, and the true peak (the peak of the 4x oversampled signal, as
BS.1770 defines it) is checked at every place where it could exceed the limit. What loudness
the limiter shaved off the transients is measured and given back in one more gain-and-limit pass.
"""

import functools

import numpy as np
import pyloudnorm
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import resample_poly, sosfilt

TARGET_LUFS = -14.0
TRUE_PEAK_LIMIT_DBTP = -1.0
_CEILING_DB = -2.0  # the limiter's sample ceiling, leaving 1 dB for inter-sample peaks
_TRUE_PEAK_TARGET_DBTP = -1.1  # where a mix whose true peak is over the limit is brought to
_RAMP_SECONDS = 0.008  # the limiter's gain moves over twice this, before and after a peak
_FADE_IN_SECONDS = 0.005
_OVERSAMPLING = 4
_CHECK_BLOCK = 512
_LIMIT_BLOCK = 32
_CHECK_MARGIN_DB = 2.0  # inter-sample peaks of this mix stay well within this of the samples
_CHECK_CONTEXT = 32  # samples either side of a checked block
_LOUDNESS_TOLERANCE = 0.1  # LU the limiter may take off before it is given back
_SILENCE_LUFS = -70.0  # BS.1770's absolute gate: nothing to normalise below it
_STEP_SECONDS = 0.1
_STEPS_PER_BLOCK = 4  # 400 ms gating blocks


def master(mix: np.ndarray, sample_rate: int, *, fade_out: float) -> np.ndarray:
    """Fade, normalise and limit planar stereo `mix` (2, n) in place; return it as (n, 2)."""
    _fade(mix, sample_rate, fade_out)
    weighted = _k_weighted(mix, sample_rate)
    loudness = _gated_loudness(weighted, sample_rate)
    if loudness > _SILENCE_LUFS:
        gain = np.float32(10 ** ((TARGET_LUFS - loudness) / 20))
        mix *= gain
        curve = _limit(mix, sample_rate)
        if curve is not None:
            # The limiter's gain moves slowly next to the K-weighting filters, so the limited
            # signal's weighted version is the weighted signal times the same gain curve.
            weighted *= curve * gain
            shortfall = TARGET_LUFS - _gated_loudness(weighted, sample_rate)
            if shortfall > _LOUDNESS_TOLERANCE:
                mix *= np.float32(10 ** (shortfall / 20))
                _limit(mix, sample_rate)
    else:
        _limit(mix, sample_rate)
    peak = true_peak_dbfs(mix, sample_rate)
    if peak > _TRUE_PEAK_TARGET_DBTP:
        # Rare: a transient whose inter-sample peak overshot by more than the ceiling allows.
        mix *= np.float32(10 ** ((_TRUE_PEAK_TARGET_DBTP - peak) / 20))
    return np.ascontiguousarray(mix.T)


def integrated_loudness(mix: np.ndarray, sample_rate: int) -> float:
    """BS.1770-4 integrated loudness of planar stereo (2, n) in LUFS (-inf when silent or
    shorter than one 400 ms block).

    pyloudnorm designs the K-weighting filters; they run here as one float32 second-order-section
    cascade over contiguous channels, and the gating is vectorised over 100 ms steps. That gives
    pyloudnorm's `Meter.integrated_loudness` to a hundredth of a LU (the tests hold it to that)
    in a quarter of its time, which matters when a 3-minute track has under 2 s for everything.
    """
    return _gated_loudness(_k_weighted(mix, sample_rate), sample_rate)


def _k_weighted(mix: np.ndarray, sample_rate: int) -> np.ndarray:
    return sosfilt(_k_weighting(sample_rate), mix, axis=1).astype(np.float32, copy=False)


def _gated_loudness(weighted: np.ndarray, sample_rate: int) -> float:
    hop = round(_STEP_SECONDS * sample_rate)
    steps = weighted.shape[1] // hop
    if steps < _STEPS_PER_BLOCK:
        return -np.inf
    squares = np.square(weighted[:, : steps * hop]).reshape(2, steps, hop)
    per_step = squares.sum(axis=2, dtype=np.float64).sum(axis=0)  # both channels weigh 1.0
    # Mean square of each 400 ms block, the blocks overlapping by 75 %.
    window = np.ones(_STEPS_PER_BLOCK)
    blocks = np.convolve(per_step, window, "valid") / (_STEPS_PER_BLOCK * hop)
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10 * np.log10(blocks)
    audible = block_lufs >= _SILENCE_LUFS
    if not audible.any():
        return -np.inf
    relative = -0.691 + 10 * np.log10(blocks[audible].mean()) - 10
    gated = blocks[audible & (block_lufs > relative)]
    return float(-0.691 + 10 * np.log10(gated.mean()))


@functools.cache
def _k_weighting(sample_rate: int) -> np.ndarray:
    # The two stages of BS.1770's K-weighting, as pyloudnorm's Meter builds them.
    shelf = pyloudnorm.IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, sample_rate, "high_shelf")
    high_pass = pyloudnorm.IIRfilter(0.0, 0.5, 38.0, sample_rate, "high_pass")
    stages = [np.concatenate([f.b, f.a]) for f in (shelf, high_pass)]
    return np.array(stages, dtype=np.float32)


def true_peak_dbfs(mix: np.ndarray, sample_rate: int) -> float:
    """The peak of the 4x oversampled signal, in dBFS, looked for near the highest samples.

    Blocks whose sample peak is within a margin of the loudest are oversampled together (each
    with a little context on both sides, so the interpolation filter sees what it needs);
    elsewhere an inter-sample peak would have to overshoot its samples by more than the margin.
    """
    block, context = _CHECK_BLOCK, _CHECK_CONTEXT
    frames = mix.shape[1] // block
    if frames < 1:
        return _db(float(np.abs(resample_poly(mix, _OVERSAMPLING, 1, axis=1)).max(initial=0.0)))
    peaks = _block_peaks(mix, block)[:frames]
    tail = mix[:, frames * block - context :]
    best = float(np.abs(resample_poly(tail, _OVERSAMPLING, 1, axis=1)).max())
    loud = np.flatnonzero(peaks >= float(peaks.max()) * 10 ** (-_CHECK_MARGIN_DB / 20))
    padded = np.pad(mix, ((0, 0), (context, context)))
    windows = np.stack([padded[:, i * block : (i + 1) * block + 2 * context] for i in loud], axis=1)
    upsampled = resample_poly(windows, _OVERSAMPLING, 1, axis=2)
    inner = upsampled[:, :, _OVERSAMPLING * context : _OVERSAMPLING * (context + block)]
    return _db(max(best, float(np.abs(inner).max())))


def _db(amplitude: float) -> float:
    return 20 * float(np.log10(max(amplitude, 1e-12)))


def _limit(mix: np.ndarray, sample_rate: int) -> np.ndarray | None:
    """Hold sample peaks under the ceiling; return the gain curve applied (None: none needed).

    The gain is worked out per block of 32 samples (each block's need is set by its highest
    sample), spread by a sliding minimum one block wider than the moving average that then
    smooths it: every average near a peak's block contains only minima that include that
    block, so the gain interpolated between neighbouring blocks never exceeds what the peak
    needs.
    """
    ceiling = np.float32(10 ** (_CEILING_DB / 20))
    block = _LIMIT_BLOCK
    length = mix.shape[1]
    peaks = _block_peaks(mix, block)
    if float(peaks.max(initial=0.0)) <= ceiling:
        return None
    need = np.minimum(np.float32(1), ceiling / np.maximum(peaks, np.float32(1e-9)))
    radius = max(1, round(_RAMP_SECONDS * sample_rate / block))
    gain = uniform_filter1d(minimum_filter1d(need, 2 * radius + 3), 2 * radius + 1)
    # The average can come out a rounding error above the minimum it averages.
    np.minimum(gain, need, out=gain)
    # Each block's gain holds at its first sample and moves in a straight line to the next's.
    following = np.append(gain[1:], gain[-1])
    ramp = np.arange(block, dtype=np.float32) / np.float32(block)
    curve = (gain[:, None] + (following - gain)[:, None] * ramp[None, :]).reshape(-1)
    mix *= curve[:length]
    return curve[:length]


def _block_peaks(mix: np.ndarray, block: int) -> np.ndarray:
    """The highest magnitude in each block of `block` samples, over both channels (the last
    block may be short)."""
    whole = mix.shape[1] // block
    halves = np.abs(mix[:, : whole * block]).reshape(2, whole, block)
    # Pairwise maxima, halving the block each time: far faster than a reduction along short
    # rows. `block` is a power of two.
    while halves.shape[2] > 1:
        halves = np.maximum(halves[:, :, ::2], halves[:, :, 1::2])
    peaks = halves[:, :, 0].max(axis=0)
    if whole * block < mix.shape[1]:
        peaks = np.append(peaks, np.abs(mix[:, whole * block :]).max())
    return peaks


def _fade(mix: np.ndarray, sample_rate: int, fade_out: float) -> None:
    length = mix.shape[1]
    fade_in = min(int(_FADE_IN_SECONDS * sample_rate), length)
    curve = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade_in) / max(fade_in, 1))
    mix[:, :fade_in] *= curve.astype(np.float32)
    fade = min(int(fade_out * sample_rate), length)
    if fade:
        curve = 0.5 + 0.5 * np.cos(np.pi * np.arange(1, fade + 1) / fade)
        mix[:, -fade:] *= curve.astype(np.float32)
