"""How long a store's checkouts hold stock (``stockHoldMinutes`` in the store file).

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('stores', sa.Column('stock_hold_minutes', sa.Integer(), server_default='15',
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('stores') as batch_op:
        batch_op.drop_column('stock_hold_minutes')
