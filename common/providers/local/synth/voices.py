"""The pitched instruments: each turns one note into a mono waveform with smooth edges.

An instrument is a recipe rather than a bare oscillator: two band-limited spectra (a steady one
and a bright one that dies away after the attack, which is how a plucked or struck string's
filter closes), an amplitude envelope, and optionally a detuned second layer, vibrato, a pitch
glide, saturation, a noise burst at the onset, or two-operator FM for bells and electric pianos.
Oscillators read single-cycle wavetables with a 32-bit phase accumulator, so a note costs the
same few array operations however many harmonics its spectrum has (the reads are `np.take`,
the same gather as indexing with an array, done faster).
"""

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from common.providers.local.synth.score import SAMPLE_RATE

SR = SAMPLE_RATE
_TABLE_BITS = 12
_TABLE = 1 << _TABLE_BITS
_SHIFT = np.uint32(32 - _TABLE_BITS)
# Highest partial. Keeping the whole mix below ~13 kHz keeps inter-sample peaks small, so the
# limiter's sample ceiling and the true peak stay close.
_CEILING_HZ = 12000.0
# Formants (Hz, relative level) of sung vowels; the voice's harmonics are weighted by them.
FORMANTS = {
    "a": ((800, 1.0), (1200, 0.6), (2800, 0.15)),
    "e": ((450, 1.0), (1900, 0.5), (2600, 0.2)),
    "i": ((300, 1.0), (2300, 0.4), (3000, 0.2)),
    "o": ((500, 1.0), (850, 0.6), (2600, 0.1)),
    "u": ((330, 1.0), (750, 0.4), (2400, 0.05)),
}
_SAX = ((700, 1.0), (1500, 0.7), (2700, 0.25))


@dataclass(frozen=True)
class Instrument:
    """A recipe for one instrument's notes."""

    tilt: float  # steady spectrum: harmonic k has weight 1 / k**tilt
    bright: float  # level of the bright layer (harmonics with 1 / k**0.8) at the attack
    brightness: float  # seconds in which the bright layer dies away
    attack: float
    decay: float  # seconds; time constant of the fall to `sustain`
    sustain: float
    release: float
    harmonics: int = 16
    odd: float = 1.0  # weight of the even harmonics relative to the odd (0.3: hollow, clarinet)
    detune: float = 0.0  # cents of a second, detuned layer (0: none)
    vibrato: float = 0.0  # depth in semitones, fading in after the onset
    drive: float = 0.0  # tanh saturation
    noise: float = 0.0  # level of a short noise burst at the onset (pick, breath, hammer)
    glide: float = 0.0  # semitones the pitch falls from at the onset
    sub: float = 0.0  # level of a sine an octave below
    fm: tuple[float, float, float] = (0.0, 0.0, 0.0)  # modulator ratio, index at onset, at rest
    formants: tuple[tuple[int, float], ...] = ()
    key_decay: bool = False  # higher notes die away sooner, as on a piano


def _i(
    tilt: float,
    bright: float,
    brightness: float,
    attack: float,
    decay: float,
    sustain: float,
    release: float,
    **extra: Any,
) -> Instrument:
    # Positional, so that the table below reads as a table.
    return Instrument(tilt, bright, brightness, attack, decay, sustain, release, **extra)


INSTRUMENTS: dict[str, Instrument] = {
    "piano": _i(1.6, 1.0, 0.12, 0.002, 0.9, 0.08, 0.18, detune=2.5, noise=0.05, key_decay=True),
    "epiano": _i(1.0, 0.0, 0.0, 0.003, 1.2, 0.25, 0.15, fm=(1.0, 1.6, 0.25)),
    "bell": _i(1.0, 0.0, 0.0, 0.002, 1.1, 0.0, 0.4, fm=(3.0, 2.2, 0.2)),
    "glass": _i(1.0, 0.0, 0.0, 0.004, 0.9, 0.0, 0.5, fm=(2.0, 1.2, 0.1)),
    "pluck": _i(1.4, 1.2, 0.07, 0.002, 0.3, 0.05, 0.1),
    "supersaw": _i(1.05, 0.4, 0.2, 0.008, 1.5, 0.7, 0.22, harmonics=24, detune=14.0),
    "pad_warm": _i(2.2, 0.0, 0.0, 0.35, 3.0, 0.9, 0.6, harmonics=8, detune=8.0),
    "pad_bright": _i(1.3, 0.0, 0.0, 0.3, 3.0, 0.9, 0.5, harmonics=18, detune=11.0),
    "pad_air": _i(2.8, 0.0, 0.0, 0.9, 4.0, 0.9, 1.0, harmonics=6, detune=6.0),
    "strings": _i(1.25, 0.0, 0.0, 0.22, 3.0, 0.9, 0.35, harmonics=20, detune=9.0, vibrato=0.1),
    "strings_lead": _i(1.2, 0.2, 0.3, 0.06, 3.0, 0.85, 0.25, harmonics=20, vibrato=0.14),
    "strings_short": _i(1.3, 0.6, 0.05, 0.004, 0.12, 0.0, 0.05, harmonics=20),
    "brass": _i(1.0, 0.0, 0.0, 0.07, 2.0, 0.8, 0.2, harmonics=20, drive=1.6, detune=5.0),
    "guitar_acoustic": _i(1.5, 1.3, 0.1, 0.001, 0.7, 0.05, 0.08, noise=0.25, key_decay=True),
    "guitar_drive": _i(1.5, 0.0, 0.0, 0.004, 2.0, 0.7, 0.06, harmonics=8, drive=1.6, detune=7.0),
    "guitar_lead": _i(1.7, 0.3, 0.2, 0.01, 2.0, 0.8, 0.1, harmonics=8, drive=1.5, vibrato=0.2),
    "sax": _i(0.8, 0.3, 0.15, 0.035, 2.0, 0.75, 0.08, harmonics=20, vibrato=0.12, formants=_SAX),
    "whistle": _i(3.0, 0.0, 0.0, 0.05, 2.0, 0.85, 0.1, harmonics=4, vibrato=0.1, noise=0.05),
    "voice": _i(1.0, 0.0, 0.0, 0.03, 1.5, 0.75, 0.08, harmonics=24, vibrato=0.15),
    "bass_finger": _i(1.8, 0.8, 0.09, 0.004, 0.7, 0.45, 0.05, harmonics=10),
    "bass_pick": _i(1.4, 1.0, 0.06, 0.002, 0.6, 0.5, 0.04, harmonics=12, drive=1.2),
    "bass_round": _i(2.6, 0.3, 0.06, 0.008, 0.9, 0.4, 0.06, harmonics=6),
    "bass_808": _i(6.0, 0.0, 0.0, 0.002, 1.2, 0.45, 0.08, harmonics=2, drive=1.5, glide=2.0),
    "bass_upright": _i(1.9, 0.8, 0.05, 0.004, 0.45, 0.15, 0.06, harmonics=8, noise=0.08),
    "bass_saw": _i(1.0, 1.4, 0.08, 0.003, 0.5, 0.55, 0.05, harmonics=14, sub=0.6),
    "bass_sub": _i(4.0, 0.0, 0.0, 0.4, 4.0, 0.9, 0.8, harmonics=3),
    "bass_strings": _i(1.4, 0.0, 0.0, 0.05, 3.0, 0.9, 0.2, harmonics=16, detune=6.0),
}


def midi_hz(pitch: float) -> float:
    """Frequency of a MIDI note number."""
    return 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)


def release_seconds(instrument: str) -> float:
    """How long a note of `instrument` rings on after it is let go."""
    return INSTRUMENTS[instrument].release


def render_note(instrument: str, pitch: float, samples: int, vowel: str = "") -> np.ndarray:
    """Return one note held for `samples`, release included, as float32 from 0 back to 0."""
    spec = INSTRUMENTS[instrument]
    release = int(spec.release * SR)
    total = samples + release
    hz = midi_hz(pitch)
    t = np.arange(total, dtype=np.float32) * np.float32(1 / SR)
    turns = _turns(hz, total, spec, t)
    if spec.fm[0]:
        wave = _fm(turns, hz, spec, t)
    else:
        wave = _tone(turns, hz, spec, vowel, t)
        if spec.detune:
            # A second player a few cents sharp: the slow beating is what makes a section.
            wide = _turns(hz * 2 ** (spec.detune / 1200), total, spec, t) + np.uint32(1 << 30)
            wave = 0.6 * wave + 0.6 * _tone(wide, hz, spec, vowel, t)
    if spec.sub:
        wave += np.float32(spec.sub) * np.take(_sine(), _turns(hz / 2, total, spec, t) >> _SHIFT)
    if spec.noise:
        wave += _onset_noise(total, spec.noise, int(pitch))
    if spec.drive:
        drive = np.float32(spec.drive)
        wave = np.tanh(drive * wave) / np.tanh(drive)
    decay = spec.decay * (2 ** ((60 - pitch) / 24) if spec.key_decay else 1.0)
    wave *= _envelope(samples, release, spec.attack, decay, spec.sustain)
    return wave.astype(np.float32, copy=False)


def _turns(hz: float, samples: int, spec: Instrument, t: np.ndarray) -> np.ndarray:
    """Phase as a 32-bit fraction of a turn: wraps for free, as in a hardware oscillator."""
    increment = np.uint32(round(hz / SR * 2**32) % 2**32)
    turns = np.arange(samples, dtype=np.uint32) * increment
    bend = np.zeros(0, dtype=np.float32)
    if spec.vibrato:
        # About 5.5 Hz, fading in after the onset as a singer's or a violinist's does; this is
        # the integral of the frequency wobble, in turns.
        depth = np.float32(hz * spec.vibrato * math.log(2) / 12 / (2 * np.pi * 5.5))
        bend = (
            depth * np.clip((t - 0.15) / 0.3, 0, 1) * (1 - np.cos(np.float32(2 * np.pi * 5.5) * t))
        )
    if spec.glide:
        # The pitch falls from `glide` semitones above; this is the integral of that fall.
        tau = np.float32(0.05)
        fall = np.float32(hz * spec.glide * math.log(2) / 12) * tau * (1 - np.exp(-t / tau))
        bend = fall if not len(bend) else bend + fall
    if len(bend):
        # The bend is never negative, so its fraction is itself less its floor: exactly what
        # np.mod gives, at a tenth of the cost.
        fraction = bend - np.floor(bend)
        turns += (fraction * np.float32(2**32)).astype(np.int64).astype(np.uint32)
    return turns


def _tone(turns: np.ndarray, hz: float, spec: Instrument, vowel: str, t: np.ndarray) -> np.ndarray:
    count = max(1, min(spec.harmonics, int(_CEILING_HZ // hz)))
    index = turns >> _SHIFT
    weights = _weights(spec, count, round(hz), vowel)
    steady = np.take(_table(weights, 0), index)
    if not spec.bright:
        return steady
    bright = np.take(_table(weights, 1), index)
    return steady + bright * np.exp(t * np.float32(-1 / spec.brightness))


def _fm(turns: np.ndarray, hz: float, spec: Instrument, t: np.ndarray) -> np.ndarray:
    ratio, start, rest = spec.fm
    sine = _sine()
    modulator = np.take(sine, _turns(hz * ratio, len(turns), spec, t) >> _SHIFT)
    index = np.float32(rest) + np.float32(start - rest) * np.exp(t * np.float32(-1 / 0.3))
    offset = (index * modulator * np.float32(2**32 / (2 * np.pi))).astype(np.int64)
    return np.take(sine, (turns + offset.astype(np.uint32)) >> _SHIFT)


def _weights(spec: Instrument, count: int, hz: int, vowel: str) -> tuple[float, ...]:
    k = np.arange(1, count + 1, dtype=np.float64)
    steady = 1.0 / k**spec.tilt
    steady[1::2] *= spec.odd
    formants = FORMANTS[vowel] if vowel else spec.formants
    if formants:
        shaped = 0.15 / k
        for formant, level in formants:
            shaped = shaped + level / (1 + ((k * hz - formant) / 150.0) ** 2)
        steady = shaped / shaped.max()
    return tuple(steady.round(4)) + tuple((spec.bright / k**0.8).round(4))


@functools.cache
def _table(weights: tuple[float, ...], layer: int) -> np.ndarray:
    """One cycle of the steady (layer 0) or bright (layer 1) spectrum, peak-normalised."""
    count = len(weights) // 2
    spectrum = np.zeros(_TABLE // 2 + 1, dtype=np.complex128)
    part = np.asarray(weights[layer * count : (layer + 1) * count])
    spectrum[1 : count + 1] = -1j * part * _TABLE / 2  # sines
    cycle = np.fft.irfft(spectrum, _TABLE)
    steady = np.asarray(weights[:count])
    norm = float(np.abs(np.fft.irfft(_sines(steady), _TABLE)).max()) or 1.0
    return (cycle / norm).astype(np.float32)


def _sines(weights: np.ndarray) -> np.ndarray:
    spectrum = np.zeros(_TABLE // 2 + 1, dtype=np.complex128)
    spectrum[1 : len(weights) + 1] = -1j * weights * _TABLE / 2
    return spectrum


@functools.cache
def _sine() -> np.ndarray:
    return np.sin(2 * np.pi * np.arange(_TABLE) / _TABLE).astype(np.float32)


def _onset_noise(samples: int, level: float, seed: int) -> np.ndarray:
    length = min(samples, int(0.03 * SR))
    burst = np.random.default_rng(seed).uniform(-1, 1, length + 1)
    burst = np.diff(burst) * np.exp(-np.arange(length) / (0.006 * SR))
    out = np.zeros(samples, dtype=np.float32)
    out[:length] = level * burst
    return out


def _envelope(held: int, release: int, attack: float, decay: float, sustain: float) -> np.ndarray:
    """Raised-cosine attack, exponential decay to `sustain`, raised-cosine release to zero."""
    env = np.ones(held + release, dtype=np.float32)
    rise = max(1, min(int(attack * SR), held))
    env[:rise] = 0.5 - 0.5 * np.cos(np.arange(rise, dtype=np.float32) * np.float32(np.pi / rise))
    fall = np.exp(np.arange(held, dtype=np.float32) * np.float32(-1 / (decay * SR)))
    env[:held] *= np.float32(sustain) + np.float32(1 - sustain) * fall
    level = env[held - 1] if held else 0.0
    ramp = np.arange(1, release + 1, dtype=np.float32) * np.float32(np.pi / max(release, 1))
    env[held:] = level * (0.5 + 0.5 * np.cos(ramp))
    return env
