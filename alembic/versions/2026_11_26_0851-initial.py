"""Accounts, API keys, holds, the ledger and multimodal_jobs.

Revision ID: cbe246749611
Revises:
Create Date: 2026-11-26 08:51:17.467033
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'cbe246749611'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('account',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('balance_micro_usd', sa.BigInteger(), nullable=False),
    sa.Column('held_micro_usd', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('balance_micro_usd - held_micro_usd >= 0', name=op.f('ck_account_available_not_negative')),
    sa.CheckConstraint('held_micro_usd >= 0', name=op.f('ck_account_held_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account'))
    )
    op.create_table('api_key',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('account_id', sa.String(length=40), nullable=False),
    sa.Column('prefix', sa.String(length=32), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_api_key_account_id_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_key')),
    sa.UniqueConstraint('prefix', name=op.f('uq_api_key_prefix'))
    )
    op.create_index(op.f('ix_api_key_account_id'), 'api_key', ['account_id'], unique=False)
    op.create_table('hold',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('account_id', sa.String(length=40), nullable=False),
    sa.Column('job_id', sa.String(length=40), nullable=False),
    sa.Column('amount_micro_usd', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('active', 'captured', 'released')", name=op.f('ck_hold_state_known')),
    sa.CheckConstraint('amount_micro_usd >= 0', name=op.f('ck_hold_amount_not_negative')),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_hold_account_id_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hold')),
    sa.UniqueConstraint('job_id', name=op.f('uq_hold_job_id'))
    )
    op.create_index(op.f('ix_hold_account_id'), 'hold', ['account_id'], unique=False)
    op.create_index('ix_hold_active', 'hold', ['state'], unique=False, postgresql_where=sa.text("state = 'active'"), sqlite_where=sa.text("state = 'active'"))
    op.create_table('ledger_entry',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('account_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('amount_micro_usd', sa.BigInteger(), nullable=False),
    sa.Column('balance_after_micro_usd', sa.BigInteger(), nullable=False),
    sa.Column('job_id', sa.String(length=40), nullable=True),
    sa.Column('hold_id', sa.String(length=40), nullable=True),
    sa.Column('memo', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('deposit', 'capture')", name=op.f('ck_ledger_entry_kind_known')),
    sa.CheckConstraint('amount_micro_usd >= 0', name=op.f('ck_ledger_entry_amount_not_negative')),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_ledger_entry_account_id_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entry'))
    )
    op.create_index(op.f('ix_ledger_entry_account_id'), 'ledger_entry', ['account_id'], unique=False)
    op.create_index('uq_ledger_entry_capture_job', 'ledger_entry', ['job_id'], unique=True, postgresql_where=sa.text("kind = 'capture'"), sqlite_where=sa.text("kind = 'capture'"))
    op.create_table('multimodal_jobs',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('account_id', sa.String(length=40), nullable=False),
    sa.Column('api_key_id', sa.String(length=40), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('model', sa.String(length=40), nullable=False),
    sa.Column('prompt', sa.Text(), nullable=True),
    sa.Column('lyrics', sa.Text(), nullable=True),
    sa.Column('music_length_ms', sa.Integer(), nullable=False),
    sa.Column('response_format', sa.String(length=32), nullable=False),
    sa.Column('save_to_blob', sa.Boolean(), nullable=False),
    sa.Column('cost_micro_usd', sa.BigInteger(), nullable=False),
    sa.Column('hold_id', sa.String(length=40), nullable=True),
    sa.Column('balance_after_micro_usd', sa.BigInteger(), nullable=True),
    sa.Column('billed_duration_ms', sa.Integer(), nullable=True),
    sa.Column('provider', sa.String(length=40), nullable=True),
    sa.Column('provider_ref', sa.String(length=200), nullable=True),
    sa.Column('provider_calls', sa.Integer(), nullable=False),
    sa.Column('blob_key', sa.String(length=400), nullable=True),
    sa.Column('blob_size', sa.BigInteger(), nullable=True),
    sa.Column('content_type', sa.String(length=64), nullable=True),
    sa.Column('public_url', sa.String(length=1000), nullable=True),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retain_until', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_multimodal_jobs_account_id_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_multimodal_jobs'))
    )
    op.create_index('ix_multimodal_jobs_account_id_created_at', 'multimodal_jobs', ['account_id', 'created_at'], unique=False)
    op.create_index('ix_multimodal_jobs_status_deadline_at', 'multimodal_jobs', ['status', 'deadline_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_multimodal_jobs_status_deadline_at', table_name='multimodal_jobs')
    op.drop_index('ix_multimodal_jobs_account_id_created_at', table_name='multimodal_jobs')
    op.drop_table('multimodal_jobs')
    op.drop_index('uq_ledger_entry_capture_job', table_name='ledger_entry', postgresql_where=sa.text("kind = 'capture'"), sqlite_where=sa.text("kind = 'capture'"))
    op.drop_index(op.f('ix_ledger_entry_account_id'), table_name='ledger_entry')
    op.drop_table('ledger_entry')
    op.drop_index('ix_hold_active', table_name='hold', postgresql_where=sa.text("state = 'active'"), sqlite_where=sa.text("state = 'active'"))
    op.drop_index(op.f('ix_hold_account_id'), table_name='hold')
    op.drop_table('hold')
    op.drop_index(op.f('ix_api_key_account_id'), table_name='api_key')
    op.drop_table('api_key')
    op.drop_table('account')
