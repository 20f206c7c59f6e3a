"""What the benchmarks watch while their load runs: process RSS and CPU (psutil, by pid),
/healthz from a separate process, what Postgres backends wait on, where the jobs' time went,
and optional py-spy profiles.

Not a benchmark itself: run_all.py skips files whose name starts with an underscore.
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import psycopg
from _harness import summary_ms

from tests.fixtures.stack import Stack

MB = 1024 * 1024


def job_timeline(stack: Stack, *, since: float = 0.0) -> dict[str, Any]:
    """Where the jobs' time went, from their rows: queue wait (accepted → claimed), run time
    (claimed → ended), and the spans over which they were accepted, claimed and ended."""
    query = """
        SELECT extract(epoch FROM created_at), extract(epoch FROM started_at),
               extract(epoch FROM finished_at)
        FROM multimodal_jobs WHERE created_at >= to_timestamp(%s) AND finished_at IS NOT NULL
    """
    count = """
        SELECT status, count(*) FROM multimodal_jobs
        WHERE created_at >= to_timestamp(%s) GROUP BY status
    """
    with psycopg.connect(stack.env["DATABASE_URL"]) as conn:
        by_status = {status: n for status, n in conn.execute(count, (since,)).fetchall()}
        rows = [tuple(map(float, row)) for row in conn.execute(query, (since,)).fetchall()]
    if not rows:
        return {"jobs": 0, "by_status": by_status}
    created, started, finished = (list(column) for column in zip(*rows, strict=True))
    return {
        "jobs": len(rows),
        "by_status": by_status,
        "queue_wait": summary_ms([s - c for c, s in zip(created, started, strict=True)]),
        "run": summary_ms([f - s for s, f in zip(started, finished, strict=True)]),
        "accepted_over_s": round(max(created) - min(created), 2),
        "claimed_over_s": round(max(started) - min(started), 2),
        "ended_over_s": round(max(finished) - min(finished), 2),
        "first_accepted_to_last_ended_s": round(max(finished) - min(created), 2),
        "first_accepted_at": min(created),
        "last_ended_at": max(finished),
    }


class WaitSampler:
    """What this database's busy backends wait on, sampled from pg_stat_activity."""

    def __init__(self, database_url: str, interval_s: float = 0.02) -> None:
        self._url = database_url.replace("postgresql+psycopg://", "postgresql://")
        self._interval_s = interval_s
        self.counts: collections.Counter[str] = collections.Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> WaitSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        query = """
            SELECT coalesce(wait_event_type || ':' || wait_event, 'on CPU'), state
            FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
              AND state <> 'idle'
        """
        with psycopg.connect(self._url, autocommit=True) as conn:
            while not self._stop.wait(self._interval_s):
                self.samples += 1
                for event, _state in conn.execute(query).fetchall():
                    self.counts[event] += 1

    def report(self) -> dict[str, float]:
        """Average number of backends in each wait, per sample."""
        return {
            event: round(n / max(self.samples, 1), 2) for event, n in self.counts.most_common(8)
        }


def _tree_rss(process: psutil.Process) -> int:
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += child.memory_info().rss
    return total


def _tree_cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    total = times.user + times.system
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            child_times = child.cpu_times()
            total += child_times.user + child_times.system
    return total


class ProcessMonitor:
    """RSS (sampled on a thread, peak kept) and CPU seconds of named processes, by pid."""

    def __init__(self, pids: dict[str, int], interval_s: float = 0.1) -> None:
        self._processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self._interval_s = interval_s
        self._before: dict[str, int] = {}
        self._peak: dict[str, int] = {}
        self._cpu_before: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._started = 0.0
        self._elapsed = 0.0

    def start(self) -> ProcessMonitor:
        for name, process in self._processes.items():
            self._before[name] = self._peak[name] = _tree_rss(process)
            self._cpu_before[name] = _tree_cpu(process)
        self._started = time.perf_counter()
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self._interval_s):
            for name, process in self._processes.items():
                with contextlib.suppress(psutil.Error):
                    self._peak[name] = max(self._peak[name], _tree_rss(process))

    def stop(self) -> dict[str, dict[str, float]]:
        """Per process: RSS before, peak and after (MB), growth, and CPU use while sampled."""
        self._stop.set()
        self._thread.join()
        self._elapsed = time.perf_counter() - self._started
        report = {}
        for name, process in self._processes.items():
            after = _tree_rss(process)
            cpu_s = _tree_cpu(process) - self._cpu_before[name]
            report[name] = {
                "rss_before_mb": round(self._before[name] / MB, 1),
                "rss_peak_mb": round(self._peak[name] / MB, 1),
                "rss_after_mb": round(after / MB, 1),
                "rss_growth_mb": round((self._peak[name] - self._before[name]) / MB, 1),
                "cpu_s": round(cpu_s, 2),
                "cpu_cores": round(cpu_s / self._elapsed, 2) if self._elapsed else 0.0,
            }
        return report


class Profiler:
    """py-spy records of named processes while the load runs (only with --profile DIR).

    py-spy comes with the dev extras (`make install`).
    Each process gets DIR/<bench>-<name>.txt (collapsed stacks) and the top frames are summed
    into the result line.
    """

    def __init__(self, out_dir: str | None, bench: str, pids: dict[str, int]) -> None:
        self._out = Path(out_dir) if out_dir else None
        self._bench = bench
        self._pids = pids
        self._running: dict[str, subprocess.Popen[bytes]] = {}

    def __enter__(self) -> Profiler:
        if self._out is None:
            return self
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self._out.mkdir(parents=True, exist_ok=True)
        for name, pid in self._pids.items():
            self._running[name] = subprocess.Popen(
                [exe, "record", "--pid", str(pid), "--format", "raw", "--rate", "250", "--gil",
                 "--output", str(self._path(name)), "--nonblocking"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
        time.sleep(0.5)
        return self

    def _path(self, name: str) -> Path:
        assert self._out is not None
        return self._out / f"{self._bench}-{name}.txt"

    def __exit__(self, *_: object) -> None:
        for process in self._running.values():
            process.send_signal(signal.SIGINT)
        for process in self._running.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()

    def summary(self, top: int = 10) -> dict[str, dict[str, Any]]:
        """Per process: the project's functions by inclusive share of the samples that held the
        GIL (Python running), and the leaf functions (any code) by self share, as
        [function (file), percent]."""
        result = {}
        for name in self._running:
            path = self._path(name)
            if path.exists():
                result[name] = top_frames(path.read_text(errors="replace"), top)
        return result


PROJECT_PACKAGES = ("common/", "api/", "worker/")
FRAME = re.compile(r"(?P<function>.*) \((?P<file>.*?)(?::\d+)?\)$")


def top_frames(collapsed: str, top: int) -> dict[str, Any]:
    """Inclusive share of the project's functions and self share of leaves, from py-spy's
    collapsed stacks ("frame;frame;... count" per line)."""
    inclusive: dict[str, int] = {}
    leaves: dict[str, int] = {}
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        keys = []
        for frame in stack.split(";"):
            match = FRAME.match(frame)
            keys.append(
                (f"{match['function']} ({match['file']})", match["file"]) if match else (frame, "")
            )
        for key in {key for key, file in keys if file.startswith(PROJECT_PACKAGES)}:
            inclusive[key] = inclusive.get(key, 0) + count
        leaves[keys[-1][0]] = leaves.get(keys[-1][0], 0) + count

    def ranked(counts: dict[str, int]) -> list[list[Any]]:
        best = sorted(counts.items(), key=lambda item: -item[1])[:top]
        return [[key, round(100 * n / total, 1)] for key, n in best]

    return {
        "samples": total,
        "project_inclusive": ranked(inclusive),
        "self": ranked(leaves),
    }


class HealthProbe:
    """GET /healthz every `interval_s` from a separate process (so the load client's own event
    loop does not colour the figure); (time sent, latency in seconds or None for an error)."""

    def __init__(self, base_url: str, interval_s: float = 0.05) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._queue: Any = context.Queue()
        self._process = context.Process(
            target=_probe_loop, args=(base_url, interval_s, self._stop, self._queue), daemon=True
        )
        self.samples: list[tuple[float, float | None]] = []
        self.max_waiting = 0

    def __enter__(self) -> HealthProbe:
        self._process.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self.samples, self.max_waiting = self._queue.get(timeout=60)
        self._process.join(timeout=10)

    def report(self, start: float = 0.0, end: float = float("inf")) -> dict[str, float]:
        """Latency summary of the probes sent between `start` and `end` (epoch seconds)."""
        window = [v for at, v in self.samples if start <= at < end]
        ok = [v for v in window if v is not None]
        return summary_ms(ok) | {"errors": len(window) - len(ok)}


def _probe_loop(base_url: str, interval_s: float, stop: Any, queue: Any) -> None:
    import httpx

    samples: list[tuple[float, float | None]] = []
    max_waiting = 0
    with httpx.Client(base_url=base_url, timeout=5) as client:
        while not stop.is_set():
            sent, start = time.time(), time.perf_counter()
            try:
                response = client.get("/healthz")
                samples.append((sent, time.perf_counter() - start))
                max_waiting = max(max_waiting, int(response.json().get("waiting", 0)))
            except httpx.HTTPError:
                samples.append((sent, None))
            stop.wait(max(0.0, interval_s - (time.perf_counter() - start)))
    queue.put((samples, max_waiting))
