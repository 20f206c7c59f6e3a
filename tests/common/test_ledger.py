"""The ledger on real Postgres, including races between committed transactions."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from common.account import service as accounts
from common.db import transaction
from common.errors import BillingError
from common.ledger import service as ledger
from common.models import Account, Hold, LedgerEntry
from tests.fixtures.factories import create_account


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
