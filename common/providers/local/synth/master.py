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
from scipy.ndimage import maximum_filter1d, minimum_filter1d, uniform_filter1d
from scipy.signal import resample_poly, sosfilt

TARGET_LUFS = -14.0
TRUE_PEAK_LIMIT_DBTP = -1.0
_CEILING_DB = -2.0  # the limiter's sample ceiling, leaving 1 dB for inter-sample peaks
_TRUE_PEAK_TARGET_DBTP = -1.1  # where a mix whose true peak is over the limit is brought to
_RAMP_SECONDS = 0.008  # the limiter's gain moves over twice this, before and after a peak
_FADE_IN_SECONDS = 0.005
_OVERSAMPLING = 4
_BLOCK = 32  # samples: the limiter's gain is set per block, and the true peak checked per block
_CHECK_MARGIN_DB = 2.0  # inter-sample peaks of this mix stay well within this of the samples
_REACH = 10  # samples either side that resample_poly's 4x interpolation filter spans
_CHECK_COLUMNS = 4096  # columns (each a window's channel) oversampled at a time
_STRETCH = 1 << 15  # samples per channel that block peaks are worked out on at a time
_LOUDNESS_TOLERANCE = 0.1  # LU the limiter may take off before it is given back
_SILENCE_LUFS = -70.0  # BS.1770's absolute gate: nothing to normalise below it
_STEP_SECONDS = 0.1
_STEPS_PER_BLOCK = 4  # 400 ms gating blocks


def master(mix: np.ndarray, sample_rate: int, *, fade_out: float) -> np.ndarray:
    """Fade planar stereo `mix` (2, n) in place; return it normalised and limited as (n, 2).

    A 3-minute mix is 16 million samples, so the passes over all of them are few: the block
    peaks, the K-weighting, and one that applies the gain while it interleaves the channels
    into the output. Everything the limiter decides, it decides on block peaks; it then
    touches only the blocks it turns down, a few per cent of them. Its effect on the loudness
    is worked out from the weighted samples of those blocks alone.
    """
    _fade(mix, sample_rate, fade_out)
    peaks = _block_peaks(mix, _BLOCK)
    hop = round(_STEP_SECONDS * sample_rate)
    weighted = _k_weighted(mix, sample_rate)
    energy = _step_energy(weighted, hop)
    loudness = _gated_loudness(energy, hop)
    gain = 1.0
    if loudness > _SILENCE_LUFS:
        gain = 10 ** ((TARGET_LUFS - loudness) / 20)
    # Rounding is monotonic, so the peaks of the scaled samples are the scaled peaks.
    first = _limiter(peaks * np.float32(gain), sample_rate)
    again = False
    if first is not None and loudness > _SILENCE_LUFS:
        # The limiter's gain moves slowly next to the K-weighting filters, so the limited
        # signal's weighted version is the weighted signal times the same gain curve.
        energy += _energy_change(weighted, *first, hop, len(energy))
        shortfall = TARGET_LUFS - _gated_loudness(energy * gain**2, hop)
        if shortfall > _LOUDNESS_TOLERANCE:
            gain *= 10 ** (shortfall / 20)
            again = True
    # The output takes the weighted signal's memory: it is done with, and a fresh array (64 MB
    # for 3 minutes) would cost more in page faults than the copy into it.
    frames = weighted.reshape(-1, 2)
    scale = np.float32(gain)
    for channel in range(2):
        np.multiply(mix[channel], scale, out=frames[:, channel])
    peaks *= scale
    if first is not None:
        _apply(frames, peaks, *first)
        if again:
            second = _limiter(peaks, sample_rate)
            if second is not None:
                _apply(frames, peaks, *second)
    peak = _true_peak(frames, peaks)
    if peak > _TRUE_PEAK_TARGET_DBTP:
        # Rare: a transient whose inter-sample peak overshot by more than the ceiling allows.
        frames *= np.float32(10 ** ((_TRUE_PEAK_TARGET_DBTP - peak) / 20))
    return frames


def integrated_loudness(mix: np.ndarray, sample_rate: int) -> float:
    """BS.1770-4 integrated loudness of planar stereo (2, n) in LUFS (-inf when silent or
    shorter than one 400 ms block).

    pyloudnorm designs the K-weighting filters; they run here as one float32 second-order-section
    cascade over contiguous channels, and the gating is vectorised over 100 ms steps. That gives
    pyloudnorm's `Meter.integrated_loudness` to a hundredth of a LU (the tests hold it to that)
    in a quarter of its time, which matters when a 3-minute track has under 2 s for everything.
    """
    hop = round(_STEP_SECONDS * sample_rate)
    return _gated_loudness(_step_energy(_k_weighted(mix, sample_rate), hop), hop)


def _k_weighted(mix: np.ndarray, sample_rate: int) -> np.ndarray:
    return sosfilt(_k_weighting(sample_rate), mix, axis=1).astype(np.float32, copy=False)


def _step_energy(weighted: np.ndarray, hop: int) -> np.ndarray:
    """The energy of both channels (both weigh 1.0) in each whole step of `hop` samples."""
    steps = weighted.shape[1] // hop
    per_step = weighted[:, : steps * hop].reshape(2, steps, hop)
    # Squared and summed in one pass, the squares never stored; float32 sums of a step's
    # squares are good to a millionth.
    return np.einsum("csh,csh->s", per_step, per_step).astype(np.float64)


def _gated_loudness(energy: np.ndarray, hop: int) -> float:
    if len(energy) < _STEPS_PER_BLOCK:
        return -np.inf
    # Mean square of each 400 ms block, the blocks overlapping by 75 %.
    window = np.ones(_STEPS_PER_BLOCK)
    blocks = np.convolve(energy, window, "valid") / (_STEPS_PER_BLOCK * hop)
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10 * np.log10(blocks)
    audible = block_lufs >= _SILENCE_LUFS
    if not audible.any():
        return -np.inf
    relative = -0.691 + 10 * np.log10(blocks[audible].mean()) - 10
    gated = blocks[audible & (block_lufs > relative)]
    return float(-0.691 + 10 * np.log10(gated.mean()))


def _energy_change(
    weighted: np.ndarray, where: np.ndarray, curve: np.ndarray, hop: int, steps: int
) -> np.ndarray:
    """How much the weighted energy of each step changes when the blocks at `where` are scaled
    by `curve` (one row of gains per block)."""
    samples = (where[:, np.newaxis] * _BLOCK + np.arange(_BLOCK)).reshape(-1)
    change = np.square(curve).reshape(-1) - np.float32(1)
    inside = samples < steps * hop
    samples, change = samples[inside], change[inside]
    power = np.square(np.take(weighted[0], samples)) + np.square(np.take(weighted[1], samples))
    return np.bincount(samples // hop, weights=power * change, minlength=steps)


@functools.cache
def _k_weighting(sample_rate: int) -> np.ndarray:
    # The two stages of BS.1770's K-weighting, as pyloudnorm's Meter builds them.
    shelf = pyloudnorm.IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, sample_rate, "high_shelf")
    high_pass = pyloudnorm.IIRfilter(0.0, 0.5, 38.0, sample_rate, "high_pass")
    stages = [np.concatenate([f.b, f.a]) for f in (shelf, high_pass)]
    return np.array(stages, dtype=np.float32)


def true_peak_dbfs(mix: np.ndarray, sample_rate: int) -> float:
    """The peak of the 4x oversampled planar stereo `mix` (2, n), in dBFS, looked for near the
    highest samples."""
    frames = np.ascontiguousarray(mix.T, dtype=np.float32)
    return _true_peak(frames, _block_peaks(mix, _BLOCK))


def _true_peak(frames: np.ndarray, peaks: np.ndarray) -> float:
    """The true peak of contiguous `frames` (n, 2) in dBFS, given the highest magnitude in each
    block.

    Blocks within a margin of the loudest, or next to one (the filter reaches across a block's
    edge), are oversampled, each with the samples either side that the filter reaches (zeros
    beyond the ends, as when the whole signal is oversampled); elsewhere an inter-sample peak
    would have to overshoot its samples by more than the margin. On the synthesiser's corpus
    the highest peak left unchecked is almost 2 dB under the true peak, with a twentieth of
    the blocks checked. The filter is scipy's `resample_poly`'s, applied phase by phase and tap
    by tap to many windows at once: they are laid out (time, window) so that each tap is one
    multiply-add over a slice, many times faster than `resample_poly` on short windows.
    """
    loudest = float(peaks.max(initial=0.0))
    if not loudest:
        return _db(0.0)
    block, reach, length = _BLOCK, _REACH, len(frames)
    near = maximum_filter1d(peaks, 3)
    loud = np.flatnonzero(near >= loudest * 10 ** (-_CHECK_MARGIN_DB / 20))
    index = np.arange(-reach, block + reach)[:, np.newaxis] + loud * block
    # Each frame as one complex64 (left, right): gathering single items is far faster than
    # gathering rows.
    windows = np.take(frames.view(np.complex64).reshape(-1), np.clip(index, 0, length - 1))
    windows[(index < 0) | (index >= length)] = 0
    windows = windows.view(np.float32)
    highest = 0.0
    # A few thousand windows at a time, so that the work stays in the cache.
    for first in range(0, windows.shape[1], _CHECK_COLUMNS):
        part = windows[:, first : first + _CHECK_COLUMNS]
        upsampled = np.empty((block, part.shape[1]), dtype=np.float32)
        term = np.empty_like(upsampled)
        for taps in _interpolator():
            # Oversampled output 4m + phase is the sum over j of taps[j] * x[m + reach - j].
            upsampled.fill(0)
            for j in np.flatnonzero(taps):
                start = 2 * reach - j
                upsampled += np.multiply(part[start : start + block], taps[j], out=term)
            highest = max(highest, float(np.abs(upsampled, out=term).max()))
    return _db(highest)


@functools.cache
def _interpolator() -> np.ndarray:
    """The taps of `resample_poly`'s 4x interpolation filter, (phase, 2 * _REACH + 1), as float32:
    read off its response to an impulse, so they are exactly the ones it uses. Taps under
    1e-9 (the window leaves the sinc's zeros at 1e-17 or so) are set to zero and skipped: next
    to the others they cannot change a float32 sum, and they are a quarter of the work."""
    impulse = np.zeros(2 * _REACH + 1)
    impulse[_REACH] = 1.0
    response = resample_poly(impulse, _OVERSAMPLING, 1)
    response[np.abs(response) < 1e-9] = 0.0
    return response.reshape(-1, _OVERSAMPLING).T.astype(np.float32)


def _db(amplitude: float) -> float:
    return 20 * float(np.log10(max(amplitude, 1e-12)))


def _limiter(peaks: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Where to hold sample peaks under the ceiling, given the peak of each block: the indices
    of the blocks to turn down and each one's gain, sample by sample (None: none needed).

    The gain is worked out per block (each block's need is set by its highest sample), spread
    by a sliding minimum one block wider than the moving average that then smooths it: every
    average near a peak's block contains only minima that include that block, so the gain
    interpolated between neighbouring blocks never exceeds what the peak needs.
    """
    ceiling = np.float32(10 ** (_CEILING_DB / 20))
    if float(peaks.max(initial=0.0)) <= ceiling:
        return None
    need = np.minimum(np.float32(1), ceiling / np.maximum(peaks, np.float32(1e-9)))
    radius = max(1, round(_RAMP_SECONDS * sample_rate / _BLOCK))
    gain = uniform_filter1d(minimum_filter1d(need, 2 * radius + 3), 2 * radius + 1)
    # The average can come out a rounding error above the minimum it averages.
    np.minimum(gain, need, out=gain)
    # Each block's gain holds at its first sample and moves in a straight line to the next's;
    # only blocks where either is below 1 change at all.
    following = np.append(gain[1:], gain[-1])
    where = np.flatnonzero((gain < 1) | (following < 1))
    ramp = np.arange(_BLOCK, dtype=np.float32) / np.float32(_BLOCK)
    start = gain[where]
    return where, start[:, np.newaxis] + (following[where] - start)[:, np.newaxis] * ramp


def _apply(frames: np.ndarray, peaks: np.ndarray, where: np.ndarray, curve: np.ndarray) -> None:
    """Scale the blocks of `frames` (n, 2) at `where` by `curve` (a row of gains per block),
    keeping `peaks` up to date."""
    whole = len(frames) // _BLOCK
    blocks = frames[: whole * _BLOCK].reshape(whole, _BLOCK, 2)
    inside = where < whole
    turned = blocks[where[inside]] * curve[inside, :, np.newaxis]
    blocks[where[inside]] = turned
    peaks[where[inside]] = np.abs(turned).max(axis=(1, 2))
    if not inside.all():
        # The last block, which is short.
        tail = frames[whole * _BLOCK :]
        tail *= curve[-1, : len(tail), np.newaxis]
        peaks[-1] = np.abs(tail).max()


def _block_peaks(mix: np.ndarray, block: int) -> np.ndarray:
    """The highest magnitude in each block of `block` samples, over both channels (the last
    block may be short)."""
    length = mix.shape[1]
    whole = length // block * block
    peaks = np.empty(-(-length // block), dtype=np.float32)
    # A stretch at a time, in two buffers that stay in the cache: the louder channel, then
    # pairwise maxima halving the block each time, far faster than a reduction along short
    # rows. `block` is a power of two.
    stretch = max(block, min(_STRETCH, whole))
    buffers = np.empty((2, stretch), dtype=np.float32)
    for first in range(0, whole, stretch):
        last = min(first + stretch, whole)
        size = last - first
        louder = np.abs(mix[0, first:last], out=buffers[0, :size])
        np.maximum(louder, np.abs(mix[1, first:last], out=buffers[1, :size]), out=louder)
        for level in range(1, block.bit_length()):
            size //= 2
            louder = np.maximum(louder[0::2], louder[1::2], out=buffers[level % 2, :size])
        peaks[first // block : last // block] = louder
    if whole < length:
        peaks[-1] = np.abs(mix[:, whole:]).max()
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
