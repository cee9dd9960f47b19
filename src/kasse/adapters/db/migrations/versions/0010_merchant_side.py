"""The merchant's side: staff and management API tokens, the audit log, idempotent
actions, an order's money after checkout (captures, recorded payments, refunds), its
shipments, notes and status history, and the columns and indexes the staff's order
lists filter and sort on (with the orders that used a code, and an order's events for
its timeline).

Placed orders get what can be known of them: what was captured and refunded by their
payment status, and "unfulfilled".

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa

from kasse.adapters.db.types import ScaledDecimal


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_entries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('store_id', sa.Uuid(), nullable=True),
    sa.Column('order_id', sa.Uuid(), nullable=True),
    sa.Column('actor_kind', sa.String(length=20), nullable=False),
    sa.Column('actor_id', sa.String(length=100), nullable=True),
    sa.Column('actor_name', sa.String(length=320), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('version_before', sa.Integer(), nullable=True),
    sa.Column('version_after', sa.Integer(), nullable=True),
    sa.Column('request_id', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entries'))
    )
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entries_order', ['order_id', 'created_at'], unique=False)
        batch_op.create_index('ix_audit_entries_store', ['store_id', 'created_at'], unique=False)

    op.create_table('idempotency_records',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('principal', sa.String(length=100), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response_body', sa.Text(), nullable=True),
    sa.Column('response_headers', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_records')),
    sa.UniqueConstraint('principal', 'key', name='uq_idempotency_records_principal_key')
    )
    with op.batch_alter_table('idempotency_records', schema=None) as batch_op:
        batch_op.create_index('ix_idempotency_records_created', ['created_at'], unique=False)

    op.create_table('staff',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=300), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('store_ids', sa.JSON(), nullable=True),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_sign_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff')),
    sa.UniqueConstraint('email', name=op.f('uq_staff_email'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=20), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('store_ids', sa.JSON(), nullable=True),
    sa.Column('staff_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_api_tokens_staff_id_staff'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index('uq_api_tokens_live_name', ['name'], unique=True, sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))

    op.create_table('fulfilments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('order_id', sa.Uuid(), nullable=False),
    sa.Column('store_id', sa.Uuid(), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('carrier', sa.String(length=100), nullable=True),
    sa.Column('tracking_number', sa.String(length=200), nullable=True),
    sa.Column('tracking_url', sa.String(length=2000), nullable=True),
    sa.Column('actor', sa.String(length=320), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_fulfilments_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fulfilments'))
    )
    with op.batch_alter_table('fulfilments', schema=None) as batch_op:
        batch_op.create_index('ix_fulfilments_order', ['order_id', 'created_at'], unique=False)

    op.create_table('order_notes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('order_id', sa.Uuid(), nullable=False),
    sa.Column('store_id', sa.Uuid(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('actor', sa.String(length=320), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_notes_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_notes'))
    )
    with op.batch_alter_table('order_notes', schema=None) as batch_op:
        batch_op.create_index('ix_order_notes_order', ['order_id', 'created_at'], unique=False)

    op.create_table('order_payments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('order_id', sa.Uuid(), nullable=False),
    sa.Column('store_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('amount', ScaledDecimal(), nullable=True),
    sa.Column('currency_code', sa.String(length=3), nullable=False),
    sa.Column('provider_alias', sa.String(length=100), nullable=True),
    sa.Column('transaction_id', sa.String(length=200), nullable=True),
    sa.Column('operation_id', sa.String(length=200), nullable=True),
    sa.Column('manual', sa.Boolean(), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('actor', sa.String(length=320), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_payments_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_payments')),
    sa.UniqueConstraint('operation_id', name=op.f('uq_order_payments_operation_id'))
    )
    with op.batch_alter_table('order_payments', schema=None) as batch_op:
        batch_op.create_index('ix_order_payments_order', ['order_id', 'created_at'], unique=False)

    op.create_table('order_status_changes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('order_id', sa.Uuid(), nullable=False),
    sa.Column('store_id', sa.Uuid(), nullable=False),
    sa.Column('from_status_id', sa.Uuid(), nullable=True),
    sa.Column('to_status_id', sa.Uuid(), nullable=True),
    sa.Column('actor', sa.String(length=320), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_status_changes_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_status_changes'))
    )
    with op.batch_alter_table('order_status_changes', schema=None) as batch_op:
        batch_op.create_index('ix_order_status_changes_order', ['order_id', 'created_at'], unique=False)

    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fulfilled_quantity', ScaledDecimal(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('refunded_quantity', ScaledDecimal(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('restocked_quantity', ScaledDecimal(), server_default='0', nullable=False))

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('total_price', ScaledDecimal(), nullable=True))
        batch_op.add_column(sa.Column('customer_name', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('captured_amount', ScaledDecimal(), nullable=True))
        batch_op.add_column(sa.Column('refunded_amount', ScaledDecimal(), nullable=True))
        batch_op.add_column(sa.Column('refund_pending_amount', ScaledDecimal(), nullable=True))
        batch_op.add_column(sa.Column('fulfilment_status', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('canceled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_orders_store_finalized', ['store_id', 'finalized_at', 'id', 'order_number', 'customer_name', 'customer_email'], unique=False)
        batch_op.create_index('ix_orders_store_fulfilment_finalized', ['store_id', 'fulfilment_status', 'finalized_at', 'id'], unique=False)
        batch_op.create_index('ix_orders_store_payment_finalized', ['store_id', 'payment_status', 'finalized_at', 'id'], unique=False)
        batch_op.create_index('ix_orders_store_status_finalized', ['store_id', 'order_status_id', 'finalized_at', 'id'], unique=False)
        batch_op.create_index('ix_orders_store_total', ['store_id', 'total_price', 'id'], unique=False)
        # A customer's orders newest first, from the index alone (it replaces the shorter
        # ones, whose columns lead it).
        batch_op.drop_index('ix_orders_store_customer_email')
        batch_op.drop_index('ix_orders_store_customer_reference')
        batch_op.create_index('ix_orders_store_email_finalized', ['store_id', 'customer_email', 'finalized_at', 'id'], unique=False)
        batch_op.create_index('ix_orders_store_reference_finalized', ['store_id', 'customer_reference', 'finalized_at', 'id'], unique=False)
    # The management API's webhook lists: deliveries newest first, and an order's events
    # (its timeline's webhook deliveries too).
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_created', ['created_at', 'id'], unique=False)
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_events_aggregate', ['aggregate_id', 'created_at'], unique=False)
    # The orders that used a code (the staff's order lists filter by it).
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.create_index('ix_redemptions_code', ['code'], unique=False)

    op.execute("""
        UPDATE orders SET fulfilment_status = 'unfulfilled',
            captured_amount = CASE WHEN payment_status IN
                ('Captured', 'PartiallyRefunded', 'Refunded') THEN authorized_amount END,
            refunded_amount = CASE WHEN payment_status = 'Refunded' THEN authorized_amount
                ELSE 0 END,
            refund_pending_amount = 0
        WHERE finalized_at IS NOT NULL
    """)


def downgrade() -> None:
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.drop_index('ix_redemptions_code')
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_events_aggregate')
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_deliveries_created')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_store_reference_finalized')
        batch_op.drop_index('ix_orders_store_email_finalized')
        batch_op.create_index('ix_orders_store_customer_reference', ['store_id', 'customer_reference'], unique=False)
        batch_op.create_index('ix_orders_store_customer_email', ['store_id', 'customer_email'], unique=False)
        batch_op.drop_index('ix_orders_store_total')
        batch_op.drop_index('ix_orders_store_status_finalized')
        batch_op.drop_index('ix_orders_store_payment_finalized')
        batch_op.drop_index('ix_orders_store_fulfilment_finalized')
        batch_op.drop_index('ix_orders_store_finalized')
        batch_op.drop_column('canceled_at')
        batch_op.drop_column('fulfilment_status')
        batch_op.drop_column('refund_pending_amount')
        batch_op.drop_column('refunded_amount')
        batch_op.drop_column('captured_amount')
        batch_op.drop_column('customer_name')
        batch_op.drop_column('total_price')

    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.drop_column('restocked_quantity')
        batch_op.drop_column('refunded_quantity')
        batch_op.drop_column('fulfilled_quantity')

    with op.batch_alter_table('order_status_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_order_status_changes_order')

    op.drop_table('order_status_changes')
    with op.batch_alter_table('order_payments', schema=None) as batch_op:
        batch_op.drop_index('ix_order_payments_order')

    op.drop_table('order_payments')
    with op.batch_alter_table('order_notes', schema=None) as batch_op:
        batch_op.drop_index('ix_order_notes_order')

    op.drop_table('order_notes')
    with op.batch_alter_table('fulfilments', schema=None) as batch_op:
        batch_op.drop_index('ix_fulfilments_order')

    op.drop_table('fulfilments')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index('uq_api_tokens_live_name')

    op.drop_table('api_tokens')
    op.drop_table('staff')
    with op.batch_alter_table('idempotency_records', schema=None) as batch_op:
        batch_op.drop_index('ix_idempotency_records_created')

    op.drop_table('idempotency_records')
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_store')
        batch_op.drop_index('ix_audit_entries_order')

    op.drop_table('audit_entries')
