"""alerting: follow-up facts per (rule, story), digests and caps, spikes

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 10:00:00

- matches.facts / matches.version: the facts already notified for a (rule, story) and the
  version of the last notification (1 = the alert, 2.. = follow-ups); ix_matches_story_id.
- notifications.rule and ix_notifications_rule_channel: per-rule caps per interval.
- alert_items: stories waiting for a channel's digest or over a rule's cap.
- spikes: entity surges that fired, one per (rule, entity, window).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('matches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('facts', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default=sa.text('1')))
        batch_op.create_index(batch_op.f('ix_matches_story_id'), ['story_id'], unique=False)
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rule', sa.String(length=200), nullable=True))
        batch_op.create_index('ix_notifications_rule_channel', ['rule', 'channel', 'created_at'], unique=False)
    op.create_table('alert_items',
    sa.Column('id', Id, nullable=False),
    sa.Column('channel', sa.String(length=200), nullable=False),
    sa.Column('rule', sa.String(length=200), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('bucket_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('bucket_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('entry', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('notification_id', Id, nullable=True),
    sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'],
                            name=op.f('fk_alert_items_notification_id_notifications'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_items')),
    sa.UniqueConstraint('channel', 'rule', 'subject', 'version', name=op.f('uq_alert_items_channel_rule_subject_version'))
    )
    with op.batch_alter_table('alert_items', schema=None) as batch_op:
        batch_op.create_index('ix_alert_items_pending', ['notification_id', 'bucket_end'], unique=False)
    op.create_table('spikes',
    sa.Column('id', Id, nullable=False),
    sa.Column('rule', sa.String(length=200), nullable=False),
    sa.Column('entity', sa.String(length=400), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('baseline', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spikes')),
    sa.UniqueConstraint('rule', 'entity', 'window_start', name=op.f('uq_spikes_rule_entity_window_start'))
    )


def downgrade() -> None:
    op.drop_table('spikes')
    with op.batch_alter_table('alert_items', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_items_pending')
    op.drop_table('alert_items')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_rule_channel')
        batch_op.drop_column('rule')
    with op.batch_alter_table('matches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_matches_story_id'))
        batch_op.drop_column('version')
        batch_op.drop_column('facts')
