from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from common.db import Base, UTCDateTime, utcnow
from common.jobs.states import JobStatus


class Job(Base):
    """One accepted music request: queued → running → succeeded | failed | expired."""

    # The contract names the job-status table: one table shared by every kind of generation.
    __tablename__ = "multimodal_jobs"
    __table_args__ = (
        Index("ix_multimodal_jobs_status_deadline_at", "status", "deadline_at"),
        Index("ix_multimodal_jobs_account_id_created_at", "account_id", "created_at"),
        Index("ix_multimodal_jobs_retain_until", "retain_until"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id"))
    api_key_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # Which kind of generation the row is, in that shared table; here always "audio", echoed
    # as "kind" in the `save_to_blob` answer.
    kind: Mapped[str] = mapped_column(String(16), default="audio")
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED)

    model: Mapped[str] = mapped_column(String(40))
    prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    lyrics: Mapped[str | None] = mapped_column(Text, nullable=True)
    music_length_ms: Mapped[int] = mapped_column(Integer)
    response_format: Mapped[str] = mapped_column(String(32))
    save_to_blob: Mapped[bool] = mapped_column(Boolean, default=False)
    webhook_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)

    cost_micro_usd: Mapped[int] = mapped_column(BigInteger)
    hold_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    balance_after_micro_usd: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    billed_duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)

    provider: Mapped[str | None] = mapped_column(String(40), nullable=True)
    provider_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    provider_calls: Mapped[int] = mapped_column(Integer, default=0)

    blob_key: Mapped[str | None] = mapped_column(String(400), nullable=True)
    blob_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    content_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    public_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)

    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    # What the upstream said, when it said why (e.g. "bad_prompt", "1026") and how to fix it.
    provider_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_suggestion: Mapped[str | None] = mapped_column(Text, nullable=True)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retain_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # When the owner deleted the saved track: its objects are gone, its ledger entries stay.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
