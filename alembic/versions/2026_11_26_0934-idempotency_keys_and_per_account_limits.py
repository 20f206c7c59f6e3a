"""Idempotency keys, per-account overrides of the abuse limits, API key expiry.

Revision ID: d889b09e1395
Revises: 209fe0816d52
Create Date: 2026-11-26 09:34:21.817513
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd889b09e1395'
down_revision: str | None = '209fe0816d52'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('idempotency_key',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('account_id', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('job_id', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_idempotency_key_account_id_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_key')),
    sa.UniqueConstraint('account_id', 'key', name=op.f('uq_idempotency_key_account_id'))
    )
    op.create_index(op.f('ix_idempotency_key_expires_at'), 'idempotency_key', ['expires_at'], unique=False)
    op.add_column('account', sa.Column('rate_limit', sa.String(length=64), nullable=True))
    op.add_column('account', sa.Column('max_concurrent_jobs', sa.Integer(), nullable=True))
    op.add_column('api_key', sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('api_key', 'expires_at')
    op.drop_column('account', 'max_concurrent_jobs')
    op.drop_column('account', 'rate_limit')
    op.drop_index(op.f('ix_idempotency_key_expires_at'), table_name='idempotency_key')
    op.drop_table('idempotency_key')
