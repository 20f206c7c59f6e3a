"""The ledger's SQL. Every money movement is conditional: no read-then-write.

On Postgres each movement is one statement (data-modifying CTEs), so the account row is locked
by the statement a transaction sends last and held only until its COMMIT: every job of an
account queues behind that lock. SQLite, the embedded default, has no data-modifying CTEs and
one writer at a time anyway; there each movement is the same steps as separate statements.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    Row,
    Select,
    String,
    bindparam,
    insert,
    literal,
    select,
    text,
    true,
    update,
)
from sqlalchemy.orm import Session

from common.db import UTCDateTime, on_postgres, utcnow
from common.jobs.states import JobStatus
from common.models import ACCOUNTS, HOLDS, JOBS, Account, Hold, Job, LedgerEntry

JOB_COLUMNS = tuple(column.name for column in JOBS.columns)


@functools.cache
def pg_hold(with_job: bool) -> Select[Any]:
    """The hold as one statement: lock the account row and judge it, reserve on it, then record
    the hold, both only if the available balance and the in-flight limit allow. It answers one
    row, (covered, under_limit, hold id or NULL): why a hold was refused comes from the row as
    this statement locked it, not from a later read that a job ending in between would falsify.
    `with_job`: the same statement also inserts the job's row (parameters `job_row_<column>`),
    so a job and its hold are one write that needs no transaction around it."""
    account = ACCOUNTS.c
    amount = bindparam("amount", type_=BigInteger())
    # FOR NO KEY UPDATE reads the newest committed row once its lock is ours, and the
    # reservation below updates that same row under the same lock. It is the lock an UPDATE of
    # non-key columns takes anyway, so it does not block the key-share locks that inserts
    # referencing the account (holds, ledger entries) take.
    judged = (
        select(
            account.id,
            (account.balance_micro_usd - account.held_micro_usd >= amount).label("covered"),
            (account.active_holds < bindparam("max_in_flight", type_=Integer())).label(
                "under_limit"
            ),
        )
        .where(account.id == bindparam("account_id", type_=String()))
        .with_for_update(key_share=True)
        .cte("judged")
    )
    reserved = (
        update(ACCOUNTS)
        .where(account.id == judged.c.id, judged.c.covered, judged.c.under_limit)
        .values(
            held_micro_usd=account.held_micro_usd + amount,
            active_holds=account.active_holds + 1,
        )
        .returning(account.id)
        .cte("reserved")
    )
    held = (
        insert(HOLDS)
        .from_select(
            ["id", "account_id", "job_id", "amount_micro_usd", "state", "created_at"],
            select(
                bindparam("hold_id", type_=String()),
                reserved.c.id,
                bindparam("job_id", type_=String()),
                amount,
                literal("active"),
                bindparam("now", type_=UTCDateTime()),
            ).select_from(reserved),
        )
        .returning(HOLDS.c.id)
        .cte("held")
    )
    statement = select(judged.c.covered, judged.c.under_limit, held.c.id).select_from(
        judged.outerjoin(held, true())
    )
    if not with_job:
        return statement
    job = (
        insert(JOBS)
        .from_select(
            list(JOB_COLUMNS),
            select(
                *(bindparam(f"job_row_{column.name}", type_=column.type) for column in JOBS.c)
            ).select_from(reserved),
        )
        .returning(JOBS.c.id)
        .cte("job")
    )
    # Nothing reads the job CTE; add_cte still sends it, and Postgres runs every
    # data-modifying CTE to completion.
    return statement.add_cte(job)


# A capture's steps after its hold is settled (`settled`: hold_id, account_id, amount_micro_usd,
# job_id): charge the account, append the capture entry.
_CHARGE = """
    charged AS (
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
               settled.job_id, settled.hold_id, :now
        FROM charged, settled
    )"""
_SETTLED_COLUMNS = "hold.id AS hold_id, hold.account_id, hold.amount_micro_usd, hold.job_id"

PG_CAPTURE = text(
    f"""
    WITH settled AS (
        UPDATE hold SET state = 'captured', settled_at = :now
        WHERE id = :hold_id AND state = 'active'
        RETURNING {_SETTLED_COLUMNS}
    ), {_CHARGE}, receipt AS (
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

# A running job's completion and its capture as one statement, so it needs no transaction: the
# job row is locked first (as every other move of a job does, so the reaper cannot deadlock
# with it), then the hold, then the account; the job becomes succeeded with its balance after
# only if the hold was still active. Jobs whose end queues a webhook are left out (no row
# comes back): the delivery's payload is built from the ended job, in the caller's transaction.
# What a completion writes on the job row besides its status, end time and balance after.
COMPLETION_COLUMNS = (
    "blob_key",
    "blob_size",
    "content_type",
    "billed_duration_ms",
    "provider_ref",
    "retain_until",
    "public_url",
)

PG_COMPLETE = text(
    f"""
    WITH locked AS (
        SELECT id, hold_id FROM multimodal_jobs
        WHERE id = :job_id AND status = '{JobStatus.RUNNING}' AND webhook_url IS NULL
          AND NOT EXISTS (
              SELECT 1 FROM account
              WHERE account.id = multimodal_jobs.account_id AND account.webhook_url IS NOT NULL
          )
        FOR UPDATE OF multimodal_jobs
    ), settled AS (
        UPDATE hold SET state = 'captured', settled_at = :now
        FROM locked WHERE hold.id = locked.hold_id AND hold.state = 'active'
        RETURNING {_SETTLED_COLUMNS}
    ), {_CHARGE}
    UPDATE multimodal_jobs
    SET status = '{JobStatus.SUCCEEDED}', finished_at = :now,
        balance_after_micro_usd = charged.balance_micro_usd,
        {", ".join(f"{name} = :{name}" for name in COMPLETION_COLUMNS)}
    FROM charged WHERE multimodal_jobs.id = :job_id
    RETURNING {", ".join(f"multimodal_jobs.{name}" for name in JOB_COLUMNS)}
    """
).columns(*JOBS.columns)

# No limit on holds in flight: larger than any count the column can reach.
NO_LIMIT = 2**31 - 1


class HoldOutcome(enum.Enum):
    """What a hold attempt found: the hold placed, or why not."""

    PLACED = "placed"
    SHORT = "short"  # the available balance does not cover the amount
    AT_LIMIT = "at_limit"  # the balance covers it, but the account has max_in_flight holds


def hold(
    session: Session,
    *,
    hold_id: str,
    account_id: str,
    job_id: str,
    amount: int,
    max_in_flight: int = NO_LIMIT,
    now: datetime,
    job_row: Mapping[str, Any] | None = None,
) -> HoldOutcome:
    """Reserve `amount` and record the hold if the available balance covers it and the account
    has fewer than `max_in_flight` active holds; otherwise nothing is written and the outcome says
    which condition failed, as the account row stood when it was judged. With `job_row` (every
    column of the job `job_id`), that row is written with the hold, or not at all: on Postgres
    in the same statement."""
    if on_postgres(session):
        params = {
            "hold_id": hold_id,
            "account_id": account_id,
            "job_id": job_id,
            "amount": amount,
            "max_in_flight": max_in_flight,
            "now": now,
        }
        if job_row is not None:
            params |= {f"job_row_{name}": job_row[name] for name in JOB_COLUMNS}
        row = session.execute(pg_hold(job_row is not None), params).first()
        if row is None:
            raise LookupError(f"no account {account_id}")
        return _outcome(covered=row[0], under_limit=row[1], placed=row[2] is not None)
    reserved = session.execute(
        update(Account)
        .where(
            Account.id == account_id,
            Account.balance_micro_usd - Account.held_micro_usd >= amount,
            Account.active_holds < max_in_flight,
        )
        .values(
            held_micro_usd=Account.held_micro_usd + amount,
            active_holds=Account.active_holds + 1,
        )
        .returning(Account.id)
    ).first()
    if reserved is None:
        # Every SQLite transaction here began IMMEDIATE, holding the one write lock: nothing
        # has changed the row since the refused update.
        judged = session.execute(
            select(
                Account.balance_micro_usd - Account.held_micro_usd >= amount,
                Account.active_holds < max_in_flight,
            ).where(Account.id == account_id)
        ).first()
        if judged is None:
            raise LookupError(f"no account {account_id}")
        return _outcome(covered=bool(judged[0]), under_limit=bool(judged[1]), placed=False)
    if job_row is not None:
        session.execute(insert(JOBS).values(dict(job_row)))
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
    return HoldOutcome.PLACED


def _outcome(*, covered: bool, under_limit: bool, placed: bool) -> HoldOutcome:
    if not covered:
        return HoldOutcome.SHORT
    if not under_limit:
        return HoldOutcome.AT_LIMIT
    if not placed:
        raise RuntimeError("a covered hold under the limit was not placed")
    return HoldOutcome.PLACED


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


def complete_and_capture(
    session: Session, *, job_id: str, completion: Mapping[str, Any]
) -> Row[Any] | None:
    """Postgres only (PG_COMPLETE): mark a running job succeeded with `completion` (a value for
    each of COMPLETION_COLUMNS) and capture its hold, in one statement. The job's row (every
    column), or None when nothing was written: it was not running, its hold was settled, or its
    end queues a webhook (then do both in a transaction instead)."""
    params = {name: completion[name] for name in COMPLETION_COLUMNS}
    return session.execute(PG_COMPLETE, params | {"job_id": job_id, "now": utcnow()}).first()


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
