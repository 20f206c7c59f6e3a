"""Drum kits: one-shot samples synthesised once per kit and reused for every hit.

Each drum is a small physical caricature: a kick is a sine whose pitch falls, a snare a short
tone under a burst of noise, cymbals are high-passed noise (the ride with a metallic ring of
inharmonic partials), a tom or taiko a slow pitch fall with a skin slap. Kits differ in tuning,
length, brightness and drive. Everything is low-passed below 13 kHz, like the pitched voices.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from common.providers.local.synth.score import SAMPLE_RATE

SR = SAMPLE_RATE
DRUMS = frozenset({"kick", "snare", "clap", "hat", "open_hat", "ride", "crash", "tom", "shaker"})


@dataclass(frozen=True)
class Kit:
    """How one kit's drums sound. The kick, tom and snare are tuned to the key's tonic, as a
    producer tunes them: a drum's pitch in another key would pull the ear (and a key finder)."""

    kick_decay: float
    kick_drive: float
    snare_decay: float  # of the noise
    hat_decay: float
    tone: float  # 0..1: darker (lo-fi, jazz) .. brighter (pop, EDM)


KITS: dict[str, Kit] = {
    "pop": Kit(0.28, 1.5, 0.12, 0.03, 0.8),
    "rock": Kit(0.3, 1.2, 0.17, 0.04, 0.75),
    "boombap": Kit(0.3, 2.0, 0.13, 0.035, 0.55),
    "lofi": Kit(0.25, 1.0, 0.1, 0.03, 0.25),
    "jazz": Kit(0.2, 1.0, 0.14, 0.05, 0.5),
    "edm": Kit(0.32, 2.5, 0.1, 0.025, 1.0),
    "taiko": Kit(0.35, 1.0, 0.15, 0.04, 0.6),
    "folk": Kit(0.22, 1.0, 0.1, 0.03, 0.6),
}


@functools.cache
def render_drum(kit: str, drum: str, tonic: int) -> np.ndarray:
    """Return the one-shot for `drum` in `kit` tuned to pitch class `tonic`, as read-only
    float32 that starts and ends at 0."""
    # Every hit of a drum is the same sample, as on a drum machine, so it is made once.
    spec = KITS[kit]
    # The tonic between E1 and D#2 (41-78 Hz), where a kick's body sits.
    root_hz = 440.0 * 2 ** ((28 + (tonic - 4) % 12 - 69) / 12)
    wave = _MAKERS[drum](spec, root_hz)
    wave = _darken(wave, spec.tone)
    wave = _shape(wave / max(float(np.abs(wave).max()), 1e-9))
    wave.setflags(write=False)
    return wave


def _t(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * SR)) / SR


def _noise(seed: int, samples: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, samples)


def _smooth(wave: np.ndarray, width: int) -> np.ndarray:
    return np.convolve(wave, np.ones(width) / width, "same") if width > 1 else wave


def _highpass(wave: np.ndarray, width: int) -> np.ndarray:
    # The noise minus its moving average: what is left is above roughly SR / width.
    return wave - _smooth(wave, width)


def _kick(kit: Kit, root: float) -> np.ndarray:
    t = _t(0.5)
    sweep = root + 140 * np.exp(-t / 0.012)  # the pitch drop is what makes it a kick
    body = np.sin(2 * np.pi * np.cumsum(sweep) / SR) * np.exp(-t / kit.kick_decay)
    body = np.tanh(kit.kick_drive * body) / np.tanh(kit.kick_drive)
    click = _smooth(_noise(11, len(t)), 3) * np.exp(-t / 0.003)
    return body + 0.25 * click


def _snare(kit: Kit, root: float) -> np.ndarray:
    t = _t(0.35)
    hz = root * 4  # two octaves above the kick: 165-311 Hz
    tone = np.sin(2 * np.pi * hz * t) * np.exp(-t / 0.045)
    tone += 0.5 * np.sin(2 * np.pi * hz * 1.5 * t) * np.exp(-t / 0.03)
    rattle = _highpass(_noise(12, len(t)), 12) * np.exp(-t / kit.snare_decay)
    return 0.6 * tone + rattle


def _clap(kit: Kit, root: float) -> np.ndarray:
    t = _t(0.3)
    noise = _highpass(_smooth(_noise(13, len(t)), 3), 30)
    env = np.exp(-t / 0.09)
    for onset in (0.0, 0.011, 0.022):
        # A clap is a few hands a few milliseconds apart.
        env = env + 1.5 * np.where(t >= onset, np.exp(-(t - onset) / 0.004), 0)
    return noise * env


def _hat(decay: float, seed: int) -> np.ndarray:
    t = _t(max(0.08, 6 * decay))
    return _highpass(_noise(seed, len(t)), 4) * np.exp(-t / decay)


def _ride(kit: Kit, root: float) -> np.ndarray:
    t = _t(1.2)
    # Inharmonic partials, as a struck metal plate has; the noise is the stick.
    ring = sum(np.sin(2 * np.pi * f * t) for f in (3170, 4310, 5220, 6640, 7810)) / 5
    wash = _highpass(_noise(16, len(t)), 3)
    return (0.5 * ring + 0.6 * wash) * np.exp(-t / 0.35) + wash * np.exp(-t / 0.01)


def _crash(kit: Kit, root: float) -> np.ndarray:
    t = _t(2.2)
    return _highpass(_noise(15, len(t)), 5) * np.exp(-t / 0.7)


def _tom(kit: Kit, root: float) -> np.ndarray:
    t = _t(0.9)
    sweep = root + 60 * np.exp(-t / 0.08)
    body = np.sin(2 * np.pi * np.cumsum(sweep) / SR) * np.exp(-t / 0.35)
    slap = _highpass(_noise(17, len(t)), 8) * np.exp(-t / 0.02)
    return np.tanh(1.5 * body) + 0.3 * slap


def _shaker(kit: Kit, root: float) -> np.ndarray:
    t = _t(0.09)
    env = np.minimum(t / 0.008, 1) * np.exp(-t / 0.025)
    return _highpass(_noise(18, len(t)), 6) * env


_MAKERS: dict[str, Callable[[Kit, float], np.ndarray]] = {
    "kick": _kick,
    "snare": _snare,
    "clap": _clap,
    "hat": lambda kit, root: _hat(kit.hat_decay, 13),
    "open_hat": lambda kit, root: _hat(0.16, 14),
    "ride": _ride,
    "crash": _crash,
    "tom": _tom,
    "shaker": _shaker,
}


def _darken(wave: np.ndarray, tone: float) -> np.ndarray:
    """Low-pass: a windowed-sinc at 13 kHz for a bright kit, down to about 5 kHz for a dull one."""
    cutoff = (5000 + 8000 * tone) / SR
    n = np.arange(-24, 25)
    kernel = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hanning(len(n))
    return np.convolve(wave, kernel / kernel.sum(), "same")


def _shape(wave: np.ndarray) -> np.ndarray:
    """Soften the first 1.5 ms and the last 20 ms so that every hit starts and ends at zero."""
    rise = int(0.0015 * SR)
    wave[:rise] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(rise) / rise)
    tail = min(int(0.02 * SR), len(wave))
    wave[-tail:] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(1, tail + 1) / tail)
    return wave.astype(np.float32)
