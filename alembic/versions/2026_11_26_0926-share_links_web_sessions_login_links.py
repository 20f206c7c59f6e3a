"""Share links, gallery sessions and one-time sign-in links.

Revision ID: 209fe0816d52
Revises: 1552a2c4e776
Create Date: 2026-11-26 09:26:50.328888
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '209fe0816d52'
down_revision: str | None = '1552a2c4e776'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('login_link',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('account_id', sa.String(length=40), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_login_link_account_id_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_link')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_login_link_token_hash'))
    )
    op.create_index(op.f('ix_login_link_account_id'), 'login_link', ['account_id'], unique=False)
    op.create_table('web_session',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('account_id', sa.String(length=40), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_web_session_account_id_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_web_session_token_hash'))
    )
    op.create_index(op.f('ix_web_session_account_id'), 'web_session', ['account_id'], unique=False)
    op.create_table('share_link',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('job_id', sa.String(length=40), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['multimodal_jobs.id'], name=op.f('fk_share_link_job_id_multimodal_jobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_share_link')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_share_link_token_hash'))
    )
    op.create_index(op.f('ix_share_link_job_id'), 'share_link', ['job_id'], unique=False)
    op.create_index('ix_multimodal_jobs_retain_until', 'multimodal_jobs', ['retain_until'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_multimodal_jobs_retain_until', table_name='multimodal_jobs')
    op.drop_index(op.f('ix_share_link_job_id'), table_name='share_link')
    op.drop_table('share_link')
    op.drop_index(op.f('ix_web_session_account_id'), table_name='web_session')
    op.drop_table('web_session')
    op.drop_index(op.f('ix_login_link_account_id'), table_name='login_link')
    op.drop_table('login_link')
