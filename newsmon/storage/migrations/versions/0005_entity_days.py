"""entity_days: per-entity, per-day mention counts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 13:30:00

- entity_days(entity_id, day, mentions, articles): mentions and distinct articles per entity and
  UTC day of the article's date, kept by Repository.save_analysis. Top and trending entities and
  timelines read whole days from it, so their cost follows the number of days and entities in a
  window rather than the number of articles.
- ix_entity_days_day_entity: a window's days for every entity (top and trending entities).
- Backfilled from the stored mentions.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_DAY = {
    # SQLite keeps naive UTC text 'YYYY-MM-DD HH:MM:SS...' (its Date type is 'YYYY-MM-DD' text)
    "sqlite": "substr(coalesce(a.published_at, a.fetched_at), 1, 10)",
    "postgresql": "(coalesce(a.published_at, a.fetched_at) AT TIME ZONE 'UTC')::date",
}


def upgrade() -> None:
    op.create_table('entity_days',
    sa.Column('entity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('mentions', sa.Integer(), nullable=False),
    sa.Column('articles', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_entity_days_entity_id_entities')),
    sa.PrimaryKeyConstraint('entity_id', 'day', name=op.f('pk_entity_days'))
    )
    with op.batch_alter_table('entity_days', schema=None) as batch_op:
        batch_op.create_index('ix_entity_days_day_entity', ['day', 'entity_id'], unique=False)
    day = _DAY[op.get_bind().dialect.name]
    op.execute(f"INSERT INTO entity_days (entity_id, day, mentions, articles) "
               f"SELECT m.entity_id, {day}, count(*), count(DISTINCT m.article_id) "
               f"FROM mentions m JOIN articles a ON a.id = m.article_id GROUP BY m.entity_id, {day}")


def downgrade() -> None:
    with op.batch_alter_table('entity_days', schema=None) as batch_op:
        batch_op.drop_index('ix_entity_days_day_entity')
    op.drop_table('entity_days')
