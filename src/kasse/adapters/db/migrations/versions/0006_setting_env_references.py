"""Payment method settings from the environment keep the variable's name, not its value.

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('payment_method_settings',
                  sa.Column('env', sa.String(length=100), nullable=True))


def downgrade() -> None:
    # SQLite drops a column by copying the table (batch mode).
    with op.batch_alter_table('payment_method_settings') as batch_op:
        batch_op.drop_column('env')
