"""Speed of the offline synthesiser on a 3-minute track, as a multiple of real time.

Renders a 180 s elevenlabs-music track (synthesis alone, then synthesis + MP3 encoding to
mp3_44100_128) on one core, a few times, and prints the median as one JSON line: by the wall
clock, and for synthesis + encoding also by the process's own CPU time (what the work itself
costs; the wall clock also counts whatever else the machine runs on that core).
Target: synthesis + MP3 encoding >= 100x real time (the median, by the wall clock). Baseline:
real time (the ratio is the multiple), and synthesis alone in the same run.

Run: .venv/bin/python bench/synth_speed.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _harness import check, emit  # noqa: E402

from common.audio import codec  # noqa: E402
from common.providers.local.synth import synthesize  # noqa: E402

LENGTH_MS = 180_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    synth_s, total_s, total_cpu_s = [], [], []
    for i in range(args.repeat):
        prompt = f"energetic rock anthem take {i}"
        start, start_cpu = time.perf_counter(), time.process_time()
        track = synthesize(prompt=prompt, lyrics=None, length_ms=LENGTH_MS)
        mid = time.perf_counter()
        codec.encode(track.samples, track.sample_rate, "mp3_44100_128")
        end, end_cpu = time.perf_counter(), time.process_time()
        synth_s.append(mid - start)
        total_s.append(end - start)
        total_cpu_s.append(end_cpu - start_cpu)
    track_s = LENGTH_MS / 1000
    with_mp3 = round(track_s / statistics.median(total_s), 1)
    synth_alone = round(track_s / statistics.median(synth_s), 1)
    emit(
        {
            "bench": "synth_speed",
            "figure": f"offline synthesiser: a {track_s:g} s track with MP3 encoding "
            "(mp3_44100_128), one core",
            "target": ">= 100x real time",
            "result": f"{with_mp3}x real time (median {statistics.median(total_s):.3f} s of "
            f"{args.repeat}); by its own CPU time "
            f"{round(track_s / statistics.median(total_cpu_s), 1)}x",
            "baseline": f"real time; synthesis alone {synth_alone}x",
            "ratio": with_mp3,
            "checks": [check("synthesis + MP3, x real time", with_mp3, ">=", 100)],
            "track_s": track_s,
            "synth_median_s": round(statistics.median(synth_s), 3),
            "synth_x_realtime": synth_alone,
            "synth_mp3_median_s": round(statistics.median(total_s), 3),
            "synth_mp3_x_realtime": with_mp3,
            "synth_mp3_cpu_x_realtime": round(track_s / statistics.median(total_cpu_s), 1),
        }
    )


if __name__ == "__main__":
    main()
