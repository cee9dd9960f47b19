"""Store configuration: stores, currencies, countries, taxes, methods and products.

Money and quantities are BigInteger columns holding 10**-6 units (see db/types.py).

Revision ID: 0001
Revises: 
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('stores',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('alias', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('prices_include_tax', sa.Boolean(), nullable=False),
    sa.Column('base_currency_id', sa.Uuid(), nullable=True),
    sa.Column('default_country_id', sa.Uuid(), nullable=True),
    sa.Column('default_tax_class_id', sa.Uuid(), nullable=True),
    sa.Column('default_order_status_id', sa.Uuid(), nullable=True),
    sa.Column('cart_number_template', sa.String(length=100), nullable=False),
    sa.Column('order_number_template', sa.String(length=100), nullable=False),
    sa.Column('rounding_method', sa.String(length=10), nullable=False),
    sa.Column('config_version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stores')),
    sa.UniqueConstraint('alias', name=op.f('uq_stores_alias'))
    )
    op.create_table('countries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('store_id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('default_currency_id', sa.Uuid(), nullable=True),
    sa.Column('default_payment_method_id', sa.Uuid(), nullable=True),
    sa.Column('default_shipping_method_id', sa.Uuid(), nullable=True),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_countries_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_countries')),
    sa.UniqueConstraint('store_id', 'code', name='uq_countries_store_code')
    )
    op.create_table('currencies',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('store_id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=3), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('culture', sa.String(length=20), nullable=False),
    sa.Column('decimal_places', sa.Integer(), nullable=False),
    sa.Column('format_template', sa.String(length=100), nullable=True),
    sa.Column('allowed_country_codes', sa.JSON(), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_currencies_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_currencies')),
    sa.UniqueConstraint('store_id', 'code', name='uq_currencies_store_code')
    )
    op.create_table('order_statuses',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('store_id', sa.Uuid(), nullable=False),
    sa.Column('alias', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('color', sa.String(length=30), nullable=True),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_order_statuses_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_statuses')),
    sa.UniqueConstraint('store_id', 'alias', name='uq_order_statuses_store_alias')
    )
    op.create_table('payment_methods',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('store_id', sa.Uuid(), nullable=False),
    sa.Column('alias', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('provider_alias', sa.String(length=100), nullable=False),
    sa.Column('sku', sa.String(length=100), nullable=True),
    sa.Column('tax_class_id', sa.Uuid(), nullable=True),
    sa.Column('image_url', sa.String(length=2000), nullable=True),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_payment_methods_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_methods')),
    sa.UniqueConstraint('store_id', 'alias', name='uq_payment_methods_store_alias')
    )
    op.create_table('products',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('store_id', sa.Uuid(), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=False),
    sa.Column('sku', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('tax_class_id', sa.Uuid(), nullable=True),
    sa.Column('stock', sa.BigInteger(), nullable=True),
    sa.Column('is_gift_card', sa.Boolean(), nullable=False),
    sa.Column('properties', sa.JSON(), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_products_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_products')),
    sa.UniqueConstraint('store_id', 'reference', name='uq_products_store_reference')
    )
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.create_index('ix_products_store_sort', ['store_id', 'sort_order'], unique=False)

    op.create_table('shipping_methods',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('store_id', sa.Uuid(), nullable=False),
    sa.Column('alias', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('sku', sa.String(length=100), nullable=True),
    sa.Column('tax_class_id', sa.Uuid(), nullable=True),
    sa.Column('image_url', sa.String(length=2000), nullable=True),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_shipping_methods_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipping_methods')),
    sa.UniqueConstraint('store_id', 'alias', name='uq_shipping_methods_store_alias')
    )
    op.create_table('tax_classes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('store_id', sa.Uuid(), nullable=False),
    sa.Column('alias', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('default_rate', sa.BigInteger(), nullable=False),
    sa.Column('default_tax_code', sa.String(length=50), nullable=True),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_tax_classes_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tax_classes')),
    sa.UniqueConstraint('store_id', 'alias', name='uq_tax_classes_store_alias')
    )
    op.create_table('allowed_countries',
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('country_id', sa.Uuid(), nullable=False),
    sa.Column('region_code', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['country_id'], ['countries.id'], name=op.f('fk_allowed_countries_country_id_countries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('owner_id', 'country_id', 'region_code', name=op.f('pk_allowed_countries'))
    )
    op.create_table('payment_method_settings',
    sa.Column('payment_method_id', sa.Uuid(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('is_secret', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['payment_method_id'], ['payment_methods.id'], name=op.f('fk_payment_method_settings_payment_method_id_payment_methods'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('payment_method_id', 'key', name=op.f('pk_payment_method_settings'))
    )
    op.create_table('prices',
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('currency_id', sa.Uuid(), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['currency_id'], ['currencies.id'], name=op.f('fk_prices_currency_id_currencies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('owner_id', 'currency_id', name=op.f('pk_prices'))
    )
    op.create_table('product_variants',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=False),
    sa.Column('sku', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('stock', sa.BigInteger(), nullable=True),
    sa.Column('properties', sa.JSON(), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_product_variants_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_variants')),
    sa.UniqueConstraint('product_id', 'reference', name='uq_product_variants_product_reference')
    )
    op.create_table('regions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('country_id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('default_payment_method_id', sa.Uuid(), nullable=True),
    sa.Column('default_shipping_method_id', sa.Uuid(), nullable=True),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['country_id'], ['countries.id'], name=op.f('fk_regions_country_id_countries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regions')),
    sa.UniqueConstraint('country_id', 'code', name='uq_regions_country_code')
    )
    op.create_table('shipping_options',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('shipping_method_id', sa.Uuid(), nullable=False),
    sa.Column('alias', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['shipping_method_id'], ['shipping_methods.id'], name=op.f('fk_shipping_options_shipping_method_id_shipping_methods'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipping_options')),
    sa.UniqueConstraint('shipping_method_id', 'alias', name='uq_shipping_options_method_alias')
    )
    op.create_table('tax_rates',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tax_class_id', sa.Uuid(), nullable=False),
    sa.Column('country_id', sa.Uuid(), nullable=False),
    sa.Column('region_id', sa.Uuid(), nullable=True),
    sa.Column('rate', sa.BigInteger(), nullable=False),
    sa.Column('tax_code', sa.String(length=50), nullable=True),
    sa.ForeignKeyConstraint(['country_id'], ['countries.id'], name=op.f('fk_tax_rates_country_id_countries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_tax_rates_region_id_regions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tax_class_id'], ['tax_classes.id'], name=op.f('fk_tax_rates_tax_class_id_tax_classes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tax_rates'))
    )
    with op.batch_alter_table('tax_rates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tax_rates_tax_class_id'), ['tax_class_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('tax_rates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tax_rates_tax_class_id'))

    op.drop_table('tax_rates')
    op.drop_table('shipping_options')
    op.drop_table('regions')
    op.drop_table('product_variants')
    op.drop_table('prices')
    op.drop_table('payment_method_settings')
    op.drop_table('allowed_countries')
    op.drop_table('tax_classes')
    op.drop_table('shipping_methods')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_index('ix_products_store_sort')

    op.drop_table('products')
    op.drop_table('payment_methods')
    op.drop_table('order_statuses')
    op.drop_table('currencies')
    op.drop_table('countries')
    op.drop_table('stores')

