"""The ledger's SQL. Every money movement is conditional: no read-then-write.

On Postgres each movement is one statement (data-modifying CTEs), so the account row is locked
by the statement a transaction sends last and held only until its COMMIT: every job of an
account queues behind that lock. SQLite, the embedded default, has no data-modifying CTEs and
one writer at a time anyway; there each movement is the same steps as separate statements.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from common.db import on_postgres, utcnow
from common.models import Account, Hold, Job, LedgerEntry

PG_HOLD = text(
    """
    WITH reserved AS (
        UPDATE account
        SET held_micro_usd = held_micro_usd + :amount, active_holds = active_holds + 1
        WHERE id = :account_id
          AND balance_micro_usd - held_micro_usd >= :amount
          AND active_holds < :max_active
        RETURNING id
    )
    INSERT INTO hold (id, account_id, job_id, amount_micro_usd, state, created_at)
    SELECT :hold_id, reserved.id, :job_id, :amount, 'active', :now FROM reserved
    RETURNING id
    """
)

PG_CAPTURE = text(
    """
    WITH settled AS (
        UPDATE hold SET state = 'captured', settled_at = :now
        WHERE id = :hold_id AND state = 'active'
        RETURNING account_id, amount_micro_usd, job_id
    ), charged AS (
        UPDATE account
        SET balance_micro_usd = balance_micro_usd - settled.amount_micro_usd,
            held_micro_usd = held_micro_usd - settled.amount_micro_usd,
            active_holds = active_holds - 1
        FROM settled WHERE account.id = settled.account_id
        RETURNING account.id, account.balance_micro_usd
    ), entry AS (
        INSERT INTO ledger_entry (account_id, kind, amount_micro_usd, balance_after_micro_usd,
                                  job_id, hold_id, created_at)
        SELECT charged.id, 'capture', settled.amount_micro_usd, charged.balance_micro_usd,
               settled.job_id, :hold_id, :now
        FROM charged, settled
    ), receipt AS (
        UPDATE multimodal_jobs SET balance_after_micro_usd = charged.balance_micro_usd
        FROM charged, settled WHERE multimodal_jobs.id = settled.job_id
    )
    SELECT balance_micro_usd FROM charged
    """
)

PG_RELEASE = text(
    """
    WITH settled AS (
        UPDATE hold SET state = 'released', settled_at = :now
        WHERE id = :hold_id AND state = 'active'
        RETURNING account_id, amount_micro_usd
    )
    UPDATE account
    SET held_micro_usd = held_micro_usd - settled.amount_micro_usd,
        active_holds = active_holds - 1
    FROM settled WHERE account.id = settled.account_id
    RETURNING account.id
    """
)

# No limit on holds in flight: larger than any count the column can reach.
NO_LIMIT = 2**31 - 1


def hold(
    session: Session,
    *,
    hold_id: str,
    account_id: str,
    job_id: str,
    amount: int,
    max_active: int = NO_LIMIT,
    now: datetime,
) -> bool:
    """Reserve `amount` and record the hold if the available balance covers it and the account
    has fewer than `max_active` active holds; False (nothing written) otherwise."""
    if on_postgres(session):
        params = {
            "hold_id": hold_id,
            "account_id": account_id,
            "job_id": job_id,
            "amount": amount,
            "max_active": max_active,
            "now": now,
        }
        return session.execute(PG_HOLD, params).first() is not None
    reserved = session.execute(
        update(Account)
        .where(
            Account.id == account_id,
            Account.balance_micro_usd - Account.held_micro_usd >= amount,
            Account.active_holds < max_active,
        )
        .values(
            held_micro_usd=Account.held_micro_usd + amount,
            active_holds=Account.active_holds + 1,
        )
        .returning(Account.id)
    ).first()
    if reserved is None:
        return False
    session.execute(
        insert(Hold).values(
            id=hold_id,
            account_id=account_id,
            job_id=job_id,
            amount_micro_usd=amount,
            state="active",
            created_at=now,
        )
    )
    return True


@dataclass(frozen=True)
class Standing:
    available: int
    active_holds: int


def standing(session: Session, *, account_id: str) -> Standing | None:
    """What a refused hold is measured against: the available balance and holds in flight."""
    row = session.execute(
        select(Account.balance_micro_usd - Account.held_micro_usd, Account.active_holds).where(
            Account.id == account_id
        )
    ).first()
    return None if row is None else Standing(available=row[0], active_holds=row[1])


def capture(session: Session, *, hold_id: str) -> int | None:
    """Charge an active hold: settle it, take its amount from the balance, append the capture
    entry and write the balance after on its job. The balance after, or None if it was already
    settled."""
    now = utcnow()
    if on_postgres(session):
        return session.execute(PG_CAPTURE, {"hold_id": hold_id, "now": now}).scalar()
    row = _settle(session, hold_id=hold_id, state="captured", now=now)
    if row is None:
        return None
    account_id, amount, job_id = row
    balance = session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(
            balance_micro_usd=Account.balance_micro_usd - amount,
            held_micro_usd=Account.held_micro_usd - amount,
            active_holds=Account.active_holds - 1,
        )
        .returning(Account.balance_micro_usd)
    ).scalar_one()
    append_entry(
        session,
        account_id=account_id,
        kind="capture",
        amount=amount,
        balance_after=balance,
        job_id=job_id,
        hold_id=hold_id,
        now=now,
    )
    session.execute(update(Job).where(Job.id == job_id).values(balance_after_micro_usd=balance))
    return balance


def release(session: Session, *, hold_id: str) -> bool:
    """Give an active hold back; False if it was already settled."""
    now = utcnow()
    if on_postgres(session):
        return session.execute(PG_RELEASE, {"hold_id": hold_id, "now": now}).first() is not None
    row = _settle(session, hold_id=hold_id, state="released", now=now)
    if row is None:
        return False
    account_id, amount, _job_id = row
    session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(
            held_micro_usd=Account.held_micro_usd - amount,
            active_holds=Account.active_holds - 1,
        )
    )
    return True


def _settle(
    session: Session, *, hold_id: str, state: str, now: datetime
) -> tuple[str, int, str] | None:
    row = session.execute(
        update(Hold)
        .where(Hold.id == hold_id, Hold.state == "active")
        .values(state=state, settled_at=now)
        .returning(Hold.account_id, Hold.amount_micro_usd, Hold.job_id)
    ).first()
    return None if row is None else (row[0], row[1], row[2])


def move_balance(session: Session, *, account_id: str, delta: int) -> int:
    """Add `delta` to the balance; return the new balance."""
    return session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(balance_micro_usd=Account.balance_micro_usd + delta)
        .returning(Account.balance_micro_usd)
    ).scalar_one()


def append_entry(
    session: Session,
    *,
    account_id: str,
    kind: str,
    amount: int,
    balance_after: int,
    job_id: str | None = None,
    hold_id: str | None = None,
    memo: str | None = None,
    now: datetime | None = None,
) -> None:
    session.execute(
        insert(LedgerEntry).values(
            account_id=account_id,
            kind=kind,
            amount_micro_usd=amount,
            balance_after_micro_usd=balance_after,
            job_id=job_id,
            hold_id=hold_id,
            memo=memo,
            created_at=now or utcnow(),
        )
    )
