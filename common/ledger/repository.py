"""The ledger's SQL. Every money movement is one conditional statement: no read-then-write."""

from __future__ import annotations

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from common.db import utcnow
from common.models import Account, Hold, LedgerEntry


def reserve(session: Session, *, account_id: str, amount: int) -> bool:
    """Raise the account's held sum by `amount` if its available balance covers it."""
    row = session.execute(
        update(Account)
        .where(
            Account.id == account_id,
            Account.balance_micro_usd - Account.held_micro_usd >= amount,
        )
        .values(held_micro_usd=Account.held_micro_usd + amount)
        .returning(Account.id)
    ).first()
    return row is not None


def settle(session: Session, *, hold_id: str, state: str) -> Hold | None:
    """Move an active hold to `state`; None when someone else settled it first."""
    row = session.execute(
        update(Hold)
        .where(Hold.id == hold_id, Hold.state == "active")
        .values(state=state, settled_at=utcnow())
        .returning(Hold.account_id, Hold.amount_micro_usd, Hold.job_id)
    ).first()
    if row is None:
        return None
    return Hold(id=hold_id, account_id=row[0], amount_micro_usd=row[1], job_id=row[2], state=state)


def unreserve(session: Session, *, account_id: str, amount: int) -> None:
    session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(held_micro_usd=Account.held_micro_usd - amount)
    )


def move_balance(session: Session, *, account_id: str, delta: int, held_delta: int = 0) -> int:
    """Add `delta` to the balance (and `held_delta` to held); return the new balance."""
    return session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(
            balance_micro_usd=Account.balance_micro_usd + delta,
            held_micro_usd=Account.held_micro_usd + held_delta,
        )
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
            created_at=utcnow(),
        )
    )
