"""The upstream error code and suggestion on failed jobs.

Revision ID: 1552a2c4e776
Revises: cbe246749611
Create Date: 2026-11-26 09:13:51.116740
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '1552a2c4e776'
down_revision: str | None = 'cbe246749611'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('multimodal_jobs', sa.Column('provider_code', sa.String(length=64), nullable=True))
    op.add_column('multimodal_jobs', sa.Column('error_suggestion', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('multimodal_jobs', 'error_suggestion')
    op.drop_column('multimodal_jobs', 'provider_code')
