"""What the ledger does. Services never commit: the caller's transaction does."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from common.db import utcnow
from common.errors import BillingError
from common.ledger import repository
from common.models import Hold
from common.pricing import format_usd


class InFlightLimitReached(Exception):
    """The account already has as many holds (jobs in flight) as its limit allows."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


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


def place_hold(
    session: Session,
    *,
    account_id: str,
    job_id: str,
    amount_micro_usd: int,
    max_in_flight: int | None = None,
    hold_id: str | None = None,
    job_row: Mapping[str, Any] | None = None,
) -> Hold:
    """Reserve a job's full cost in one conditional statement, or raise BillingError (402)
    when the available balance is short, or InFlightLimitReached when the account already has
    `max_in_flight` holds. With `job_row`, the job's row is written with the hold (see
    `repository.hold`). It locks the account row: send it alone in autocommit, or last before
    COMMIT."""
    hold = Hold(
        id=hold_id or new_hold_id(),
        account_id=account_id,
        job_id=job_id,
        amount_micro_usd=amount_micro_usd,
        state="active",
        created_at=utcnow(),
    )
    outcome = repository.hold(
        session,
        hold_id=hold.id,
        account_id=account_id,
        job_id=job_id,
        amount=amount_micro_usd,
        max_in_flight=repository.NO_LIMIT if max_in_flight is None else max_in_flight,
        now=hold.created_at,
        job_row=job_row,
    )
    if outcome is repository.HoldOutcome.PLACED:
        return hold
    if outcome is repository.HoldOutcome.AT_LIMIT and max_in_flight is not None:
        raise InFlightLimitReached(max_in_flight)
    raise BillingError(
        f"Available balance is below this request's cost of "
        f"${format_usd(amount_micro_usd)}; top up the account and retry."
    )


def new_hold_id() -> str:
    return f"hold_{uuid.uuid4().hex}"


def capture_hold(session: Session, *, hold_id: str) -> int | None:
    """Charge an active hold and write the balance after on its job; return that balance, or
    None if the hold was already settled."""
    return repository.capture(session, hold_id=hold_id)


def release_hold(session: Session, *, hold_id: str) -> bool:
    """Give an active hold back; False if it was already settled (the first settler won)."""
    return repository.release(session, hold_id=hold_id)
