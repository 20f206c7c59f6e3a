"""Playing a score: every note placed in the stereo field, with echo and a room around it.

Notes are added straight into one planar stereo buffer (the fewer big arrays, the faster: at
these sizes fresh memory costs more than the arithmetic). Each voice has a level, a pan, an
optional Haas spread (the far side a few milliseconds late: width without moving off centre), a
ping-pong echo for the lead, and a send to a convolution reverb. The reverb runs at an eighth of
the sample rate: a diffuse, darkening tail needs little above 2.7 kHz, and it costs a fraction.
"""

import functools
from dataclasses import dataclass

import numpy as np
from scipy.signal import oaconvolve

from common.audio.synth.drums import DRUMS, render_drum
from common.audio.synth.score import Score
from common.audio.synth.voices import render_note

_REVERB_DECIMATION = 8
_REVERB_SECONDS = 1.8  # long enough for the longest tail (ambient), cut off by its envelope
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


def render(score: Score) -> np.ndarray:
    """Render `score` to float32 planar stereo of shape (2, length_samples), before mastering."""
    sr = score.sample_rate
    length = score.length_samples
    mix = np.zeros((2, length), dtype=np.float32)
    send = np.zeros(length, dtype=np.float32)
    # Ping-pong echo at a dotted eighth: repeats alternate right and left, each one quieter.
    echo_step = max(1, round(score.bar_seconds * 3 / 16 * sr))
    kit = score.style.genre.kit or "pop"
    cache: dict[tuple[str, float, int, str], np.ndarray] = {}
    for note in score.notes:
        start = round(note.start * sr)
        if start >= length:
            continue
        if note.voice in DRUMS:
            wave = render_drum(kit, note.voice, score.style.tonic)
        else:
            held = max(1, round(note.duration * sr))
            key = (note.voice, note.pitch, held, note.vowel)
            if key not in cache:
                instrument = "voice" if note.voice == "harmony" else note.voice
                cache[key] = render_note(instrument, note.pitch, held, note.vowel)
            wave = cache[key]
        place = _PLACEMENTS[note.voice]
        level = note.velocity * place.gain
        angle = (place.pan + 1) * np.pi / 4
        _add(mix[0], start, wave, level * np.cos(angle))
        _add(mix[1], start + round(place.spread * sr), wave, level * np.sin(angle))
        if place.send:
            _add(send, start, wave, level * place.send)
        for tap in range(1, _ECHO_TAPS + 1 if place.echo else 1):
            repeat = level * place.echo * _ECHO_FEEDBACK ** (tap - 1)
            _add(mix[tap % 2], start + tap * echo_step, wave, repeat)
    _add_reverb(mix, send, score.style.genre.reverb)
    return mix


def _add(bus: np.ndarray, start: int, wave: np.ndarray, level: float) -> None:
    end = min(start + len(wave), len(bus))
    if end > start:
        bus[start:end] += np.float32(level) * wave[: end - start]


def _add_reverb(mix: np.ndarray, send: np.ndarray, amount: float) -> None:
    """Add the send through a stereo room: decimate, convolve, interpolate back up."""
    q = _REVERB_DECIMATION
    frames = len(send) // q
    if not frames or not amount:
        return
    low = send[: frames * q].reshape(frames, q).mean(axis=1, dtype=np.float32)
    for channel, response in enumerate(_room(q)):
        wet = oaconvolve(low, response)[:frames].astype(np.float32) * np.float32(amount)
        rise = np.append(wet[1:], np.float32(0)) - wet
        # Linear interpolation back to the full rate, phase by phase; its images of the tail
        # sit more than 25 dB under it.
        for phase in range(q):
            mix[channel, phase : frames * q : q] += wet + rise * np.float32(phase / q)


@functools.cache
def _room(q: int) -> tuple[np.ndarray, np.ndarray]:
    """Two decorrelated impulse responses of a medium room: pre-delay, then a darkening tail."""
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
    return responses[0], responses[1]
