"""The acceptance properties on a handful of corpus prompts; bench/synth_analysis.py measures
the whole corpus with librosa. Tempo and key are estimated here with small numpy measures, so
that the suite needs neither librosa nor the half minute its numba kernels take to compile."""

import functools
import json
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
from scipy.ndimage import uniform_filter1d
from scipy.signal import resample_poly

from common.audio import codec
from common.providers.local.synth import SAMPLE_RATE, Score, Track, compose, synthesize
from common.providers.local.synth.genres import GENRES
from common.providers.local.synth.style import read_style

CORPUS = {
    entry["id"]: entry
    for entry in json.loads(
        (Path(__file__).parents[3] / "corpus" / "synth.json").read_text(encoding="utf-8")
    )
}
# Krumhansl & Kessler (1982) probe-tone profiles, C major and C minor.
MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


@functools.cache
def rendered(entry_id: str) -> tuple[Score, Track]:
    entry = CORPUS[entry_id]
    request = {
        "prompt": entry["prompt"],
        "lyrics": entry["lyrics"],
        "length_ms": entry["music_length_ms"],
    }
    return compose(**request), synthesize(**request)


def estimate_bpm(samples: np.ndarray) -> float:
    """Tempo from the autocorrelation of an onset envelope (5 ms frames), up to an octave."""
    hop = SAMPLE_RATE // 200
    mono = samples.mean(axis=1)
    frames = mono[: len(mono) // hop * hop].reshape(-1, hop)
    onset = np.maximum(np.diff(np.sqrt((frames**2).mean(axis=1))), 0)
    onset -= onset.mean()
    corr = np.correlate(onset, onset, "full")[len(onset) - 1 :]
    candidates = np.arange(50.0, 200.0, 0.5)
    scores = [sum(corr[round(k * 60 * 200 / bpm)] for k in (1, 2, 4)) for bpm in candidates]
    return float(candidates[int(np.argmax(scores))])


def estimate_key(samples: np.ndarray) -> tuple[int, str]:
    """Krumhansl-Schmuckler on an FFT chroma (55 Hz to 2 kHz) averaged over the track."""
    size = 16384
    mono = samples.mean(axis=1)
    frames = mono[: len(mono) // size * size].reshape(-1, size) * np.hanning(size)
    spectrum = np.abs(np.fft.rfft(frames, axis=1)).mean(axis=0)
    freqs = np.fft.rfftfreq(size, 1 / SAMPLE_RATE)
    band = (freqs > 55) & (freqs < 2000)
    classes = np.round(12 * np.log2(freqs[band] / 440.0) + 69).astype(int) % 12
    chroma = np.bincount(classes, weights=spectrum[band], minlength=12)
    scores = [
        (float(np.corrcoef(chroma, np.roll(profile, tonic))[0, 1]), tonic, mode)
        for mode, profile in (("major", MAJOR), ("minor", MINOR))
        for tonic in range(12)
    ]
    _, tonic, mode = max(scores)
    return tonic, mode


def count_clicks(samples: np.ndarray) -> int:
    jumps = np.abs(np.diff(samples.astype(np.float64), axis=0))
    local = np.sqrt(np.maximum(uniform_filter1d(jumps**2, 220, axis=0), 0))
    return int(np.count_nonzero((jumps > 0.05) & (jumps > 8 * local)))


def test_the_corpus_covers_every_genre_with_and_without_lyrics():
    assert len(CORPUS) >= 30
    assert {e["genre"] for e in CORPUS.values()} >= {g.name for g in GENRES}
    assert sum(e["lyrics"] is None for e in CORPUS.values()) >= 10
    assert sum(e["lyrics"] is not None for e in CORPUS.values()) >= 10
    for entry in CORPUS.values():
        if entry["genre"]:
            assert read_style(entry["prompt"]).genre.name == entry["genre"], entry["id"]


@pytest.mark.parametrize(
    "entry_id", ["hiphop-boombap", "jazz-noir", "edm-techno", "pop-dminor", "classical-waltz"]
)
def test_tempo_is_what_the_score_intends(entry_id):
    # The autocorrelation estimator is cruder than librosa's beat tracker (swing and heavy
    # syncopation fool it), so it checks prompts whose pulse it can follow.
    score, track = rendered(entry_id)
    measured = estimate_bpm(track.samples)
    assert min(abs(measured / (score.bpm * k) - 1) for k in (0.5, 1, 2)) <= 0.03


@pytest.mark.parametrize(
    "entry_id", ["hiphop-boombap", "pop-dminor", "classical-waltz", "folk-campfire", "rock-punk"]
)
def test_key_is_what_the_score_intends(entry_id):
    score, track = rendered(entry_id)
    assert estimate_key(track.samples) == (score.style.tonic, score.style.mode)


@pytest.mark.parametrize("entry_id", ["hiphop-rap", "folk-sad", "cinematic-song"])
def test_choruses_are_at_least_2_db_louder_than_verses(entry_id):
    score, track = rendered(entry_id)
    levels: dict[str, list[float]] = {"verse": [], "chorus": []}
    for span in score.sections:
        if span.kind in levels:
            start = round(span.start * SAMPLE_RATE)
            end = start + round(span.bars * score.bar_seconds * SAMPLE_RATE)
            levels[span.kind].append(float(np.mean(track.samples[start:end] ** 2)))
    assert levels["verse"] and levels["chorus"]
    assert 10 * np.log10(np.mean(levels["chorus"]) / np.mean(levels["verse"])) >= 2.0


@pytest.mark.parametrize(
    "entry_id", ["hiphop-trap", "rock-punk", "classical-waltz", "jazz-noir", "short-3s"]
)
def test_loudness_true_peak_and_clicks(entry_id):
    _, track = rendered(entry_id)
    loudness = pyloudnorm.Meter(SAMPLE_RATE).integrated_loudness(track.samples)
    assert loudness == pytest.approx(-14.0, abs=0.5)
    true_peak = np.abs(resample_poly(track.samples, 4, 1, axis=0)).max()
    assert 20 * np.log10(true_peak) <= -1.0
    assert count_clicks(track.samples) == 0


@pytest.mark.parametrize("entry_id", ["unknown-empty", "explicit-bpm-key", "short-3s"])
def test_elevenlabs_lengths_are_exact_to_the_millisecond_and_runs_are_identical(entry_id):
    entry = CORPUS[entry_id]
    _, track = rendered(entry_id)
    data = codec.encode(track.samples, track.sample_rate, "mp3_44100_128")
    assert track.duration_ms == entry["music_length_ms"]
    assert codec.measure_duration_ms(data, "mp3_44100_128") == entry["music_length_ms"]
    again = synthesize(prompt=entry["prompt"], lyrics=None, length_ms=entry["music_length_ms"])
    assert codec.encode(again.samples, again.sample_rate, "mp3_44100_128") == data
