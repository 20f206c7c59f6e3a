"""The ledger's movements on both databases it runs on: Postgres sends each as one statement,
SQLite (the embedded default) as separate ones. Both must leave the same rows behind."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from common.config import Settings
from common.db import create_db_engine, create_session_factory
from common.errors import BillingError
from common.jobs import service as jobs
from common.ledger import service as ledger
from common.ledger.verify import verify_ledger
from common.migrations import upgrade
from common.models import Account, Hold, Job, LedgerEntry
from tests.fixtures.factories import COMPLETION, create_account, music_request

PRICE = 135_000  # one second of elevenlabs-music


@pytest.fixture(params=["postgres", "sqlite"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    if request.param == "postgres":
        yield request.getfixturevalue("session")
        return
    settings = Settings(data_dir=tmp_path, database_url="", redis_url="")
    upgrade(settings)
    engine = create_db_engine(settings)
    try:
        with create_session_factory(engine)() as session, session.begin():
            yield session
    finally:
        engine.dispose()


def submit(session: Session, account_id: str, max_in_flight: int | None = None) -> Job:
    return jobs.submit_job(
        session,
        account_id=account_id,
        api_key_id=None,
        request=music_request(),
        max_runtime_s=600,
        max_in_flight=max_in_flight,
    )


def standing(session: Session, account_id: str) -> tuple[int, int, int]:
    row = session.execute(
        select(Account.balance_micro_usd, Account.held_micro_usd, Account.active_holds).where(
            Account.id == account_id
        )
    ).one()
    return row[0], row[1], row[2]


def in_transaction(db: Session, job_id: str) -> Job:
    return jobs.complete_job(db, job_id=job_id, **COMPLETION)


def in_one_statement(db: Session, job_id: str) -> Job:
    """As the worker completes: in one statement where that is offered (Postgres), else in the
    transaction."""
    done = jobs.complete_job_in_one_statement(db, job_id=job_id, **COMPLETION)
    if db.get_bind().dialect.name == "postgresql":
        assert done is not None
        return done
    assert done is None
    return in_transaction(db, job_id)


@pytest.mark.parametrize("complete", [in_transaction, in_one_statement])
def test_a_job_holds_then_captures_with_its_receipt(
    db: Session, complete: Callable[[Session, str], Job]
) -> None:
    account = create_account(db, balance_micro_usd=1_000_000)
    job = submit(db, account.id)
    assert standing(db, account.id) == (1_000_000, PRICE, 1)
    hold = db.get(Hold, job.hold_id)
    assert hold is not None and (hold.state, hold.amount_micro_usd) == ("active", PRICE)

    jobs.claim_job(db, job_id=job.id)
    done = complete(db, job.id)
    assert (done.status, done.blob_key, done.blob_size, done.balance_after_micro_usd) == (
        "succeeded",
        "audio/x.mp3",
        10,
        1_000_000 - PRICE,
    )
    assert done.finished_at is not None and done.finished_at.tzinfo is not None
    assert standing(db, account.id) == (1_000_000 - PRICE, 0, 0)
    db.expire_all()
    assert db.get(Job, job.id).balance_after_micro_usd == 1_000_000 - PRICE  # type: ignore[union-attr]
    assert db.get(Hold, job.hold_id).state == "captured"  # type: ignore[union-attr]
    entry = db.execute(select(LedgerEntry).where(LedgerEntry.job_id == job.id)).scalar_one()
    assert (entry.kind, entry.amount_micro_usd, entry.balance_after_micro_usd, entry.hold_id) == (
        "capture",
        PRICE,
        1_000_000 - PRICE,
        job.hold_id,
    )
    assert jobs.complete_job_in_one_statement(db, job_id=job.id, **COMPLETION) is None
    assert ledger.capture_hold(db, hold_id=job.hold_id or "") is None
    assert ledger.release_hold(db, hold_id=job.hold_id or "") is False
    assert verify_ledger(db, account_id=account.id) == []


def test_a_failed_job_releases_its_hold_and_its_place(db: Session) -> None:
    account = create_account(db, balance_micro_usd=1_000_000)
    job = submit(db, account.id)
    jobs.fail_job(db, job_id=job.id, code="provider_error", message="no")
    assert standing(db, account.id) == (1_000_000, 0, 0)
    assert ledger.release_hold(db, hold_id=job.hold_id or "") is False
    assert verify_ledger(db, account_id=account.id) == []


def test_the_in_flight_limit_is_the_count_of_active_holds(db: Session) -> None:
    account = create_account(db, balance_micro_usd=1_000_000)
    first = submit(db, account.id, max_in_flight=2)
    submit(db, account.id, max_in_flight=2)
    with db.begin_nested(), pytest.raises(ledger.InFlightLimitReached) as refused:
        submit(db, account.id, max_in_flight=2)
    assert refused.value.limit == 2
    assert standing(db, account.id) == (1_000_000, 2 * PRICE, 2)
    jobs.fail_job(db, job_id=first.id, code="cancelled", message="by the caller")
    submit(db, account.id, max_in_flight=2)
    assert standing(db, account.id)[2] == 2
    assert verify_ledger(db, account_id=account.id) == []


def test_a_short_balance_is_402_even_at_the_limit(db: Session) -> None:
    account = create_account(db, balance_micro_usd=PRICE)
    submit(db, account.id, max_in_flight=1)
    with db.begin_nested(), pytest.raises(BillingError):
        submit(db, account.id, max_in_flight=1)
    assert standing(db, account.id) == (PRICE, PRICE, 1)


def test_verify_finds_a_wrong_count_of_active_holds(db: Session) -> None:
    account = create_account(db, balance_micro_usd=1_000_000)
    submit(db, account.id)
    db.execute(update(Account).where(Account.id == account.id).values(active_holds=3))
    assert verify_ledger(db, account_id=account.id) == [
        f"{account.id}: active_holds 3 != 1 active holds"
    ]


def test_a_refused_hold_leaves_no_job_row(db: Session) -> None:
    account = create_account(db, balance_micro_usd=PRICE - 1)
    with db.begin_nested(), pytest.raises(BillingError):
        jobs.submit_job(
            db,
            account_id=account.id,
            api_key_id=None,
            request=music_request(),
            max_runtime_s=600,
            job_id="job_refused",
        )
    assert db.get(Job, "job_refused") is None
    assert db.scalar(select(Hold.id).where(Hold.job_id == "job_refused")) is None
    assert standing(db, account.id) == (PRICE - 1, 0, 0)


def test_a_submitted_job_is_the_row_its_hold_wrote(db: Session) -> None:
    account = create_account(db, balance_micro_usd=1_000_000)
    job = submit(db, account.id)
    db.expire_all()
    stored = db.get(Job, job.id)
    assert stored is not None
    assert (stored.status, stored.kind, stored.provider_calls, stored.cost_micro_usd) == (
        "queued",
        "audio",
        0,
        PRICE,
    )
    assert (stored.prompt, stored.hold_id, stored.deadline_at) == (
        "calm piano",
        job.hold_id,
        job.deadline_at,
    )
