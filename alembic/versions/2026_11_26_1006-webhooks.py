"""Webhooks: per-request and per-account targets, signing secrets, the delivery log.

Revision ID: 60893b1b897d
Revises: d889b09e1395
Create Date: 2026-11-26 10:06:00.611808
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '60893b1b897d'
down_revision: str | None = 'd889b09e1395'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('webhook_delivery',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('job_id', sa.String(length=40), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('event', sa.String(length=40), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['multimodal_jobs.id'], name=op.f('fk_webhook_delivery_job_id_multimodal_jobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_delivery'))
    )
    op.create_index(op.f('ix_webhook_delivery_job_id'), 'webhook_delivery', ['job_id'], unique=False)
    op.create_index('ix_webhook_delivery_state_next_attempt_at', 'webhook_delivery', ['state', 'next_attempt_at'], unique=False)
    op.add_column('account', sa.Column('webhook_url', sa.String(length=2000), nullable=True))
    op.add_column('account', sa.Column('webhook_secret', sa.String(length=100), nullable=True))
    op.add_column('multimodal_jobs', sa.Column('webhook_url', sa.String(length=2000), nullable=True))


def downgrade() -> None:
    op.drop_column('multimodal_jobs', 'webhook_url')
    op.drop_column('account', 'webhook_secret')
    op.drop_column('account', 'webhook_url')
    op.drop_index('ix_webhook_delivery_state_next_attempt_at', table_name='webhook_delivery')
    op.drop_index(op.f('ix_webhook_delivery_job_id'), table_name='webhook_delivery')
    op.drop_table('webhook_delivery')
