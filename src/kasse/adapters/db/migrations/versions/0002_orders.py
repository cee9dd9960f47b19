"""Orders and their lines (carts are orders that are not finalized), number counters.

Money and quantities are BigInteger columns holding 10**-6 units (see db/types.py).

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('number_sequences',
    sa.Column('store_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('last_value', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_number_sequences_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('store_id', 'kind', name=op.f('pk_number_sequences'))
    )
    op.create_table('orders',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('store_id', sa.Uuid(), nullable=False),
    sa.Column('cart_number', sa.String(length=100), nullable=False),
    sa.Column('order_number', sa.String(length=100), nullable=True),
    sa.Column('currency_id', sa.Uuid(), nullable=False),
    sa.Column('tax_class_id', sa.Uuid(), nullable=True),
    sa.Column('language', sa.String(length=35), nullable=True),
    sa.Column('customer_reference', sa.String(length=200), nullable=True),
    sa.Column('customer_email', sa.String(length=320), nullable=True),
    sa.Column('order_status_id', sa.Uuid(), nullable=True),
    sa.Column('billing_country_id', sa.Uuid(), nullable=True),
    sa.Column('billing_region_id', sa.Uuid(), nullable=True),
    sa.Column('shipping_country_id', sa.Uuid(), nullable=True),
    sa.Column('shipping_region_id', sa.Uuid(), nullable=True),
    sa.Column('shipping_same_as_billing', sa.Boolean(), nullable=False),
    sa.Column('shipping_method_id', sa.Uuid(), nullable=True),
    sa.Column('shipping_option_id', sa.Uuid(), nullable=True),
    sa.Column('payment_method_id', sa.Uuid(), nullable=True),
    sa.Column('properties', sa.JSON(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finalized_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('payment_status', sa.String(length=30), nullable=True),
    sa.Column('transaction_id', sa.String(length=200), nullable=True),
    sa.Column('authorized_amount', sa.BigInteger(), nullable=True),
    sa.Column('fee_amount', sa.BigInteger(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_orders_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('store_id', 'cart_number', name='uq_orders_store_cart_number'),
    sa.UniqueConstraint('store_id', 'order_number', name='uq_orders_store_order_number')
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_store_customer_email', ['store_id', 'customer_email'], unique=False)
        batch_op.create_index('ix_orders_store_customer_reference', ['store_id', 'customer_reference'], unique=False)

    op.create_table('order_lines',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('order_id', sa.Uuid(), nullable=False),
    sa.Column('parent_id', sa.Uuid(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('product_reference', sa.String(length=200), nullable=False),
    sa.Column('variant_reference', sa.String(length=200), nullable=True),
    sa.Column('sku', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('quantity', sa.BigInteger(), nullable=False),
    sa.Column('unit_price', sa.BigInteger(), nullable=False),
    sa.Column('product_tax_class_id', sa.Uuid(), nullable=True),
    sa.Column('tax_class_id', sa.Uuid(), nullable=True),
    sa.Column('properties', sa.JSON(), nullable=False),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('bundle_id', sa.String(length=100), nullable=True),
    sa.Column('is_gift_card', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_lines_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_lines'))
    )
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.create_index('ix_order_lines_order', ['order_id', 'position'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.drop_index('ix_order_lines_order')

    op.drop_table('order_lines')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_store_customer_reference')
        batch_op.drop_index('ix_orders_store_customer_email')

    op.drop_table('orders')
    op.drop_table('number_sequences')
