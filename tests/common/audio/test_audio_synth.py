import dataclasses
import time

import numpy as np
import pytest

from common.audio import codec
from common.audio.synth import SAMPLE_RATE, Track, compose, render, synthesize
from common.audio.synth.score import DRUM_VOICES, PITCHED_VOICES
from common.audio.synth.voices import render_note

PEAK_LIMIT = 0.89  # -1 dBFS

FOUR_LINES = "\n".join(
    [
        "I walked along the river in the rain",
        "The city lights were fading one by one",
        "I called your name but no one answered back",
        "So I kept on walking till the dawn",
    ]
)
CHORUS = "\n".join(
    [
        "Oh we are the lights that never sleep",
        "We are the sound of a heart that beats",
        "Oh we are the lights that never sleep",
        "Hold on, hold on",
    ]
)
SONG = f"[Verse]\n{FOUR_LINES}\n[Chorus]\n{CHORUS}\n[Verse 2]\n{FOUR_LINES.lower()}"
PROMPTS = ["upbeat summer pop", "sad melancholy ballad", "calm ambient", "epic rock", None]


def max_step(samples: np.ndarray) -> float:
    return float(np.abs(np.diff(samples, axis=0)).max())


def max_curvature(samples: np.ndarray) -> float:
    # A jump of height h shows up as |second difference| of about h, while a smooth partial of
    # amplitude A at f Hz gives only A * (2 * pi * f / 44100) ** 2: the click detector of choice.
    return float(np.abs(np.diff(samples, n=2, axis=0)).max())


@pytest.mark.parametrize("length_ms", [1000, 1005, 30000])
@pytest.mark.parametrize("lyrics", [None, SONG])
def test_requested_length_is_exact(length_ms, lyrics):
    track = synthesize(prompt="upbeat pop", lyrics=lyrics, length_ms=length_ms)
    assert isinstance(track, Track)
    assert track.sample_rate == SAMPLE_RATE
    assert track.samples.dtype == np.float32
    assert track.samples.shape == (round(length_ms * SAMPLE_RATE / 1000), 2)
    assert track.duration_ms == length_ms


def test_requested_length_ends_with_a_fade_not_a_cut():
    samples = synthesize(prompt="energetic rock", lyrics=None, length_ms=30000).samples
    body = np.sqrt(np.mean(samples[: 20 * SAMPLE_RATE] ** 2))
    last_10ms = np.sqrt(np.mean(samples[-SAMPLE_RATE // 100 :] ** 2))
    assert last_10ms < 0.01 * body
    assert np.abs(samples[-1]).max() < 1e-3
    assert np.abs(samples[0]).max() < 1e-3


def test_lyric_length_grows_with_the_number_of_lines():
    lines = [f"line number {i} of the song goes here" for i in range(12)]
    lengths = [
        synthesize(prompt="pop", lyrics="\n".join(lines[:count]), length_ms=None).duration_ms
        for count in (2, 4, 8, 12)
    ]
    assert lengths == sorted(lengths) and len(set(lengths)) == 4


def test_very_long_lyrics_are_capped():
    lyrics = "\n".join(f"this is line {i}" for i in range(500))
    score = compose(prompt="slow 60 bpm", lyrics=lyrics, length_ms=None)
    assert 590 <= score.length_samples / SAMPLE_RATE <= 601


@pytest.mark.parametrize("length_ms", [0, -5])
def test_length_must_be_positive(length_ms):
    with pytest.raises(ValueError):
        synthesize(prompt="pop", lyrics=None, length_ms=length_ms)


def test_two_verses_and_a_chorus_at_100_bpm_last_about_a_minute():
    # 12 sung lines of 2 bars at 2.4 s per bar is 57.6 s, plus a short intro and outro.
    track = synthesize(prompt="pop song, 100 bpm", lyrics=SONG, length_ms=None)
    assert 55_000 <= track.duration_ms <= 72_000


@pytest.mark.parametrize("lyrics", [None, "", "  \n", "[Instrumental]", "[Inst]\n[Instrumental]"])
@pytest.mark.parametrize("prompt", ["sad", "happy dance", "calm lofi", "120 bpm", "60 bpm"])
def test_instrumental_pieces_have_a_sensible_default_length(prompt, lyrics):
    score = compose(prompt=prompt, lyrics=lyrics, length_ms=None)
    assert 30 <= score.length_samples / SAMPLE_RATE <= 65
    assert [s.kind for s in score.sections][0] == "intro"
    assert [s.kind for s in score.sections][-1] == "outro"


def test_sung_lines_become_lead_notes_syllable_by_syllable():
    one = compose(prompt="pop", lyrics="[Verse]\nhello", length_ms=None)
    many = compose(
        prompt="pop", lyrics="[Verse]\nwonderful incredible unbelievable", length_ms=None
    )
    assert sum(n.voice == "lead" for n in one.notes) == 2
    # won-der-ful in-cred-i-ble un-be-liev-a-ble
    assert sum(n.voice == "lead" for n in many.notes) == 12


def test_same_inputs_give_identical_samples():
    first = synthesize(prompt="dreamy synth pop", lyrics=SONG, length_ms=20000)
    second = synthesize(prompt="dreamy synth pop", lyrics=SONG, length_ms=20000)
    other = synthesize(prompt="dreamy synth pop!", lyrics=SONG, length_ms=20000)
    assert np.array_equal(first.samples, second.samples)
    assert not np.array_equal(first.samples, other.samples)


@pytest.mark.parametrize("prompt", PROMPTS)
def test_peak_is_below_minus_1_dbfs_and_the_track_is_not_quiet(prompt):
    samples = synthesize(prompt=prompt, lyrics=SONG, length_ms=None).samples
    peak = float(np.abs(samples).max())
    assert 0.5 <= peak <= PEAK_LIMIT
    assert np.sqrt(np.mean(samples**2)) > 0.05
    assert not np.array_equal(samples[:, 0], samples[:, 1])  # placed in stereo, not dual mono


@pytest.mark.parametrize("prompt", PROMPTS)
def test_no_clicks(prompt):
    score = compose(prompt=prompt, lyrics=SONG, length_ms=None)
    # Whole mix: a full-scale 1 kHz sine moves at most 0.89 * 2 * pi * 1000 / 44100 = 0.13 per
    # sample, and the drums are shaped to stay near that; a note switched on or off without an
    # envelope at an ordinary level (0.25 and up) would exceed 0.25.
    assert max_step(render(score)) < 0.25
    # Without the (noisy, deliberately sharp) drums, the detector is far more sensitive.
    tonal = render(
        dataclasses.replace(score, notes=tuple(n for n in score.notes if n.voice in PITCHED_VOICES))
    )
    assert max_curvature(tonal) < 0.06


def test_click_detector_sees_a_small_click():
    tonal = synthesize(prompt="calm ambient", lyrics=SONG, length_ms=5000).samples.copy()
    assert max_curvature(tonal) < 0.06
    tonal[SAMPLE_RATE:] += 0.07
    assert max_curvature(tonal) >= 0.06


@pytest.mark.parametrize("voice", sorted(PITCHED_VOICES))
@pytest.mark.parametrize("pitch", [36, 60, 84])
def test_notes_start_and_end_at_silence(voice, pitch):
    wave = render_note(voice, pitch, SAMPLE_RATE // 4, "a" if voice == "lead" else "")
    peak = float(np.abs(wave).max())
    assert peak > 0.1
    assert abs(wave[0]) < 1e-3 * peak and abs(wave[-1]) < 1e-3 * peak


@pytest.mark.parametrize("voice", sorted(DRUM_VOICES))
def test_drums_end_at_silence(voice):
    wave = render_note(voice, 0, 1)
    assert abs(wave[0]) < 1e-6 and abs(wave[-1]) < 1e-3 * np.abs(wave).max()


@pytest.mark.parametrize(
    ("prompt", "bpm"),
    [
        ("120 bpm", 120),
        ("a track at 96bpm", 96),
        ("bpm: 150, dark", 150),
        ("sad song at 140 BPM", 140),
        ("300 bpm", 180),
        ("20 bpm", 60),
    ],
)
def test_explicit_tempo_wins_and_is_clamped(prompt, bpm):
    assert compose(prompt=prompt, lyrics=None, length_ms=None).bpm == bpm
    # Kept exactly even when a requested length would be easier to fill at another tempo.
    assert compose(prompt=prompt, lyrics=None, length_ms=17000).bpm == bpm


@pytest.mark.parametrize("prompt", ["1000 bpm", "take 5 bpm", "bpm", "the 120s"])
def test_numbers_that_are_not_a_tempo_are_ignored(prompt):
    assert compose(prompt=prompt, lyrics=None, length_ms=None).style.bpm_explicit is False


def test_mood_words_set_tempo_and_mode():
    sad = compose(prompt="sad melancholy song", lyrics=None, length_ms=None)
    happy = compose(prompt="happy energetic song", lyrics=None, length_ms=None)
    calm = compose(prompt="calm lofi beat", lyrics=None, length_ms=None)
    assert sad.style.mode == "minor" and happy.style.mode == "major"
    assert sad.bpm < 90 and calm.bpm < 90 < 110 < happy.bpm


@pytest.mark.parametrize(
    ("prompt", "mode"),
    [
        ("happy song in a minor key", "minor"),
        ("sad but in major", "major"),
        ("dark piece in C major", "major"),
        ("bright tune in F# minor", "minor"),
    ],
)
def test_mode_words_win(prompt, mode):
    assert compose(prompt=prompt, lyrics=None, length_ms=None).style.mode == mode


def test_key_is_chosen_from_the_text():
    assert compose(prompt="a song in Eb major", lyrics=None, length_ms=None).style.tonic == 3
    tonics = {
        compose(prompt=f"song {i}", lyrics=None, length_ms=None).style.tonic for i in range(40)
    }
    assert len(tonics) >= 6


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


@pytest.mark.parametrize("bpm", [84, 132])
def test_measured_tempo_follows_the_prompt(bpm):
    samples = synthesize(prompt=f"pop at {bpm} bpm", lyrics=None, length_ms=20000).samples
    measured = estimate_bpm(samples)
    assert min(abs(measured / (bpm * k) - 1) for k in (0.5, 1, 2)) < 0.03


def test_chorus_is_denser_and_louder_than_the_verse():
    score = compose(prompt="indie pop", lyrics=SONG, length_ms=None)
    samples = render(score)
    bar = score.bar_seconds
    verse, chorus = score.sections[1], score.sections[2]
    assert (verse.kind, chorus.kind) == ("verse", "chorus")

    def notes_per_bar(span):
        end = span.start + span.bars * bar
        return sum(span.start <= n.start < end for n in score.notes) / span.bars

    def rms(span):
        start = round(span.start * SAMPLE_RATE)
        return np.sqrt(np.mean(samples[start : start + round(span.bars * bar * SAMPLE_RATE)] ** 2))

    assert notes_per_bar(chorus) > 1.3 * notes_per_bar(verse)
    assert rms(chorus) > 1.2 * rms(verse)


def test_a_minute_renders_and_encodes_quickly():
    # Generous bounds that only catch a per-sample Python loop, which would take minutes.
    started = time.perf_counter()
    track = synthesize(prompt="upbeat pop", lyrics=SONG, length_ms=60_000)
    synthesized = time.perf_counter()
    data = codec.encode(track.samples, track.sample_rate, "mp3_44100_128")
    assert synthesized - started < 1.5
    assert time.perf_counter() - synthesized < 5.0
    assert codec.measure_duration_ms(data, "mp3_44100_128") == pytest.approx(60_000, abs=30)
