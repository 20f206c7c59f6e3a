"""The money invariants, checked over the database (or one account)."""

from __future__ import annotations

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from common.jobs.states import TERMINAL, JobStatus
from common.models import Account, Hold, Job, LedgerEntry
from common.storage.base import BlobStore


def verify_ledger(session: Session, *, account_id: str | None = None) -> list[str]:
    """Every violation found, as a sentence; an empty list means the ledger is sound."""
    problems: list[str] = []
    problems += _conservation(session, account_id)
    problems += _held_matches_active_holds(session, account_id)
    problems += _captures_match_jobs(session, account_id)
    problems += _no_active_hold_on_ended_job(session, account_id)
    return problems


def _scoped(stmt, column, account_id):  # type: ignore[no-untyped-def]
    return stmt if account_id is None else stmt.where(column == account_id)


def _conservation(session: Session, account_id: str | None) -> list[str]:
    sums = (
        select(
            LedgerEntry.account_id,
            func.sum(
                case((LedgerEntry.kind == "deposit", LedgerEntry.amount_micro_usd), else_=0)
            ).label("deposits"),
            func.sum(
                case((LedgerEntry.kind == "capture", LedgerEntry.amount_micro_usd), else_=0)
            ).label("captures"),
        )
        .group_by(LedgerEntry.account_id)
        .subquery()
    )
    stmt = select(
        Account.id,
        Account.balance_micro_usd,
        Account.held_micro_usd,
        func.coalesce(sums.c.deposits, 0),
        func.coalesce(sums.c.captures, 0),
    ).outerjoin(sums, sums.c.account_id == Account.id)
    problems = []
    for acct, balance, held, deposits, captures in session.execute(
        _scoped(stmt, Account.id, account_id)
    ):
        if deposits != balance + captures:
            problems.append(
                f"{acct}: deposits {deposits} != balance {balance} + captured {captures}"
            )
        if balance - held < 0:
            problems.append(f"{acct}: balance {balance} - held {held} is negative")
    return problems


def _held_matches_active_holds(session: Session, account_id: str | None) -> list[str]:
    active = (
        select(
            Hold.account_id,
            func.sum(Hold.amount_micro_usd).label("amount"),
            func.count().label("count"),
        )
        .where(Hold.state == "active")
        .group_by(Hold.account_id)
        .subquery()
    )
    stmt = select(
        Account.id,
        Account.held_micro_usd,
        func.coalesce(active.c.amount, 0),
        Account.active_holds,
        func.coalesce(active.c.count, 0),
    ).outerjoin(active, active.c.account_id == Account.id)
    problems = []
    for acct, held, amount, counted, count in session.execute(
        _scoped(stmt, Account.id, account_id)
    ):
        if held != amount:
            problems.append(f"{acct}: held {held} != active holds {amount}")
        if counted != count:
            problems.append(f"{acct}: active_holds {counted} != {count} active holds")
    return problems


def _captures_match_jobs(session: Session, account_id: str | None) -> list[str]:
    stmt = (
        select(
            LedgerEntry.job_id,
            Job.status,
            Job.blob_size,
            Job.cost_micro_usd,
            LedgerEntry.amount_micro_usd,
        )
        .outerjoin(Job, Job.id == LedgerEntry.job_id)
        .where(LedgerEntry.kind == "capture")
    )
    problems = []
    for job_id, status, size, cost, amount in session.execute(
        _scoped(stmt, LedgerEntry.account_id, account_id)
    ):
        if status != JobStatus.SUCCEEDED or not size:
            problems.append(f"capture for job {job_id} whose status is {status}, size {size}")
        elif cost != amount:
            problems.append(f"job {job_id} captured {amount}, its price is {cost}")
    dupes = (
        select(LedgerEntry.job_id)
        .where(LedgerEntry.kind == "capture")
        .group_by(LedgerEntry.job_id)
        .having(func.count() > 1)
    )
    problems += [f"job {j} captured more than once" for j in session.scalars(dupes)]
    succeeded_uncaptured = (
        select(Job.id)
        .outerjoin(LedgerEntry, and_(LedgerEntry.job_id == Job.id, LedgerEntry.kind == "capture"))
        .where(Job.status == JobStatus.SUCCEEDED, LedgerEntry.id.is_(None))
    )
    problems += [
        f"job {j} succeeded without a capture"
        for j in session.scalars(_scoped(succeeded_uncaptured, Job.account_id, account_id))
    ]
    return problems


def _no_active_hold_on_ended_job(session: Session, account_id: str | None) -> list[str]:
    stmt = (
        select(Hold.id, Job.id, Job.status)
        .join(Job, Job.id == Hold.job_id)
        .where(Hold.state == "active", Job.status.in_(TERMINAL))
    )
    return [
        f"hold {hold} still active for {status} job {job}"
        for hold, job, status in session.execute(_scoped(stmt, Hold.account_id, account_id))
    ]


def verify_stored_objects(
    session: Session, store: BlobStore, *, account_id: str | None = None
) -> list[str]:
    """Every succeeded job whose stored object is missing from `store`, as a sentence: a
    charged track must stay deliverable. Jobs whose audio was let go on purpose (unsaved audio
    past its retention, a track its owner deleted) have no object key and are not asked."""
    stmt = select(Job.id, Job.blob_key).where(
        Job.status == JobStatus.SUCCEEDED, Job.blob_key.is_not(None), Job.deleted_at.is_(None)
    )
    return [
        f"job {job_id} succeeded and was charged, but its object {key} is missing"
        for job_id, key in session.execute(_scoped(stmt, Job.account_id, account_id))
        if store.size(key) is None
    ]
