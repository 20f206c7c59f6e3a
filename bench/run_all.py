"""Run every benchmark in this folder in turn and write bench/results.md.

Each benchmark script prints one JSON result line; this collects them (printing each as it
comes), and writes a markdown table of figure, target, result, baseline, ratio and pass/miss,
with the machine, the date and the command, the checks that missed and by how much, and the raw
lines. Scripts whose name starts with an underscore are helpers, not benchmarks. A script that
fails or prints no result gets an error row; the others still run. Every stack gets a private
redis-server, so benchmarks never share a Redis database with a test session.

Run: .venv/bin/python bench/run_all.py [--only NAME ...] [--skip NAME ...]   (or `make bench`)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import psycopg
from _harness import ROOT, private_redis

from tests.fixtures.databases import ADMIN_URL

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.md"
# results.md ends with notes written by hand; a new run rewrites what is above this line only.
NOTES_MARKER = "<!-- Everything below is written by hand; bench/run_all.py carries it over"
TIMEOUT_S = 1800
# Before each benchmark: the machine counts as quiet once its CPU use stays under this for
# QUIET_SECONDS one-second samples in a row; it is waited for at most SETTLE_MAX_S.
QUIET_CPU_PERCENT = 20
QUIET_SECONDS = 3
SETTLE_MAX_S = 120


def scripts(only: list[str], skip: list[str]) -> list[Path]:
    found = [p for p in sorted(HERE.glob("*.py")) if p.name != "run_all.py"]
    found = [p for p in found if not p.name.startswith("_")]
    if only:
        found = [p for p in found if p.stem in only]
    return [p for p in found if p.stem not in skip]


def settle() -> dict[str, Any]:
    """Wait for the machine to be quiet before a benchmark starts.

    The one before it leaves work behind for a while: Postgres writing out what it wrote, its
    processes exiting. On two cores that took a third off the next figure (the synthesiser made
    71x real time straight after the streaming run, 108-124x on a quiet machine). Postgres is
    asked for a checkpoint first, so the dirty pages are written now rather than during the
    next run; then the CPU use is sampled until it stays low. How long that took, and the CPU
    use it ended on, go in the result line.
    """
    start = time.monotonic()
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=5, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.Error as exc:
        print(f"   (no checkpoint: {exc})", file=sys.stderr)
    quiet, busy = 0, 100.0
    while quiet < QUIET_SECONDS and time.monotonic() - start < SETTLE_MAX_S:
        busy = psutil.cpu_percent(interval=1.0)
        quiet = quiet + 1 if busy < QUIET_CPU_PERCENT else 0
    return {"settle_s": round(time.monotonic() - start, 1), "cpu_percent_before": busy}


def run(script: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run one benchmark on a quiet machine; its result line, or an error row."""
    quiet = settle()
    load = round(os.getloadavg()[0], 2)
    start = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, str(script)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            timeout=TIMEOUT_S,
        )
        lines, code = done.stdout.splitlines(), done.returncode
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        lines, code = out.splitlines(), -1
    result = last_result(lines)
    if result is None or code != 0:
        result = (result or {"bench": script.stem}) | {
            "error": f"exit code {code}" if code != -1 else f"timed out after {TIMEOUT_S} s"
        }
    result["seconds"] = round(time.monotonic() - start, 1)
    result["load_avg_1m_before"] = load
    return result | quiet


def last_result(lines: list[str]) -> dict[str, Any] | None:
    for line in reversed(lines):
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and "bench" in value:
            return value
    return None


def row(result: dict[str, Any]) -> dict[str, str]:
    """Figure, target, result, baseline, ratio and verdict of one result line."""
    if "figure" in result:
        cells = {k: text(result.get(k, "")) for k in ("figure", "target", "result", "baseline")}
        cells["ratio"] = text(result.get("ratio", ""))
        cells["verdict"] = verdict(result)
    else:
        cells = legacy_row(result)
    if "error" in result:
        cells["verdict"] = f"**error** ({result['error']})"
    return cells


def legacy_row(result: dict[str, Any]) -> dict[str, str]:
    """Rows for the scripts that print only their own figures."""
    name = result["bench"]
    if name == "e2e_latency":
        return {
            "figure": "end-to-end latency, 1 s MP3, offline provider with zero latency, "
            "sequential (synth + encode included)",
            "target": "none of its own: the overhead targets apply to e2e_overhead",
            "result": f"p50 {result.get('request_p50_ms')} ms, "
            f"p99 {result.get('request_p99_ms')} ms",
            "baseline": f"bare Celery round trip p50 {result.get('celery_p50_ms')} ms, "
            f"p99 {result.get('celery_p99_ms')} ms",
            "ratio": text(result.get("ratio_p50", "")),
            "verdict": "informational",
        }
    scalars = {k: v for k, v in result.items() if isinstance(v, int | float | str | bool)}
    scalars.pop("bench", None)
    summary = ", ".join(f"{k} {v}" for k, v in scalars.items())
    return {
        "figure": name,
        "target": "none",
        "result": summary[:300],
        "baseline": "",
        "ratio": "",
        "verdict": "informational",
    }


def verdict(result: dict[str, Any]) -> str:
    if result.get("pass"):
        return "pass"
    missed = [c for c in result.get("checks", []) if not c["pass"]]
    return "**miss**: " + "; ".join(f"{c['what']} {c['value']}" for c in missed)


def text(value: Any) -> str:
    if isinstance(value, dict):
        value = "; ".join(f"{k} {v}" for k, v in value.items())
    return str(value).replace("|", "\\|").replace("\n", " ")


def margin(check: dict[str, Any]) -> str:
    """How far a missed check is from its limit."""
    value, limit = check["value"], check["limit"]
    if not isinstance(value, int | float) or value in (float("inf"), float("-inf")):
        return "no value"
    if limit == 0:
        return f"{value} over"
    factor = value / limit if check["op"] == "<=" else limit / value if value else float("inf")
    return f"{abs(value - limit):g} {'over' if check['op'] == '<=' else 'under'} ({factor:.1f}x)"


def machine() -> str:
    memory_gib = psutil.virtual_memory().total / 1024**3
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    parts = [
        f"nproc {len(os.sched_getaffinity(0))}",
        f"memory {memory_gib:.1f} GiB",
        cpu,
        f"{platform.system()} {platform.release()}",
        f"Python {platform.python_version()}",
    ]
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=5) as conn:
            parts.append(f"PostgreSQL {conn.execute('SHOW server_version').fetchone()[0]}")  # type: ignore[index]
    except psycopg.Error:
        pass
    return ", ".join(parts)


def command() -> str:
    """How this run was started, relative to the project."""
    python = Path(sys.executable)
    shown = os.path.relpath(python, ROOT) if ROOT in python.parents else python.name
    script = os.path.relpath(Path(__file__).resolve(), ROOT)
    return shlex.join([shown, script, *sys.argv[1:]])


def write_report(
    results: list[dict[str, Any]], started: datetime.datetime, loads: list[float]
) -> None:
    lines = [
        "# Benchmark results",
        "",
        f"- date: {started:%Y-%m-%d %H:%M} UTC "
        f"(took {sum(r['seconds'] for r in results) / 60:.0f} min)",
        f"- command: `{command()}`" + ("" if sys.argv[1:] else " (what `make bench` runs)"),
        f"- machine: {machine()}",
        f"- load average (1 min) at the start and the end: {loads[0]:.2f}, {loads[1]:.2f}; each "
        "script's is in the raw lines (`load_avg_1m_before`, and `load_avg_1m` at its end)",
        f"- each script starts on a quiet machine: after a Postgres checkpoint, once CPU use "
        f"stays under {QUIET_CPU_PERCENT} % for {QUIET_SECONDS} s (at most {SETTLE_MAX_S} s; "
        "`settle_s` and `cpu_percent_before` in the raw lines)",
        "",
        "Postgres, Redis (a private redis-server per benchmark), the API and the workers all run "
        "on this machine. When it is shared with other work the figures are noisy: read them "
        "with the load averages.",
        "",
        "| figure | target | result | baseline | ratio | pass/miss |",
        "|---|---|---|---|---|---|",
    ]
    for result in results:
        cells = row(result)
        lines.append(
            "| "
            + " | ".join(
                cells[k] for k in ("figure", "target", "result", "baseline", "ratio", "verdict")
            )
            + " |"
        )
    misses = [
        (result["bench"], check)
        for result in results
        for check in result.get("checks", [])
        if not check["pass"]
    ]
    lines += ["", "## Missed targets", ""]
    lines += [
        f"- {bench}: {c['what']} {c['value']}, target {c['op']} {c['limit']}: {margin(c)}"
        for bench, c in misses
    ] or ["None."]
    lines += ["", "## Raw result lines", "", "```json"]
    lines += [json.dumps(result) for result in results]
    lines += ["```", ""]
    RESULTS.write_text("\n".join(lines) + kept_notes())


def kept_notes() -> str:
    """The hand-written notes at the end of the previous results.md, from their marker on."""
    old = RESULTS.read_text() if RESULTS.exists() else ""
    at = old.find(NOTES_MARKER)
    return "" if at < 0 else "\n" + old[at:]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*", default=[], help="benchmark names to run")
    parser.add_argument("--skip", nargs="*", default=[], help="benchmark names not to run")
    args = parser.parse_args()
    started = datetime.datetime.now(datetime.UTC)
    first_load = os.getloadavg()[0]
    results = []
    with private_redis() as redis_url:
        # Scripts that take the test fixture's Redis get this private one instead.
        env = os.environ | {"TEST_REDIS_URL": redis_url.rsplit("/", 1)[0] + "/15"}
        for script in scripts(args.only, args.skip):
            print(f"-- {script.name}", file=sys.stderr, flush=True)
            result = run(script, env)
            print(json.dumps(result), flush=True)
            results.append(result)
    write_report(results, started, [first_load, os.getloadavg()[0]])
    print(f"wrote {os.path.relpath(RESULTS, ROOT)}", file=sys.stderr)
    if any("error" in r for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
