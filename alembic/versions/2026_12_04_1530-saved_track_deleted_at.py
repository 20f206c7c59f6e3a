"""Saved tracks the owner deleted: the job row and its ledger entries stay, marked deleted.

Revision ID: 7a4e2d91c5b3
Revises: 3f1c2a7d9b40
Create Date: 2026-12-04 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7a4e2d91c5b3"
down_revision: str | None = "3f1c2a7d9b40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "multimodal_jobs", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("multimodal_jobs") as batch_op:
        batch_op.drop_column("deleted_at")
