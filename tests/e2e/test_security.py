"""Keys at rest, key-check timing, and what another account can see."""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import time

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from common.account import service as accounts
from common.errors import AuthError
from tests.fixtures.stack import Stack


def test_a_database_dump_holds_no_plaintext_key(stack: Stack, e2e_database: str) -> None:
    account_id, key = stack.account("1")
    extra = stack.cli("keys", "create", account_id)["api_key"]
    with stack.client(key) as client:  # used at least once
        assert client.get("/v1/gallery").status_code == 200
    dump = subprocess.run(
        ["pg_dump", "--data-only", e2e_database], capture_output=True, check=True, timeout=120
    ).stdout
    for plaintext in (key, extra):
        secret = plaintext.split("_", 2)[2]
        assert plaintext.encode() not in dump and secret.encode() not in dump


def test_key_check_time_does_not_depend_on_how_much_matches(
    stack: Stack, e2e_database: str
) -> None:
    _, key = stack.account("1")
    _, hex_prefix, secret = key.split("_", 2)  # the secret itself may contain "_"
    prefix = f"mgw_{hex_prefix}"
    almost = f"{prefix}_{secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}"  # all but one char
    nothing = f"{prefix}_{'A' * len(secret)}"  # right prefix, nothing else
    unknown = f"mgw_{'0' * 12}_{secret}"  # a prefix that does not exist
    engine = create_engine(e2e_database.replace("postgresql://", "postgresql+psycopg://"))
    samples: dict[str, list[float]] = {"almost": [], "nothing": [], "unknown": []}
    try:
        with Session(engine) as session:
            for _ in range(300):  # interleaved, so drift in machine load hits all alike
                for name, candidate in (
                    ("almost", almost),
                    ("nothing", nothing),
                    ("unknown", unknown),
                ):
                    start = time.perf_counter()
                    with contextlib.suppress(AuthError):
                        accounts.authenticate(session, authorization=f"Bearer {candidate}")
                    samples[name].append(time.perf_counter() - start)
    finally:
        engine.dispose()
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print("FIGURE key_check_median_us", {k: round(v * 1e6, 1) for k, v in medians.items()})
    # The comparison is hmac.compare_digest over SHA-256 digests: any dependence on the number
    # of matching characters would show as "almost" being slower than "nothing".
    assert 0.8 < medians["almost"] / medians["nothing"] < 1.25
    assert 0.6 < medians["unknown"] / medians["nothing"] < 1.5


def test_a_private_track_is_not_reachable_through_the_public_blob_path(stack: Stack) -> None:
    account_id, key = stack.account("10")
    with stack.client(key) as client:
        made = client.post("/v1/audio/music", json={"prompt": "hum", "music_length_ms": 1000})
        assert made.status_code == 200
        job_id = made.headers["X-Kyma-Job-Id"]
        private = f"audio/{account_id}/{job_id}.mp3"
        assert (stack.data_dir / "blobs" / private).is_file()
        # Percent-encoded dots reach the route as "saved/../audio/...": still refused.
        for path in (f"/blobs/saved/%2e%2e/{private}", f"/blobs/saved/%2E%2E/{private}"):
            assert client.get(path).status_code == 404, path
