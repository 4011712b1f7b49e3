"""near-duplicate story grouping: MinHash signature per article and LSH band keys

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 11:40:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('minhash', sa.LargeBinary(), nullable=True))
    op.create_table(
        'article_bands',
        sa.Column('band', sa.String(length=16), nullable=False),
        sa.Column('article_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_article_bands_article_id_articles'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('band', 'article_id', name=op.f('pk_article_bands')),
    )
    with op.batch_alter_table('article_bands', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_article_bands_article_id'), ['article_id'], unique=False)


def downgrade() -> None:
    op.drop_table('article_bands')
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_column('minhash')
