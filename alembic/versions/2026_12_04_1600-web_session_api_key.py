"""A gallery session remembers the API key that opened it, and ends when that key does.

Revision ID: 5c8d1e3f7a20
Revises: 7a4e2d91c5b3
Create Date: 2026-12-04 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c8d1e3f7a20"
down_revision: str | None = "7a4e2d91c5b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("web_session") as batch_op:
        batch_op.add_column(sa.Column("api_key_id", sa.String(length=40), nullable=True))
        batch_op.create_index(op.f("ix_web_session_api_key_id"), ["api_key_id"], unique=False)
        batch_op.create_foreign_key(
            op.f("fk_web_session_api_key_id_api_key"), "api_key", ["api_key_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("web_session") as batch_op:
        batch_op.drop_constraint(op.f("fk_web_session_api_key_id_api_key"), type_="foreignkey")
        batch_op.drop_index(op.f("ix_web_session_api_key_id"))
        batch_op.drop_column("api_key_id")
