from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from common.db import Base, UTCDateTime, utcnow


class Hold(Base):
    """Money reserved for one job: active until captured or released, exactly once."""

    __tablename__ = "hold"
    __table_args__ = (
        CheckConstraint("amount_micro_usd >= 0", name="amount_not_negative"),
        CheckConstraint("state IN ('active', 'captured', 'released')", name="state_known"),
        Index(
            "ix_hold_active",
            "state",
            postgresql_where=text("state = 'active'"),
            sqlite_where=text("state = 'active'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id"), index=True)
    job_id: Mapped[str] = mapped_column(String(40), unique=True)
    amount_micro_usd: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
