from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from common.db import Base, UTCDateTime, utcnow


class Account(Base):
    """A prepaid balance. `held_micro_usd` is the sum of its active holds and `active_holds`
    their number, which is also its number of jobs in flight (a job holds from acceptance until
    it ends). Both move in the same statement as the holds, under the account row's lock."""

    __tablename__ = "account"
    __table_args__ = (
        CheckConstraint("balance_micro_usd - held_micro_usd >= 0", name="available_not_negative"),
        CheckConstraint("held_micro_usd >= 0", name="held_not_negative"),
        CheckConstraint("active_holds >= 0", name="active_holds_not_negative"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    balance_micro_usd: Mapped[int] = mapped_column(BigInteger, default=0)
    held_micro_usd: Mapped[int] = mapped_column(BigInteger, default=0)
    active_holds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Per-account overrides of the request rate and of `max_in_flight`, the jobs-in-flight cap
    # (None: the settings').
    rate_limit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    max_concurrent_jobs: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Where job-ended webhooks go when a request names none, and the key that signs them all.
    webhook_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    webhook_secret: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
