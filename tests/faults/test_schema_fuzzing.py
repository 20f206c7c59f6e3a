"""Fuzzing every operation of the running API's /openapi.json with schemathesis.

Every request carries a valid API key, so generated data gets past authentication. Path
parameters named `job_id` are drawn, most of the time, from real jobs of that account (a
succeeded track, a saved one, one still running), so the job endpoints are exercised beyond
their 404. The account holds $50: enough for a few tracks, then 402s.

Checks: no 5xx, and every answer conforms to the schema (its status code is documented, its
Content-Type is one the operation declares, its body validates). Besides what the schema
describes, the bodies carry what hostile clients send (tests/faults/fuzz_hooks.py): lone
surrogates, integers of thousands of digits, nesting thousands deep.

What the fuzzer has found is pinned down as plain requests too, so it fails the same way on
every run rather than on the runs whose random data happens to hit it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.harness import Rows, figure, running, verify_ledger
from tests.fixtures.stack import Stack

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
MAX_EXAMPLES = 150
SEED = 20261126


@pytest.fixture(scope="module")
def stack(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # A short sync wait: long generated tracks answer 202 instead of holding the fuzzer.
    env = {"SYNC_WAIT_LIMIT_S": "2"}
    with running(Stack(tmp_path_factory.mktemp("fuzz"), database_url=database, env=env)) as stack:
        yield stack


# Postgres text cannot hold U+0000, and JSON strings and URL paths can.
NUL_REQUESTS = {
    "prompt": ("POST", "/v1/audio/music", {"prompt": "a\u0000b", "music_length_ms": 1000}),
    "lyrics": ("POST", "/v1/audio/music", {"model": "minimax-music", "lyrics": "la\u0000la"}),
    "job id": ("GET", "/v1/jobs/job_%00", None),
}


@pytest.mark.parametrize("name", list(NUL_REQUESTS))
def test_a_nul_character_is_refused_not_a_server_error(stack: Stack, rows: Rows, name: str) -> None:
    account_id, key = stack.account("5")
    method, path, body = NUL_REQUESTS[name]
    with stack.client(key) as client:
        r = client.request(method, path, json=body)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert r.json()["error"]["code"] in ("invalid_request", "not_found")
    assert rows.jobs(account_id) == [] and rows.holds(account_id) == []
    verify_ledger(stack)


def _real_jobs(stack: Stack, key: str) -> list[str]:
    body = {"prompt": "a job to fuzz", "music_length_ms": 1000}
    with stack.client(key) as client:
        done = client.post("/v1/audio/music", json=body)
        saved = client.post("/v1/audio/music", params={"save_to_blob": "1"}, json=body)
        # Longer than the sync wait: answered 202 while it still runs.
        running_job = client.post("/v1/audio/music", json=body | {"music_length_ms": 240_000})
    assert (done.status_code, saved.status_code, running_job.status_code) == (200, 200, 202)
    return [r.headers["x-kyma-job-id"] for r in (done, saved, running_job)]


@pytest.mark.faults_slow
def test_fuzzing_finds_no_server_error_and_no_schema_violation(
    stack: Stack, tmp_path: Path
) -> None:
    _, key = stack.account("50")
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f"[dictionaries.jobs]\nvalues = {json.dumps(_real_jobs(stack, key))}\n\n"
        '[parameters]\n"path.job_id" = { dictionary = "jobs", probability = 0.7 }\n'
    )
    reports = tmp_path / "reports"
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(config),
        "run",
        f"{stack.base_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(reports),
    ]
    hooks = {"SCHEMATHESIS_HOOKS": str(Path(__file__).with_name("fuzz_hooks.py"))}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=240, env=os.environ | hooks
    )
    output = done.stdout + done.stderr
    generated = re.search(r"(\d+) generated", output)
    failures = re.search(r"(\d+) failures?", output)
    operations = re.search(r"Tested: (\d+)", output)
    figure(
        fuzz_failures=failures.group(1) if failures else 0,
        test_cases=generated.group(1) if generated else "?",
        operations=operations.group(1) if operations else "?",
    )
    assert done.returncode == 0, output[-20000:]
    assert generated and operations
    verify_ledger(stack)
