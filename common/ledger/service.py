"""What the ledger does. Services never commit: the caller's transaction does."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from common.db import utcnow
from common.errors import BillingError
from common.ledger import repository
from common.models import Hold
from common.pricing import format_usd


def deposit(session: Session, *, account_id: str, amount_micro_usd: int, memo: str) -> int:
    """Add money to an account; return the new balance."""
    if amount_micro_usd <= 0:
        raise ValueError("a deposit must be positive")
    balance = repository.move_balance(session, account_id=account_id, delta=amount_micro_usd)
    repository.append_entry(
        session,
        account_id=account_id,
        kind="deposit",
        amount=amount_micro_usd,
        balance_after=balance,
        memo=memo,
    )
    return balance


def place_hold(session: Session, *, account_id: str, job_id: str, amount_micro_usd: int) -> Hold:
    """Reserve a job's full cost in one conditional statement, or raise BillingError (402)."""
    if not repository.reserve(session, account_id=account_id, amount=amount_micro_usd):
        raise BillingError(
            f"Available balance is below this request's cost of "
            f"${format_usd(amount_micro_usd)}; top up the account and retry."
        )
    hold = Hold(
        id=f"hold_{uuid.uuid4().hex}",
        account_id=account_id,
        job_id=job_id,
        amount_micro_usd=amount_micro_usd,
        state="active",
        created_at=utcnow(),
    )
    session.add(hold)
    session.flush()
    return hold


def capture_hold(session: Session, *, hold_id: str) -> int | None:
    """Charge an active hold; return the balance after, or None if it was already settled."""
    hold = repository.settle(session, hold_id=hold_id, state="captured")
    if hold is None:
        return None
    balance = repository.move_balance(
        session,
        account_id=hold.account_id,
        delta=-hold.amount_micro_usd,
        held_delta=-hold.amount_micro_usd,
    )
    repository.append_entry(
        session,
        account_id=hold.account_id,
        kind="capture",
        amount=hold.amount_micro_usd,
        balance_after=balance,
        job_id=hold.job_id,
        hold_id=hold_id,
    )
    return balance


def release_hold(session: Session, *, hold_id: str) -> bool:
    """Give an active hold back; False if it was already settled (the first settler won)."""
    hold = repository.settle(session, hold_id=hold_id, state="released")
    if hold is None:
        return False
    repository.unreserve(session, account_id=hold.account_id, amount=hold.amount_micro_usd)
    return True
