"""The ledger on real Postgres, including races between committed transactions."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from common.account import service as accounts
from common.db import one_statement, transaction
from common.errors import BillingError
from common.jobs import service as jobs
from common.jobs.states import JobStatus
from common.ledger import service as ledger
from common.ledger.verify import verify_ledger
from common.models import Account, Hold, Job, LedgerEntry
from tests.fixtures.factories import COMPLETION, create_account, music_request


def test_hold_capture_moves_money_once(session: Session) -> None:
    account = create_account(session, balance_micro_usd=5_000_000)
    hold = ledger.place_hold(
        session, account_id=account.id, job_id="j1", amount_micro_usd=4_050_000
    )
    session.refresh(account)
    assert (account.balance_micro_usd, account.held_micro_usd) == (5_000_000, 4_050_000)
    assert ledger.capture_hold(session, hold_id=hold.id) == 950_000
    assert ledger.capture_hold(session, hold_id=hold.id) is None
    assert ledger.release_hold(session, hold_id=hold.id) is False
    session.refresh(account)
    assert (account.balance_micro_usd, account.held_micro_usd) == (950_000, 0)


def test_release_returns_the_hold(session: Session) -> None:
    account = create_account(session, balance_micro_usd=1_000_000)
    hold = ledger.place_hold(session, account_id=account.id, job_id="j1", amount_micro_usd=600_000)
    with pytest.raises(BillingError):
        ledger.place_hold(session, account_id=account.id, job_id="j2", amount_micro_usd=600_000)
    assert ledger.release_hold(session, hold_id=hold.id) is True
    assert ledger.capture_hold(session, hold_id=hold.id) is None
    ledger.place_hold(session, account_id=account.id, job_id="j3", amount_micro_usd=600_000)


def test_exact_balance_can_be_held(session: Session) -> None:
    account = create_account(session, balance_micro_usd=45_000)
    ledger.place_hold(session, account_id=account.id, job_id="j1", amount_micro_usd=45_000)
    with pytest.raises(BillingError):
        ledger.place_hold(session, account_id=account.id, job_id="j2", amount_micro_usd=1)


@pytest.fixture
def committed(engine: Engine) -> Iterator[sessionmaker[Session]]:
    yield sessionmaker(bind=engine, expire_on_commit=False)


def test_concurrent_holds_never_overdraw(committed: sessionmaker[Session]) -> None:
    with transaction(committed) as s:
        account_id = create_account(s, balance_micro_usd=10 * 135_000).id
    results: list[bool] = []
    barrier = threading.Barrier(32)

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            with transaction(committed) as s:
                ledger.place_hold(
                    s,
                    account_id=account_id,
                    job_id=f"race-{uuid.uuid4().hex}",
                    amount_micro_usd=135_000,
                )
            results.append(True)
        except BillingError:
            results.append(False)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 10
    with transaction(committed) as s:
        account = s.get(Account, account_id)
        assert account is not None and account.held_micro_usd == 10 * 135_000


def test_racing_settlers_settle_once(committed: sessionmaker[Session]) -> None:
    with transaction(committed) as s:
        account_id = create_account(s, balance_micro_usd=1_000_000).id
        hold_id = ledger.place_hold(
            s, account_id=account_id, job_id=f"settle-{uuid.uuid4().hex}", amount_micro_usd=210_000
        ).id
    outcomes: list[object] = []
    barrier = threading.Barrier(16)

    def settle(i: int) -> None:
        barrier.wait()
        with transaction(committed) as s:
            if i % 2:
                outcomes.append(ledger.capture_hold(s, hold_id=hold_id))
            else:
                outcomes.append(ledger.release_hold(s, hold_id=hold_id))

    threads = [threading.Thread(target=settle, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [o for o in outcomes if o not in (None, False)]
    assert len(winners) == 1
    with transaction(committed) as s:
        account = s.get(Account, account_id)
        hold = s.get(Hold, hold_id)
        captures = s.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.hold_id == hold_id)
        )
        assert account is not None and hold is not None
        assert account.held_micro_usd == 0
        expected = 790_000 if hold.state == "captured" else 1_000_000
        assert account.balance_micro_usd == expected
        assert captures == (1 if hold.state == "captured" else 0)


def test_deposits_are_ledgered(session: Session) -> None:
    account = create_account(session, balance_micro_usd=1_000_000)
    assert accounts.top_up(session, account_id=account.id, amount_micro_usd=500_000) == 1_500_000
    entries = accounts.recent_entries(session, account_id=account.id)
    assert [(e.kind, e.amount_micro_usd, e.balance_after_micro_usd) for e in entries] == [
        ("deposit", 500_000, 1_500_000),
        ("deposit", 1_000_000, 1_000_000),
    ]


def complete_at_once(session: Session, job_id: str) -> Job | None:
    return jobs.complete_job_in_one_statement(session, job_id=job_id, **COMPLETION)


def running_job(session: Session, account_id: str, webhook_url: str | None = None) -> Job:
    job = jobs.submit_job(
        session,
        account_id=account_id,
        api_key_id=None,
        request=music_request(webhook_url=webhook_url),
        max_runtime_s=600,
    )
    jobs.claim_job(session, job_id=job.id)
    return job


def test_the_one_statement_completion_writes_nothing_it_cannot_finish(session: Session) -> None:
    account = create_account(session, balance_micro_usd=1_000_000)
    queued = jobs.submit_job(
        session, account_id=account.id, api_key_id=None, request=music_request(), max_runtime_s=60
    )
    settled = running_job(session, account.id)
    ledger.release_hold(session, hold_id=settled.hold_id or "")
    hooked = running_job(session, account.id, webhook_url="https://hooks.example.com/a")
    before = session.execute(
        select(Account.balance_micro_usd, Account.held_micro_usd).where(Account.id == account.id)
    ).one()
    # Not running; hold already settled; its end queues a webhook: nothing is written.
    for job in (queued, settled, hooked):
        assert complete_at_once(session, job.id) is None
    assert (
        session.scalars(select(Job.status).where(Job.account_id == account.id))
        .all()
        .count("succeeded")
        == 0
    )
    after = session.execute(
        select(Account.balance_micro_usd, Account.held_micro_usd).where(Account.id == account.id)
    ).one()
    assert tuple(after) == tuple(before)
    # A webhook on the account (not the job) leaves it to the transaction path too.
    plain = running_job(session, account.id)
    account.webhook_url = "https://hooks.example.com/account"
    session.flush()
    assert complete_at_once(session, plain.id) is None
    account.webhook_url = None
    session.flush()
    assert complete_at_once(session, plain.id) is not None


def test_one_statement_accepts_never_overdraw(committed: sessionmaker[Session]) -> None:
    with transaction(committed) as s:
        account_id = create_account(s, balance_micro_usd=10 * 135_000).id
    outcomes: list[str] = []
    barrier = threading.Barrier(32)

    def accept() -> None:
        barrier.wait()
        try:
            with one_statement(committed) as s:
                jobs.submit_job(
                    s,
                    account_id=account_id,
                    api_key_id=None,
                    request=music_request(),
                    max_runtime_s=600,
                )
            outcomes.append("accepted")
        except BillingError:
            outcomes.append("402")

    threads = [threading.Thread(target=accept) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("accepted") == 10 and outcomes.count("402") == 22
    with transaction(committed) as s:
        job_rows = s.scalar(
            select(func.count()).select_from(Job).where(Job.account_id == account_id)
        )
        assert job_rows == 10
        assert verify_ledger(s, account_id=account_id) == []


def test_one_statement_completions_racing_the_reaper_settle_once(
    committed: sessionmaker[Session],
) -> None:
    """Each job is completed (one statement, in autocommit) and expired (the reaper's
    transaction) at once: exactly one of them wins, and the money follows the winner."""
    with transaction(committed) as s:
        account_id = create_account(s, balance_micro_usd=10_000_000).id
        job_ids = [running_job(s, account_id).id for _ in range(12)]
    wins: dict[str, list[str]] = {job_id: [] for job_id in job_ids}
    barrier = threading.Barrier(2 * len(job_ids))

    def complete(job_id: str) -> None:
        barrier.wait()
        with one_statement(committed) as s:
            if complete_at_once(s, job_id) is not None:
                wins[job_id].append("worker")

    def expire(job_id: str) -> None:
        barrier.wait()
        with transaction(committed) as s:
            expired = jobs.fail_job(
                s, job_id=job_id, code="job_expired", message="late", to=JobStatus.EXPIRED
            )
            if expired is not None:
                wins[job_id].append("reaper")

    threads = [threading.Thread(target=fn, args=(j,)) for j in job_ids for fn in (complete, expire)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(len(winners) == 1 for winners in wins.values()), wins
    captured = sum(winners == ["worker"] for winners in wins.values())
    with transaction(committed) as s:
        account = s.get(Account, account_id)
        assert account is not None
        assert (account.held_micro_usd, account.active_holds) == (0, 0)
        assert account.balance_micro_usd == 10_000_000 - captured * 135_000
        assert verify_ledger(s, account_id=account_id) == []


def test_a_refused_hold_says_why_from_its_own_statement(committed: sessionmaker[Session]) -> None:
    """A well-funded account at its in-flight limit is told 429, never 402, even while its other
    jobs end between the refused hold and any later read of the account."""
    with transaction(committed) as s:
        account_id = create_account(s, balance_micro_usd=97_750_000).id
    refusals: list[str] = []
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            try:
                with one_statement(committed) as s:
                    hold = ledger.place_hold(
                        s,
                        account_id=account_id,
                        job_id=f"job_{uuid.uuid4().hex}",
                        amount_micro_usd=4_050_000,
                        max_in_flight=2,
                    )
            except ledger.InFlightLimitReached:
                refusals.append("429")
                continue
            except BillingError:
                refusals.append("402")
                continue
            with one_statement(committed) as s:
                ledger.release_hold(s, hold_id=hold.id)

    threads = [threading.Thread(target=churn) for _ in range(12)]
    for t in threads:
        t.start()
    for _ in range(300):  # until 3,000 refusals, or 30 s
        if len(refusals) >= 3000:
            break
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join()
    assert refusals.count("429") > 100
    assert refusals.count("402") == 0
    with transaction(committed) as s:
        assert verify_ledger(s, account_id=account_id) == []
