"""The instruments: each turns one note into a mono waveform with smooth edges."""

import functools
from collections.abc import Callable

import numpy as np

from common.audio.synth.score import SAMPLE_RATE

SR = SAMPLE_RATE
_TWO_PI = 2 * np.pi
_HARMONIC_CEILING = 9000.0  # Hz; higher partials only add hiss (and would alias near Nyquist)
# Formants (Hz, relative level) of sung vowels; the lead's harmonics are weighted by them.
_FORMANTS = {
    "a": ((800, 1.0), (1200, 0.6), (2800, 0.15)),
    "e": ((450, 1.0), (1900, 0.5), (2600, 0.2)),
    "i": ((300, 1.0), (2300, 0.4), (3000, 0.2)),
    "o": ((500, 1.0), (850, 0.6), (2600, 0.1)),
    "u": ((330, 1.0), (750, 0.4), (2400, 0.05)),
}
RELEASE = {"bass": 0.04, "keys": 0.12, "pad": 0.45, "lead": 0.07, "harmony": 0.07}


def midi_hz(pitch: float) -> float:
    """Frequency of a MIDI note number."""
    return 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)


def render_note(voice: str, pitch: float, samples: int, vowel: str = "") -> np.ndarray:
    """Return one note of `voice` held for `samples`, release included, as float32."""
    if voice in _DRUM_MAKERS:
        return _drum(voice)
    release = int(RELEASE[voice] * SR)
    total = samples + release
    hz = midi_hz(pitch)
    if voice == "bass":
        wave = _harmonics(_phase(hz, total), (1.0, 0.3, 0.12))
        env = _envelope(samples, release, attack=0.006, decay=0.25, sustain=0.6)
    elif voice == "keys":
        # Two-operator FM (1:1) whose index falls: a bright tine that mellows, like an e-piano.
        phase = _phase(hz, total)
        index = 0.3 + 1.4 * np.exp(_seconds(total) / np.float32(-0.25))
        wave = np.sin(phase + index * np.sin(phase))
        env = _envelope(samples, release, attack=0.004, decay=1.2, sustain=0.3)
    elif voice == "pad":
        wave = np.sin(_phase(hz * 1.004, total)) + np.sin(_phase(hz * 0.996, total))
        wave = 0.5 * wave + _harmonics(_phase(hz, total), (0.0, 0.3, 0.12))
        env = _envelope(samples, release, attack=0.25, decay=None, sustain=1.0)
    else:
        phase = _phase(hz, total) + _vibrato(hz, _seconds(total))
        wave = _harmonics(phase, _lead_weights(hz, vowel))
        attack = 0.02 if vowel else 0.008
        env = _envelope(samples, release, attack=attack, decay=1.5, sustain=0.7)
    return (wave * env).astype(np.float32, copy=False)


def _seconds(samples: int) -> np.ndarray:
    return np.arange(samples, dtype=np.float32) / np.float32(SR)


def _phase(hz: float, samples: int) -> np.ndarray:
    """Phase of a steady tone in radians, wrapped to [0, 2*pi), as float32.

    A 32-bit phase accumulator (as in a hardware oscillator) wraps for free in unsigned integer
    arithmetic; float32 sine is then both exact enough and many times faster than float64.
    """
    increment = np.uint32(round(hz / SR * 2**32) % 2**32)
    turns = np.arange(samples, dtype=np.uint32) * increment
    return turns.astype(np.float32) * np.float32(_TWO_PI / 2**32)


def _envelope(
    held: int, release: int, *, attack: float, decay: float | None, sustain: float
) -> np.ndarray:
    """Raised-cosine attack, exponential decay to `sustain`, raised-cosine release to zero."""
    env = np.ones(held + release, dtype=np.float32)
    rise = max(1, min(int(attack * SR), held))
    env[:rise] = 0.5 - 0.5 * np.cos(np.arange(rise, dtype=np.float32) * np.float32(np.pi / rise))
    if decay is not None:
        fall = np.exp(_seconds(held) / np.float32(-decay))
        env[:held] *= np.float32(sustain) + np.float32(1 - sustain) * fall
    level = env[held - 1] if held else 0.0
    ramp = np.arange(1, release + 1, dtype=np.float32) * np.float32(np.pi / max(release, 1))
    env[held:] = level * (0.5 + 0.5 * np.cos(ramp))
    return env


def _harmonics(phase: np.ndarray, weights: tuple[float, ...] | np.ndarray) -> np.ndarray:
    """Sum of sin(k * phase) * weights[k-1], by the Chebyshev recurrence: one sin and one cos."""
    s1 = np.sin(phase)
    two_cos = 2 * np.cos(phase)
    out = np.float32(weights[0]) * s1
    previous, current = np.zeros_like(s1), s1
    for weight in weights[1:]:
        previous, current = current, two_cos * current - previous
        if weight:
            out += np.float32(weight) * current
    return out


def _vibrato(hz: float, t: np.ndarray) -> np.ndarray:
    # About ±20 cents at 5.5 Hz, fading in after the onset as a singer's does; this is the
    # integral of that frequency wobble, in radians.
    depth = np.float32(hz * 0.012 / 5.5) * np.clip((t - 0.15) / 0.3, 0, 1)
    return depth * (1 - np.cos(np.float32(_TWO_PI * 5.5) * t))


def _lead_weights(hz: float, vowel: str) -> np.ndarray:
    count = max(1, min(12, int(_HARMONIC_CEILING // hz)))
    k = np.arange(1, count + 1)
    if not vowel:
        return 1.0 / k**1.6  # an instrument: a soft, hollow-ish tone
    weights = 0.15 / k
    for formant, level in _FORMANTS.get(vowel, _FORMANTS["a"]):
        weights = weights + level / (1 + ((k * hz - formant) / 150.0) ** 2)
    return weights / weights.sum()


def _noise(seed: int, samples: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, samples)


def _bright_noise(seed: int, samples: int) -> np.ndarray:
    # A first difference tilts white noise towards the top octaves, where cymbals live.
    white = _noise(seed, samples + 1)
    return 0.5 * np.diff(white)


def _shape(wave: np.ndarray, attack: float) -> np.ndarray:
    """Soften a one-shot's first `attack` seconds and its last 20 ms so that it ends at zero."""
    rise = int(attack * SR)
    wave[:rise] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(rise) / rise)
    tail = min(int(0.02 * SR), len(wave))
    wave[-tail:] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(1, tail + 1) / tail)
    return wave.astype(np.float32)


def _kick() -> np.ndarray:
    t = np.arange(int(0.35 * SR)) / SR
    sweep = 48 + 110 * np.exp(-t / 0.035)  # the pitch drop is what makes it a kick
    body = np.sin(_TWO_PI * np.cumsum(sweep) / SR) * np.exp(-t / 0.2)
    click = np.convolve(_noise(11, len(t)), np.ones(4) / 4, "same") * np.exp(-t / 0.004)
    return _shape(body + 0.2 * click, 0.0015)


def _snare() -> np.ndarray:
    t = np.arange(int(0.25 * SR)) / SR
    tone = np.sin(_TWO_PI * 190 * t) * np.exp(-t / 0.05)
    rattle = np.convolve(_noise(12, len(t)), np.ones(3) / 3, "same") * np.exp(-t / 0.08)
    return _shape(0.5 * tone + 0.8 * rattle, 0.001)


def _cymbal(seed: int, seconds: float, decay: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return _shape(_bright_noise(seed, len(t)) * np.exp(-t / decay), 0.001)


_DRUM_MAKERS: dict[str, Callable[[], np.ndarray]] = {
    "kick": _kick,
    "snare": _snare,
    "hat": lambda: _cymbal(13, 0.08, 0.018),
    "open_hat": lambda: _cymbal(14, 0.35, 0.12),
    "crash": lambda: _cymbal(15, 2.0, 0.6),
}


@functools.cache
def _drum(voice: str) -> np.ndarray:
    # Every hit of a drum is the same sample, as on a drum machine, so it is made once.
    wave = _DRUM_MAKERS[voice]()
    wave.setflags(write=False)
    return wave
