"""Stock that cannot be oversold: a ledger of every change to stock on hand, and
reservations held while an order is being paid.

Every product and variant with tracked stock gets an opening entry, so that stock on
hand equals the sum of its ledger from the start.

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

from kasse.adapters.db.types import ScaledDecimal


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stock_ledger',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('store_id', sa.Uuid(), nullable=False),
    sa.Column('item_id', sa.Uuid(), nullable=False),
    sa.Column('delta', ScaledDecimal(), nullable=False),
    sa.Column('cause', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('order_id', sa.Uuid(), nullable=True),
    sa.Column('actor', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_stock_ledger_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_ledger'))
    )
    op.create_index('ix_stock_ledger_item', 'stock_ledger', ['item_id', 'created_at'])
    op.create_table('stock_reservations',
    sa.Column('order_id', sa.Uuid(), nullable=False),
    sa.Column('item_id', sa.Uuid(), nullable=False),
    sa.Column('store_id', sa.Uuid(), nullable=False),
    sa.Column('quantity', ScaledDecimal(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_stock_reservations_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('order_id', 'item_id', name=op.f('pk_stock_reservations'))
    )
    op.create_index('ix_stock_reservations_item', 'stock_reservations', ['item_id', 'expires_at'])
    op.create_index('ix_stock_reservations_expires', 'stock_reservations', ['expires_at'])
    # The opening balance: what is on hand now.
    op.execute("""
        INSERT INTO stock_ledger (id, store_id, item_id, delta, cause, reason, created_at)
        SELECT id, store_id, id, stock, 'opening', 'stock on hand when the ledger began',
               CURRENT_TIMESTAMP
        FROM products WHERE stock IS NOT NULL
    """)
    op.execute("""
        INSERT INTO stock_ledger (id, store_id, item_id, delta, cause, reason, created_at)
        SELECT v.id, p.store_id, v.id, v.stock, 'opening',
               'stock on hand when the ledger began', CURRENT_TIMESTAMP
        FROM product_variants v JOIN products p ON p.id = v.product_id
        WHERE v.stock IS NOT NULL
    """)


def downgrade() -> None:
    op.drop_index('ix_stock_reservations_expires', table_name='stock_reservations')
    op.drop_index('ix_stock_reservations_item', table_name='stock_reservations')
    op.drop_table('stock_reservations')
    op.drop_index('ix_stock_ledger_item', table_name='stock_ledger')
    op.drop_table('stock_ledger')
