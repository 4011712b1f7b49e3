"""search and exploration indexes

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 09:00:00

- ix_articles_when: the article's date, coalesce(published_at, fetched_at), which search and
  newsmon.explore filter and sort on (a plain published_at index cannot serve that expression).
- ix_entities_lower_name: entity lookups by name in any case (search --entity, newsmon entity).
- ix_mentions_article_entity: per-article entity counts (top and trending entities, co-mentions)
  read from the index alone.

Expression indexes: PostgreSQL reflects them, so autogenerate compares them; SQLite cannot, and
autogenerate skips them there with a warning (no spurious operations either way).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_articles_when', 'articles', [sa.text('coalesce(published_at, fetched_at)')], unique=False)
    op.create_index('ix_entities_lower_name', 'entities', [sa.text('lower(name)')], unique=False)
    with op.batch_alter_table('mentions', schema=None) as batch_op:
        batch_op.create_index('ix_mentions_article_entity', ['article_id', 'entity_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('mentions', schema=None) as batch_op:
        batch_op.drop_index('ix_mentions_article_entity')
    op.drop_index('ix_entities_lower_name', table_name='entities')
    op.drop_index('ix_articles_when', table_name='articles')
