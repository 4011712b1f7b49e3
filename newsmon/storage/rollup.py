"""Counts per entity over a time window from the entity_days rollup.

Whole UTC days inside the window are summed from ``entity_days`` (kept by
``Repository.save_analysis``); the window's partial first and last day are counted from
``mentions`` (the window's articles via ``ix_articles_when``, their mentions via the covering
``ix_mentions_article_entity``). An article has one day, so summing its counts over the parts is
exact. The cost follows the days and entities in the window, not its articles.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, Select, cast, distinct, func, select, union_all

from newsmon.storage.models import ArticleRow, EntityDay, MentionRow, article_date

Window = tuple[datetime | None, datetime | None]  # half-open [since, until); None: unbounded


def entity_window_counts(since: datetime | None, until: datetime | None, wanted: Any = None) -> Select[Any]:
    """SELECT (entity_id, mentions, articles) over [since, until), for the entity ids `wanted`
    selects (a subquery of ids), or every entity."""
    parts: list[Any] = []
    whole = whole_days(since, until)
    if whole is not None:
        first, last = whole
        days = select(EntityDay.entity_id.label("entity_id"), EntityDay.mentions.label("mentions"),
                      EntityDay.articles.label("articles"))
        days = days.where(EntityDay.day >= first) if first is not None else days
        days = days.where(EntityDay.day < last) if last is not None else days
        parts.append(days.where(EntityDay.entity_id.in_(wanted)) if wanted is not None else days)
    for start, end in partial_days(since, until, whole):
        # every entity of the partial day's articles, `wanted` applied after: with the entity
        # condition inside, SQLite reads a frequent entity's every mention, article dates after
        parts.append(select(MentionRow.entity_id.label("entity_id"), func.count(MentionRow.id).label("mentions"),
                            func.count(distinct(MentionRow.article_id)).label("articles"))
                     .where(MentionRow.article_id.in_(articles_dated(start, end))).group_by(MentionRow.entity_id))
    both = union_all(*parts).subquery("parts") if len(parts) > 1 else parts[0].subquery("parts")
    # sums of bigint counts are numeric on PostgreSQL: back to integers
    stmt = (select(both.c.entity_id, cast(func.sum(both.c.mentions), Integer).label("mentions"),
                   cast(func.sum(both.c.articles), Integer).label("articles")).group_by(both.c.entity_id))
    return stmt.where(both.c.entity_id.in_(wanted)) if wanted is not None else stmt


def articles_dated(since: datetime | None, until: datetime | None) -> Select[Any]:
    """Ids of the articles dated in [since, until)."""
    stmt = select(ArticleRow.id)
    stmt = stmt.where(article_date() >= since) if since is not None else stmt
    return stmt.where(article_date() < until) if until is not None else stmt


def whole_days(since: datetime | None, until: datetime | None) -> tuple[date | None, date | None] | None:
    """The UTC days lying wholly inside [since, until) as [first, last) (None: unbounded), or None."""
    first = None if since is None else _utc(since).date() + timedelta(days=0 if _midnight(since) else 1)
    last = None if until is None else _utc(until).date()
    if first is not None and last is not None and first >= last:
        return None
    return first, last


def partial_days(since: datetime | None, until: datetime | None,
                 whole: tuple[date | None, date | None] | None) -> list[Window]:
    """The parts of [since, until) outside its whole days, to be counted from mentions."""
    if whole is None:
        return [(since, until)]
    first, last = whole
    parts: list[Window] = []
    if since is not None and first is not None and _utc(since) < day_start(first):
        parts.append((since, day_start(first)))
    if until is not None and last is not None and _utc(until) > day_start(last):
        parts.append((day_start(last), until))
    return parts


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _midnight(value: datetime) -> bool:
    return _utc(value).time() == datetime.min.time()


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
