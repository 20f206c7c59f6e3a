"""What the offline synthesiser actually plays, measured on the prompt corpus.

Renders every entry of tests/corpus/synth.json the way the offline provider does (synthesize,
then encode to mp3_44100_128) and measures the result with audio-analysis libraries:

- tempo: librosa's beat tracker; a match is within 3 % of the score's tempo, or of half or
  double it (the usual octave ambiguity of beat trackers);
- key: the track's mean constant-Q chroma correlated with the 24 rotated Krumhansl-Kessler
  key profiles; a match is the same tonic and mode as the score's key;
- section contrast: RMS of the choruses minus RMS of the verses, in dB, over the score's spans;
- loudness: pyloudnorm's ITU-R BS.1770-4 integrated loudness (its Meter, as is);
- true peak: the 4x oversampled peak (scipy's resample_poly over the whole track), in dBTP;
- clicks: sample-to-sample jumps over 0.05 that are also 8 times the RMS of the jumps in the
  surrounding 5 ms (a discontinuity, not a loud transient);
- exactness: elevenlabs-music tracks must be exactly the requested length, as samples and as
  the MP3's decoded length (PyAV) to the millisecond;
- determinism: the request rendered and encoded twice gives byte-identical MP3s;
- speed: render + MP3 encode time as a multiple of real time, the process pinned to one core,
  and a 3-minute track rendered and encoded three times (best and median reported).

Prints one JSON summary line and writes the table to bench/synth_report.md.

Run: .venv/bin/python bench/synth_analysis.py [--only ID ...]
(the first run compiles librosa's numba kernels, which takes about half a minute)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import pyloudnorm
from scipy.ndimage import uniform_filter1d
from scipy.signal import resample_poly

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common.audio import codec  # noqa: E402
from common.providers.local.synth import SAMPLE_RATE, compose, synthesize  # noqa: E402
from common.providers.local.synth.style import PITCH_NAMES  # noqa: E402

CORPUS = ROOT / "tests" / "corpus" / "synth.json"
REPORT = ROOT / "bench" / "synth_report.md"
MP3 = "mp3_44100_128"
ANALYSIS_RATE = 22050
TEMPO_TOLERANCE = 0.03
CLICK_JUMP = 0.05
CLICK_RATIO = 8.0
# Krumhansl & Kessler (1982) probe-tone ratings, C major and C minor.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


@dataclass
class Row:
    """The measurements of one corpus entry."""

    id: str
    model: str
    genre: str
    key: str
    detected_key: str
    bpm: float
    detected_bpm: float
    tempo_ok: bool
    key_ok: bool
    contrast_db: float | None  # chorus minus verse, None without both
    lufs: float
    true_peak: float
    clicks: int
    exact: bool | None  # None for lyric-length SKUs
    deterministic: bool
    seconds: float
    x_realtime: float


def detect_tempo(mono: np.ndarray) -> float:
    """librosa's beat-tracker tempo of `mono` at the analysis rate."""
    tempo, _ = librosa.beat.beat_track(y=mono, sr=ANALYSIS_RATE)
    return float(np.atleast_1d(tempo)[0])


def detect_key(mono: np.ndarray) -> tuple[int, str]:
    """Krumhansl-Schmuckler: the key whose profile best correlates with the mean chroma."""
    chroma = librosa.feature.chroma_cqt(y=mono, sr=ANALYSIS_RATE).mean(axis=1)
    best: tuple[float, int, str] = (-2.0, 0, "major")
    for mode, profile in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
        for tonic in range(12):
            score = float(np.corrcoef(chroma, np.roll(profile, tonic))[0, 1])
            best = max(best, (score, tonic, mode))
    return best[1], best[2]


def tempo_matches(detected: float, intended: float) -> bool:
    """Within the tolerance of the intended tempo, or of half or double it."""
    return any(abs(detected / (intended * k) - 1) <= TEMPO_TOLERANCE for k in (0.5, 1, 2))


def count_clicks(samples: np.ndarray) -> int:
    """Jumps between neighbouring samples that stand far above the local jumps."""
    total = 0
    width = round(0.005 * SAMPLE_RATE)
    for channel in samples.T:
        jumps = np.abs(np.diff(channel.astype(np.float64)))
        local = np.sqrt(np.maximum(uniform_filter1d(jumps**2, width), 0))
        total += int(np.count_nonzero((jumps > CLICK_JUMP) & (jumps > CLICK_RATIO * local)))
    return total


def true_peak_dbtp(samples: np.ndarray) -> float:
    """The 4x oversampled peak of the whole track."""
    return 20 * float(np.log10(np.abs(resample_poly(samples, 4, 1, axis=0)).max()))


def section_contrast(samples: np.ndarray, score) -> float | None:
    """Mean chorus RMS minus mean verse RMS in dB, when the form has both."""
    levels: dict[str, list[float]] = {"verse": [], "chorus": []}
    for span in score.sections:
        if span.kind in levels and span.sung_lines:
            start = round(span.start * SAMPLE_RATE)
            end = start + round(span.bars * score.bar_seconds * SAMPLE_RATE)
            levels[span.kind].append(float(np.mean(samples[start:end] ** 2)))
    if not levels["verse"] or not levels["chorus"]:
        return None
    return 10 * float(np.log10(np.mean(levels["chorus"]) / np.mean(levels["verse"])))


def measure(entry: dict) -> Row:
    """Render one corpus entry twice and measure it."""
    request = {
        "prompt": entry["prompt"],
        "lyrics": entry["lyrics"],
        "length_ms": entry["music_length_ms"],
    }
    started = time.perf_counter()
    track = synthesize(**request)
    data = codec.encode(track.samples, track.sample_rate, MP3)
    seconds = time.perf_counter() - started
    again = codec.encode(synthesize(**request).samples, SAMPLE_RATE, MP3)
    score = compose(**request)
    samples = track.samples
    mono = librosa.resample(samples.mean(axis=1), orig_sr=SAMPLE_RATE, target_sr=ANALYSIS_RATE)
    detected_bpm = detect_tempo(mono)
    tonic, mode = detect_key(mono)
    length_ms = entry["music_length_ms"]
    exact = None
    if length_ms is not None:
        exact = (
            len(samples) == round(length_ms * SAMPLE_RATE / 1000)
            and track.duration_ms == length_ms
            and codec.measure_duration_ms(data, MP3) == length_ms
        )
    style = score.style
    duration = len(samples) / SAMPLE_RATE
    return Row(
        id=entry["id"],
        model=entry["model"],
        genre=style.genre.name,
        key=style.key_name,
        detected_key=f"{PITCH_NAMES[tonic]} {mode}",
        bpm=round(score.bpm, 1),
        detected_bpm=round(detected_bpm, 1),
        tempo_ok=tempo_matches(detected_bpm, score.bpm),
        key_ok=(tonic, mode) == (style.tonic, style.mode),
        contrast_db=section_contrast(samples, score),
        lufs=float(pyloudnorm.Meter(SAMPLE_RATE).integrated_loudness(samples)),
        true_peak=true_peak_dbtp(samples),
        clicks=count_clicks(samples),
        exact=exact,
        deterministic=data == again,
        seconds=round(duration, 2),
        x_realtime=duration / seconds,
    )


def three_minutes(repeats: int = 3) -> tuple[list[float], list[float]]:
    """Render + MP3 encode of a 180 s elevenlabs-music track, as multiples of real time: by the
    wall clock, and by the process's own CPU time (what the work costs when the core is shared
    with other processes)."""
    wall, cpu = [], []
    for take in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        prompt = f"energetic rock anthem, take {take}"
        track = synthesize(prompt=prompt, lyrics=None, length_ms=180_000)
        codec.encode(track.samples, track.sample_rate, MP3)
        wall.append(180 / (time.perf_counter() - started))
        cpu.append(180 / (time.process_time() - started_cpu))
    return wall, cpu


def _mark(ok: bool | None) -> str:
    return "–" if ok is None else "yes" if ok else "**no**"


def write_report(rows: list[Row], summary: dict) -> None:
    """The markdown table for bench/synth_report.md."""
    lines = [
        "| prompt | model | genre | key → detected | bpm → detected | tempo | key | "
        "chorus − verse | LUFS | dBTP | clicks | exact | same bytes | × real time |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        contrast = "–" if r.contrast_db is None else f"{r.contrast_db:+.1f} dB"
        lines.append(
            f"| {r.id} | {r.model} | {r.genre} | {r.key} → {r.detected_key} | "
            f"{r.bpm:g} → {r.detected_bpm:g} | {_mark(r.tempo_ok)} | {_mark(r.key_ok)} | "
            f"{contrast} | {r.lufs:.2f} | {r.true_peak:.2f} | {r.clicks} | {_mark(r.exact)} | "
            f"{_mark(r.deterministic)} | {r.x_realtime:.0f} |"
        )
    s = summary
    lines += [
        "",
        f"Tempo within 3 % (or half/double): {s['tempo_ok_pct']:.0f} % of {s['prompts']} prompts. "
        f"Key (tonic and mode): {s['key_ok_pct']:.0f} %. "
        f"Chorus minus verse: at least {s['contrast_min_db']:+.1f} dB over "
        f"{s['contrast_tracks']} songs with both. "
        f"Loudness {s['lufs_min']:.2f} to {s['lufs_max']:.2f} LUFS; true peak at most "
        f"{s['true_peak_max_dbtp']:.2f} dBTP; {s['clicks']} clicks. "
        f"Exact lengths: {s['exact']}; byte-identical reruns: {s['deterministic']}. "
        f"A 3-minute track renders and encodes to MP3 at {s['three_minute_x_realtime_best']:.0f}× "
        f"real time on one core (best of 3 by the wall clock; median "
        f"{s['three_minute_x_realtime_median']:.0f}×; by its own CPU time "
        f"{s['three_minute_x_realtime_cpu_median']:.0f}×).",
    ]
    REPORT.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*", help="corpus ids to run (default: all)")
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the claim says
    corpus = json.loads(CORPUS.read_text())
    if args.only:
        corpus = [e for e in corpus if e["id"] in args.only]
    rows = [measure(entry) for entry in corpus]
    speeds, cpu_speeds = three_minutes()
    contrasts = [r.contrast_db for r in rows if r.contrast_db is not None]
    exact = [r.exact for r in rows if r.exact is not None]
    summary = {
        "bench": "synth_analysis",
        "prompts": len(rows),
        "tempo_ok_pct": round(100 * sum(r.tempo_ok for r in rows) / len(rows), 1),
        "key_ok_pct": round(100 * sum(r.key_ok for r in rows) / len(rows), 1),
        "contrast_min_db": round(min(contrasts), 2) if contrasts else None,
        "contrast_tracks": len(contrasts),
        "lufs_min": round(min(r.lufs for r in rows), 2),
        "lufs_max": round(max(r.lufs for r in rows), 2),
        "true_peak_max_dbtp": round(max(r.true_peak for r in rows), 2),
        "clicks": sum(r.clicks for r in rows),
        "exact": f"{sum(exact)}/{len(exact)}",
        "deterministic": f"{sum(r.deterministic for r in rows)}/{len(rows)}",
        "three_minute_x_realtime_best": round(max(speeds), 1),
        "three_minute_x_realtime_median": round(statistics.median(speeds), 1),
        "three_minute_x_realtime_cpu_median": round(statistics.median(cpu_speeds), 1),
    }
    write_report(rows, summary)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
