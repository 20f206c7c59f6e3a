"""Playing a score: every note placed in the stereo field, with echo and a room around it.

Notes are added straight into one planar stereo buffer (the fewer big arrays, the faster: at
these sizes fresh memory costs more than the arithmetic). Each voice has a level, a pan, an
optional Haas spread (the far side a few milliseconds late: width without moving off centre), a
ping-pong echo for the lead, and a send to a convolution reverb. The reverb runs at an eighth of
the sample rate: a diffuse, darkening tail needs little above 2.7 kHz, and it costs a fraction.
Its send is built at that rate too: a note goes in already averaged over blocks of eight
samples, which a piece's few distinct waveforms make nearly free (see `_averaged`).
"""

import functools
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.fft import irfft, rfft

from common.providers.local.synth.drums import DRUMS, render_drum
from common.providers.local.synth.score import Score
from common.providers.local.synth.voices import render_note

_REVERB_DECIMATION = 8
_REVERB_SECONDS = 1.8  # long enough for the longest tail (ambient), cut off by its envelope
_REVERB_TRANSFORM = 1 << 16  # samples per transform in the reverb's convolution (> 2x taps)
_REVERB_STRETCH = 16384  # frames interpolated at a time: the buffer stays in the cache
_ECHO_TAPS = 3
_ECHO_FEEDBACK = 0.35


@dataclass(frozen=True)
class _Placement:
    """Where a voice sits: its level, its pan, its width, its echo and its reverb send."""

    gain: float
    pan: float  # -1 left .. 1 right, constant-power
    spread: float = 0.0  # seconds by which the far side lags
    send: float = 0.0
    echo: float = 0.0

    @functools.cached_property
    def sides(self) -> tuple[float, float]:
        """The left and right channels' gains, constant-power."""
        angle = (self.pan + 1) * np.pi / 4
        return float(np.cos(angle)), float(np.sin(angle))


_PLACEMENTS: dict[str, _Placement] = {
    "kick": _Placement(0.85, 0.0),
    "snare": _Placement(2.2, 0.05, send=0.3),
    "clap": _Placement(2.0, -0.05, send=0.3),
    "hat": _Placement(0.25, 0.35),
    "open_hat": _Placement(0.2, 0.35, send=0.1),
    "ride": _Placement(0.24, -0.35, send=0.15),
    "crash": _Placement(0.2, -0.3, send=0.2),
    "tom": _Placement(0.36, 0.0, spread=0.004, send=0.45),
    "shaker": _Placement(0.24, 0.45, send=0.15),
    "bass_finger": _Placement(0.5, 0.0),
    "bass_pick": _Placement(0.42, 0.0),
    "bass_round": _Placement(0.55, 0.0),
    "bass_808": _Placement(0.5, 0.0),
    "bass_upright": _Placement(0.55, 0.0, send=0.1),
    "bass_saw": _Placement(0.38, 0.0),
    "bass_sub": _Placement(0.4, 0.0, send=0.2),
    "bass_strings": _Placement(0.35, -0.1, spread=0.008, send=0.4),
    "piano": _Placement(0.2, -0.1, spread=0.006, send=0.45),
    "epiano": _Placement(0.16, -0.2, spread=0.01, send=0.4),
    "bell": _Placement(0.156, 0.25, spread=0.008, send=0.5),
    "glass": _Placement(0.07, 0.3, spread=0.011, send=0.7),
    "pluck": _Placement(0.165, 0.2, spread=0.009, send=0.4),
    "supersaw": _Placement(0.175, 0.0, spread=0.013, send=0.35),
    "pad_warm": _Placement(0.08, 0.0, spread=0.017, send=0.5),
    "pad_bright": _Placement(0.055, 0.0, spread=0.017, send=0.5),
    "pad_air": _Placement(0.07, 0.0, spread=0.02, send=0.8),
    "strings": _Placement(0.09, -0.15, spread=0.014, send=0.55),
    "strings_lead": _Placement(0.234, 0.1, spread=0.006, send=0.45, echo=0.1),
    "strings_short": _Placement(0.09, 0.25, spread=0.008, send=0.4),
    "brass": _Placement(0.14, 0.15, spread=0.01, send=0.5),
    "guitar_acoustic": _Placement(0.13, -0.25, spread=0.012, send=0.3),
    "guitar_drive": _Placement(0.213, 0.0, spread=0.016, send=0.15),
    "guitar_lead": _Placement(0.195, 0.15, send=0.3, echo=0.2),
    "sax": _Placement(0.26, 0.1, send=0.4, echo=0.1),
    "whistle": _Placement(0.195, 0.1, send=0.4, echo=0.15),
    "voice": _Placement(0.51, 0.0, send=0.35, echo=0.2),
    "harmony": _Placement(0.182, 0.35, spread=0.01, send=0.45, echo=0.2),
}


class _Struck(NamedTuple):
    """One note ready to place: its waveform, its velocity, and the key that the waveform (and
    its versions at the reverb's rate) is cached by."""

    key: tuple[object, ...]
    wave: np.ndarray
    velocity: float


def render(score: Score) -> np.ndarray:
    """Render `score` to float32 planar stereo of shape (2, length_samples), before mastering.

    The notes that one voice starts together (a chord, a strum) are summed in a small buffer
    and placed as one: a strummed guitar's chords then cost a quarter of the adds into the big
    buffers, where most of the time goes.
    """
    sr = score.sample_rate
    length = score.length_samples
    q = _REVERB_DECIMATION
    mix = np.zeros((2, length), dtype=np.float32)
    send = np.zeros(length // q, dtype=np.float32)
    # Ping-pong echo at a dotted eighth: repeats alternate right and left, each one quieter.
    echo_step = max(1, round(score.bar_seconds * 3 / 16 * sr))
    chords = _chords(score)
    longest = max((len(n.wave) for notes in chords.values() for n in notes), default=0)
    scratch = np.empty(longest, dtype=np.float32)
    summed = np.empty(longest, dtype=np.float32)
    averaged: dict[tuple[object, ...], np.ndarray] = {}
    for (voice, start), notes in chords.items():
        place = _PLACEMENTS[voice]
        if len(notes) == 1:
            wave, level = notes[0].wave, notes[0].velocity * place.gain
        else:
            wave, level = summed[: max(len(n.wave) for n in notes)], place.gain
            wave.fill(0)
            for note in notes:
                _add(wave, 0, note.wave, note.velocity, scratch)
        left, right = place.sides
        _add(mix[0], start, wave, level * left, scratch)
        _add(mix[1], start + round(place.spread * sr), wave, level * right, scratch)
        for tap in range(1, _ECHO_TAPS + 1 if place.echo else 1):
            repeat = level * place.echo * _ECHO_FEEDBACK ** (tap - 1)
            _add(mix[tap % 2], start + tap * echo_step, wave, repeat, scratch)
        if place.send:
            for note in notes:
                offset = (*note.key, start % q)
                if offset not in averaged:
                    averaged[offset] = _averaged(note.wave, start % q, q)
                sent = note.velocity * place.gain * place.send
                _add(send, start // q, averaged[offset], sent, scratch)
    _add_reverb(mix, send, score.style.genre.reverb)
    return mix


def _chords(score: Score) -> dict[tuple[str, int], list[_Struck]]:
    """Every note that starts within the piece, grouped by voice and starting sample, in the
    score's order."""
    sr = score.sample_rate
    kit = score.style.genre.kit or "pop"
    waves: dict[tuple[object, ...], np.ndarray] = {}
    chords: dict[tuple[str, int], list[_Struck]] = {}
    for note in score.notes:
        start = round(note.start * sr)
        if start >= score.length_samples:
            continue
        key: tuple[object, ...]
        if note.voice in DRUMS:
            key = (note.voice,)
            if key not in waves:
                waves[key] = render_drum(kit, note.voice, score.style.tonic)
        else:
            held = max(1, round(note.duration * sr))
            key = (note.voice, note.pitch, held, note.vowel)
            if key not in waves:
                instrument = "voice" if note.voice == "harmony" else note.voice
                waves[key] = render_note(instrument, note.pitch, held, note.vowel)
        chords.setdefault((note.voice, start), []).append(_Struck(key, waves[key], note.velocity))
    return chords


def _add(bus: np.ndarray, start: int, wave: np.ndarray, level: float, scratch: np.ndarray) -> None:
    # The scaled wave goes through `scratch`: a fresh array for each of some 20,000 adds
    # costs more than the multiplication itself.
    count = min(len(wave), len(bus) - start)
    if count > 0:
        target = bus[start : start + count]
        target += np.multiply(wave[:count], np.float32(level), out=scratch[:count])


def _averaged(wave: np.ndarray, offset: int, q: int) -> np.ndarray:
    """`wave` as the reverb's send sees it when it starts `offset` samples into a block of `q`:
    the mean of each block. A piece has a few dozen distinct waveforms, each a few thousand
    times, so this is worked out once per waveform and offset."""
    sums = np.zeros(-(-(offset + len(wave)) // q) * q, dtype=np.float32)
    sums[offset : offset + len(wave)] = wave
    # Pairwise sums, halving the block each time (q is a power of two): several times faster
    # than a mean along rows of eight.
    for _ in range(q.bit_length() - 1):
        sums = sums[0::2] + sums[1::2]
    return sums * np.float32(1 / q)


def _add_reverb(mix: np.ndarray, send: np.ndarray, amount: float) -> None:
    """Add the send (at an eighth of the rate) through a stereo room: convolve, interpolate
    back up."""
    q = _REVERB_DECIMATION
    frames = len(send)
    if not frames or not amount:
        return
    # One frame more than the send, silent: where the last frame's interpolation heads.
    wet = np.zeros((2, frames + 1), dtype=np.float32)
    np.multiply(_through_room(send, q), np.float32(amount), out=wet[:, :frames])
    # Linear interpolation back to the full rate; its images of the tail sit more than 25 dB
    # under it. It is built a stretch at a time, phase by phase in small buffers, and added
    # to the mix in one contiguous pass: striding through the whole mix once per phase
    # would cost twice as much.
    ramp = (np.arange(q, dtype=np.float32) / np.float32(q))[:, np.newaxis]
    stretch = min(frames, _REVERB_STRETCH)
    rises = np.empty(stretch, dtype=np.float32)
    buffer = np.empty((q, stretch), dtype=np.float32)
    for channel in range(2):
        full = mix[channel, : frames * q].reshape(frames, q)
        for first in range(0, frames, stretch):
            last = min(first + stretch, frames)
            here, rise = wet[channel, first:last], rises[: last - first]
            np.subtract(wet[channel, first + 1 : last + 1], here, out=rise)
            phases = np.multiply(ramp, rise, out=buffer[:, : last - first])
            phases += here
            full[first:last] += phases.T


def _through_room(send: np.ndarray, q: int) -> np.ndarray:
    """`send` convolved with both of the room's impulse responses, cut to its length: (2, n).

    Overlap-add, in float32 transforms of a fixed size a few times the responses' length (for
    this convolution scipy's `oaconvolve` picks transforms twice as long, and takes half as
    long again); each block of the send is transformed once for both responses.
    """
    taps = _room(q).shape[1]
    step = _REVERB_TRANSFORM - taps + 1
    frames = len(send)
    blocks = -(-frames // step)
    padded = np.zeros(blocks * step, dtype=np.float32)
    padded[:frames] = send
    spectrum = rfft(padded.reshape(blocks, step), _REVERB_TRANSFORM, axis=1)
    wet = np.zeros((2, (blocks + 1) * step), dtype=np.float32)
    for channel, response in enumerate(_room_spectra(q)):
        pieces = irfft(spectrum * response, _REVERB_TRANSFORM, axis=1)
        # A block's first `step` samples are its own; the rest rings on into the next block.
        wet[channel, : blocks * step].reshape(blocks, step)[:] = pieces[:, :step]
        wet[channel, step:].reshape(blocks, step)[:, : taps - 1] += pieces[:, step:]
    return wet[:, :frames]


@functools.cache
def _room_spectra(q: int) -> np.ndarray:
    """The room's impulse responses transformed as `_through_room` needs them, once."""
    return rfft(_room(q), _REVERB_TRANSFORM, axis=1)


@functools.cache
def _room(q: int) -> np.ndarray:
    """Two decorrelated impulse responses of a medium room, (2, taps): pre-delay, then a
    darkening tail."""
    rate = 44100 / q
    t = np.arange(int(_REVERB_SECONDS * rate)) / rate
    responses = []
    for seed in (21, 22):
        rng = np.random.default_rng(seed)
        noise = rng.standard_normal(len(t))
        dull = np.convolve(noise, np.ones(4) / 4, "same")
        # High frequencies die faster than low ones, as in a real room.
        tail = noise * np.exp(-t / 0.12) + dull * np.exp(-t / 0.32)
        tail[t < 0.018] = 0.0
        tail *= np.clip((t - 0.018) / 0.01, 0, 1)
        tail[-int(0.05 * rate) :] *= np.linspace(1, 0, int(0.05 * rate))
        responses.append((tail / np.sqrt(np.sum(tail**2))).astype(np.float32))
    return np.stack(responses)
