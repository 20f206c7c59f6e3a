"""Playing a score: every note placed in the stereo mix, with echo, fades and a final level."""

from dataclasses import dataclass

import numpy as np

from common.audio.synth.score import Score
from common.audio.synth.voices import render_note

PEAK = 0.88  # just under -1 dBFS (0.891), leaving room for the MP3 encoder's overshoot
_SOFT_PEAK = 0.66  # calm pieces are also quieter
_FADE_IN_SECONDS = 0.005


@dataclass(frozen=True)
class _Placement:
    """Where a voice sits: its level, its pan and how much of it goes to the echo."""

    gain: float
    pan: float  # -1 left .. 1 right, constant-power
    spread: float = 0.0  # seconds by which the far side lags: width without moving off centre
    echo: float = 0.0


_VOICES: dict[str, _Placement] = {
    "kick": _Placement(0.9, 0.0),
    "snare": _Placement(0.45, 0.05),
    "bass": _Placement(0.45, 0.0),
    "hat": _Placement(0.1, 0.3),
    "open_hat": _Placement(0.08, 0.3),
    "crash": _Placement(0.1, -0.25),
    "keys": _Placement(0.13, -0.2, spread=0.012),
    "pad": _Placement(0.07, 0.0, spread=0.018),
    "lead": _Placement(0.3, -0.05, echo=0.25),
    "harmony": _Placement(0.12, 0.35, echo=0.25),
}
_ECHO_TAPS = 4
_ECHO_FEEDBACK = 0.4


def render(score: Score) -> np.ndarray:
    """Render `score` to float32 stereo samples of shape (length_samples, 2)."""
    sr = score.sample_rate
    length = score.length_samples
    # One interleaved buffer that becomes the output: no per-voice buses, no final copy. At
    # these sizes fresh memory costs more than the arithmetic, so the fewer big arrays the better.
    mix = np.zeros((length, 2), dtype=np.float32)
    # Ping-pong echo at a dotted eighth: repeats alternate right and left, each one quieter.
    echo_step = max(1, round(score.bar_seconds * 3 / 16 * sr))
    cache: dict[tuple[str, float, int, str], np.ndarray] = {}
    for note in score.notes:
        start = round(note.start * sr)
        if start >= length:
            continue
        held = max(1, round(note.duration * sr))
        key = (note.voice, note.pitch, held, note.vowel)
        wave = cache.get(key)
        if wave is None:
            wave = cache[key] = render_note(note.voice, note.pitch, held, note.vowel)
        place = _VOICES[note.voice]
        level = note.velocity * place.gain
        angle = (place.pan + 1) * np.pi / 4
        _add(mix, 0, start, wave, level * np.cos(angle))
        _add(mix, 1, start + round(place.spread * sr), wave, level * np.sin(angle))
        for tap in range(1, _ECHO_TAPS + 1 if place.echo else 1):
            repeat = level * place.echo * _ECHO_FEEDBACK**tap
            _add(mix, tap % 2, start + tap * echo_step, wave, repeat)
    _fade(mix, score)
    peak = max(float(np.abs(mix).max()), 1e-9)
    mix *= np.float32((_SOFT_PEAK if score.style.mood == "calm" else PEAK) / peak)
    return mix


def _add(mix: np.ndarray, channel: int, start: int, wave: np.ndarray, level: float) -> None:
    end = min(start + len(wave), len(mix))
    if end > start:
        mix[start:end, channel] += np.float32(level) * wave[: end - start]


def _fade(mix: np.ndarray, score: Score) -> None:
    sr = score.sample_rate
    fade_in = min(int(_FADE_IN_SECONDS * sr), len(mix))
    curve = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade_in) / max(fade_in, 1))
    mix[:fade_in] *= curve.astype(np.float32)[:, np.newaxis]
    fade_out = min(int(score.fade_out * sr), len(mix))
    if fade_out:
        curve = 0.5 + 0.5 * np.cos(np.pi * np.arange(1, fade_out + 1) / fade_out)
        mix[-fade_out:] *= curve.astype(np.float32)[:, np.newaxis]
