from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from common.db import Base, UTCDateTime, utcnow


class LedgerEntry(Base):
    """An append-only money movement: a deposit (top-up) or a capture (a charge for a job)."""

    __tablename__ = "ledger_entry"
    __table_args__ = (
        CheckConstraint("kind IN ('deposit', 'capture')", name="kind_known"),
        CheckConstraint("amount_micro_usd >= 0", name="amount_not_negative"),
        # At most one capture per job, enforced by the database whatever the code does.
        Index(
            "uq_ledger_entry_capture_job",
            "job_id",
            unique=True,
            postgresql_where=text("kind = 'capture'"),
            sqlite_where=text("kind = 'capture'"),
        ),
    )

    # SQLite only auto-increments an INTEGER PRIMARY KEY.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    amount_micro_usd: Mapped[int] = mapped_column(BigInteger)
    balance_after_micro_usd: Mapped[int] = mapped_column(BigInteger)
    job_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    hold_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    memo: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
