"""The schema: SQLAlchemy 2 typed models, one code path for SQLite and PostgreSQL.

Unique keys make every write idempotent: the URL hash, (article, span, label) for mentions,
(rule, story) for matches and the idempotency key for notifications.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, LargeBinary,
                        MetaData, String, Text, UniqueConstraint, func)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BigInteger primary keys on PostgreSQL, INTEGER (rowid alias) on SQLite
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both back ends (SQLite keeps no zone: store naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class SourceState(Base):
    """Per-source crawl state: conditional GET validators and health."""

    __tablename__ = "source_state"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    url: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class Story(Base):
    __tablename__ = "stories"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    headline: Mapped[str | None] = mapped_column(Text)
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime())


class ArticleRow(Base):
    __tablename__ = "articles"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    url_hash: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(200), index=True)
    title: Mapped[str | None] = mapped_column(Text)
    authors: Mapped[list[Any]] = mapped_column(JSON, default=list)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    date_source: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str | None] = mapped_column(String(16))
    site_name: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    extractor: Mapped[str] = mapped_column(String(40), default="")
    fetched_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    status_reason: Mapped[str | None] = mapped_column(Text)
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id"), index=True)
    minhash: Mapped[bytes | None] = mapped_column(LargeBinary)  # near-duplicate signature


def article_date() -> Any:
    """An article's date for windows and ordering (search, explore, alerts): published, else
    fetched; ix_articles_when indexes exactly this expression."""
    return func.coalesce(ArticleRow.published_at, ArticleRow.fetched_at)


Index("ix_articles_when", article_date())


class ArticleUrl(Base):
    """Every URL that led to an article (requested, final, canonical): the crawl's seen-set."""

    __tablename__ = "article_urls"
    url_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)


class EntityRow(Base):
    __tablename__ = "entities"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)  # "TYPE|lower name"
    name: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(20), index=True)
    watched: Mapped[bool] = mapped_column(Boolean, default=False)
    external_id: Mapped[str | None] = mapped_column(String(40))


Index("ix_entities_lower_name", func.lower(EntityRow.name))  # names are looked up in any case


class MentionRow(Base):
    __tablename__ = "mentions"
    __table_args__ = (UniqueConstraint("article_id", "start", "end", "label"),
                      Index("ix_mentions_entity_article", "entity_id", "article_id"),
                      Index("ix_mentions_article_entity", "article_id", "entity_id"))  # covers per-article counts
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"))
    text: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(20))
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    sentence: Mapped[str] = mapped_column(Text)


class EntityDay(Base):
    """Per (entity, UTC day of the article's date): mentions and distinct articles, a rollup of
    `mentions` kept by Repository.save_analysis (in the mentions' transaction, by increments, so
    concurrent writers on PostgreSQL add up). Top, trending and per-day timelines read whole days
    from here and only a window's partial first and last day from `mentions`. Anything that
    deletes mentions must decrement it."""

    __tablename__ = "entity_days"
    __table_args__ = (Index("ix_entity_days_day_entity", "day", "entity_id"),)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    mentions: Mapped[int] = mapped_column(Integer)
    articles: Mapped[int] = mapped_column(Integer)


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("article_id", "type", "start", "trigger"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(32), index=True)
    trigger: Mapped[str] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(Text)
    target: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str | None] = mapped_column(String(8))
    date: Mapped[str | None] = mapped_column(String(64))
    legal_basis: Mapped[str | None] = mapped_column(Text)
    sentence: Mapped[str] = mapped_column(Text)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    confidence: Mapped[float] = mapped_column(Float, default=0.5)


class MatchRow(Base):
    """One per (rule, story): the first article that fired, and the facts already notified."""

    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("rule", "story_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    rule: Mapped[str] = mapped_column(String(200))
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id"), index=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    facts: Mapped[list[Any]] = mapped_column(JSON, default=list)  # fact keys (newsmon.alerts.facts)
    version: Mapped[int] = mapped_column(Integer, default=1)  # 1 = the alert, 2.. = follow-ups


class NotificationRow(Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "status", "next_attempt_at"),
                      Index("ix_notifications_rule_channel", "rule", "channel", "created_at"))
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    match_id: Mapped[int | None] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str | None] = mapped_column(String(200))  # for per-rule caps; None for digests
    channel: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(400), unique=True)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    body_format: Mapped[str] = mapped_column(String(16), default="markdown")
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ArticleBand(Base):
    """MinHash LSH band keys: articles sharing a key are near-duplicate candidates."""

    __tablename__ = "article_bands"
    band: Mapped[str] = mapped_column(String(16), primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True,
                                            index=True)


class AlertItem(Base):
    """A story (or spike) waiting for its channel's digest, or over its rule's cap: rolled into one
    notification when its interval ends (notification_id is then set)."""

    __tablename__ = "alert_items"
    __table_args__ = (UniqueConstraint("channel", "rule", "subject", "version"),
                      Index("ix_alert_items_pending", "notification_id", "bucket_end"))
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(200))
    rule: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200))  # "story-12", "spike-Twitter-2021-07-01T00:00"
    version: Mapped[int] = mapped_column(Integer, default=1)
    kind: Mapped[str] = mapped_column(String(16))  # "digest" or "overflow"
    bucket_start: Mapped[datetime] = mapped_column(UtcDateTime())
    bucket_end: Mapped[datetime] = mapped_column(UtcDateTime())
    entry: Mapped[dict[str, Any]] = mapped_column(JSON)  # what the digest line shows
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id", ondelete="SET NULL"))


class SpikeRow(Base):
    """An entity surge a spike rule fired on; one per (rule, entity, window)."""

    __tablename__ = "spikes"
    __table_args__ = (UniqueConstraint("rule", "entity", "window_start"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    rule: Mapped[str] = mapped_column(String(200))
    entity: Mapped[str] = mapped_column(String(400))
    window_start: Mapped[datetime] = mapped_column(UtcDateTime())
    count: Mapped[int] = mapped_column(Integer)
    baseline: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
