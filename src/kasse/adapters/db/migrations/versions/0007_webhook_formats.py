"""Merchant webhook endpoints choose how their requests are signed: kasse's own format
(every endpoint that exists already) or Standard Webhooks.

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The server default fills the rows that exist: they keep signing as before.
    op.add_column('webhook_endpoints',
                  sa.Column('format', sa.String(length=20), server_default='kasse',
                            nullable=False))


def downgrade() -> None:
    # SQLite drops a column by copying the table (batch mode).
    with op.batch_alter_table('webhook_endpoints') as batch_op:
        batch_op.drop_column('format')
