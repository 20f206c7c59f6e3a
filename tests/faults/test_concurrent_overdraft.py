"""400 concurrent requests against a balance that covers 100: exactly 100 succeed, the rest 402.

Twenty repeats, each on a fresh account, so a race that wins one time in twenty still shows.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.faults.harness import Burst, Rows, figure, running, tracks, verify_ledger
from tests.fixtures.stack import Stack

pytestmark = pytest.mark.faults_slow

REPEATS = 20
REQUESTS = 400
PAID = 100
# 100 one-second elevenlabs-music tracks at $0.135 each.
BALANCE_USD = "13.5"
TRACK_MICRO_USD = 135_000


@pytest.fixture(scope="module")
def stack(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running(Stack(tmp_path_factory.mktemp("overdraft"), database_url=database)) as stack:
        yield stack


@pytest.mark.parametrize("repeat", range(REPEATS))
def test_only_what_the_balance_covers_is_granted(stack: Stack, rows: Rows, repeat: int) -> None:
    account_id, key = stack.account(BALANCE_USD)
    started = time.monotonic()
    answers = (
        Burst(stack, key, tracks(REQUESTS, tag=f"overdraft {repeat}")).start().answers(timeout=240)
    )
    elapsed = time.monotonic() - started

    statuses = Counter(a.status for a in answers)
    figure(
        overdraft_repeat=repeat,
        granted=statuses[200],
        refused=statuses[402],
        other=REQUESTS - statuses[200] - statuses[402],
        elapsed_s=round(elapsed, 1),
    )
    assert statuses == {200: PAID, 402: REQUESTS - PAID}, [
        (a.status, a.error, a.body[:200]) for a in answers if a.status not in (200, 402)
    ]
    assert {a.json()["error"]["code"] for a in answers if a.status == 402} == {"billing_error"}
    # A refused request leaves nothing behind: no job, no hold.
    jobs, holds = rows.jobs(account_id), rows.holds(account_id)
    assert len(jobs) == len(holds) == PAID
    assert {j.status for j in jobs} == {"succeeded"}
    assert {h.state for h in holds} == {"captured"}
    assert rows.captured(account_id) == sorted(j.id for j in jobs)
    assert {e.amount_micro_usd for e in rows.captures(account_id)} == {TRACK_MICRO_USD}
    assert stack.balance(account_id) == "0"
    verify_ledger(stack)
