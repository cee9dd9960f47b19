"""The shopper's emails: one message per order event and type with the lease a worker
holds while sending it, every attempt, the outbox's own mark of the events emails were
made of, and the store file's email settings.

Events recorded before this migration are marked as emailed: upgrading does not send the
shop's history to its shoppers.

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('stores', sa.Column('emails', sa.JSON(), nullable=True))
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('emailed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_outbox_events_unemailed', ['emailed_at', 'created_at'], unique=False)
    op.execute("UPDATE outbox_events SET emailed_at = created_at")

    op.create_table('email_messages',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('store_id', sa.Uuid(), nullable=False),
    sa.Column('order_id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('resends', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_owner', sa.String(length=100), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('handing_over_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('message_id', sa.String(length=250), nullable=True),
    sa.Column('language', sa.String(length=20), nullable=True),
    sa.Column('subject', sa.String(length=500), nullable=True),
    sa.Column('recipient', sa.String(length=320), nullable=True),
    sa.Column('mail_from', sa.String(length=320), nullable=True),
    sa.Column('rcpt_to', sa.JSON(), nullable=True),
    sa.Column('mime', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['outbox_events.id'], name=op.f('fk_email_messages_event_id_outbox_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_messages')),
    sa.UniqueConstraint('event_id', 'type', name='uq_email_messages_event_type')
    )
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.create_index('ix_email_messages_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_email_messages_order', ['order_id', 'created_at'], unique=False)

    op.create_table('email_attempts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('email_id', sa.Uuid(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('code', sa.Integer(), nullable=True),
    sa.Column('detail', sa.String(length=500), nullable=True),
    sa.Column('worker', sa.String(length=100), nullable=False),
    sa.Column('via', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['email_id'], ['email_messages.id'], name=op.f('fk_email_attempts_email_id_email_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_attempts'))
    )
    with op.batch_alter_table('email_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_email_attempts_email', ['email_id', 'number'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('email_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_email_attempts_email')
    op.drop_table('email_attempts')
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_email_messages_order')
        batch_op.drop_index('ix_email_messages_due')
    op.drop_table('email_messages')
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_events_unemailed')
        batch_op.drop_column('emailed_at')
    with op.batch_alter_table('stores') as batch_op:
        batch_op.drop_column('emails')
