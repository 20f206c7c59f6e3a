"""Accounts count their active holds, so the in-flight limit is checked in the hold's statement.

Revision ID: 3f1c2a7d9b40
Revises: 60893b1b897d
Create Date: 2026-11-26 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3f1c2a7d9b40"
down_revision: str | None = "60893b1b897d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("account") as batch_op:
        batch_op.add_column(
            sa.Column("active_holds", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_check_constraint(
            op.f("ck_account_active_holds_not_negative"), "active_holds >= 0"
        )
    op.execute(
        "UPDATE account SET active_holds = (SELECT count(*) FROM hold "
        "WHERE hold.account_id = account.id AND hold.state = 'active')"
    )


def downgrade() -> None:
    with op.batch_alter_table("account") as batch_op:
        batch_op.drop_constraint(op.f("ck_account_active_holds_not_negative"), type_="check")
        batch_op.drop_column("active_holds")
