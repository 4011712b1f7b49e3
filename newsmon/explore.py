"""Queries for exploring what is stored: top and trending entities, one entity's profile,
events and stories.

Every function takes a Repository and returns dataclasses. SQL is SQLAlchemy Core, parameterised,
one code path for SQLite and PostgreSQL. Time windows are half-open ``[since, until)`` over an
article's date: ``published_at``, else ``fetched_at`` (as in search); migration 0002 indexes that
expression (``ix_articles_when``). Entity names match case-insensitively (``ix_entities_lower_name``);
resolving watch-list aliases to canonical names is the caller's job (it needs the configuration).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Float, Select, String, and_, cast, distinct, exists, func, literal, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from newsmon.records import EventType
from newsmon.storage.models import ArticleRow, EntityDay, EntityRow, EventRow, MentionRow, Story, article_date
from newsmon.storage.repository import Repository
from newsmon.storage.rollup import entity_window_counts, partial_days, whole_days

ARTICLE_DATE = article_date()  # exactly as indexed by ix_articles_when (and used by search)


class utc_day(FunctionElement[str]):
    """The UTC calendar day of a timestamp as 'YYYY-MM-DD' (for per-day grouping)."""

    type = String()
    inherit_cache = True
    name = "utc_day"


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: Any, **kw: Any) -> str:
    # UtcDateTime stores naive UTC text 'YYYY-MM-DD HH:MM:SS.ffffff' on SQLite
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 10)"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


# -- records --------------------------------------------------------------------------------------
@dataclass(slots=True)
class EntityFilter:
    """Which entities to count: a window, entity types, only watch-list entities, how many."""

    since: datetime | None = None
    until: datetime | None = None  # default: now
    types: list[str] = field(default_factory=list)
    watched: bool = False
    limit: int = 20


@dataclass(slots=True)
class EntityCount:
    name: str
    type: str
    watched: bool
    mentions: int
    articles: int  # distinct articles


@dataclass(slots=True)
class TrendingEntity:
    name: str
    type: str
    watched: bool
    mentions: int  # in the window
    articles: int  # distinct articles in the window
    baseline: float  # mean mentions per window over the previous windows
    ratio: float  # (mentions + smoothing) / (baseline + smoothing)


@dataclass(slots=True)
class SurfaceForm:
    text: str
    mentions: int


@dataclass(slots=True)
class DayCount:
    day: date
    mentions: int
    articles: int


@dataclass(slots=True)
class CoMention:
    name: str
    type: str
    articles: int  # articles in the window that mention both


@dataclass(slots=True)
class ArticleRef:
    id: int
    title: str | None
    source: str
    url: str
    published_at: datetime  # published_at, else fetched_at
    story_id: int | None


@dataclass(slots=True)
class EventHit:
    id: int
    type: EventType
    trigger: str
    actor: str | None
    target: str | None
    amount: float | None
    currency: str | None
    date: str | None  # the event's own resolved date
    sentence: str
    confidence: float
    article_id: int
    title: str | None
    source: str
    url: str
    published_at: datetime  # the article's date


@dataclass(slots=True)
class EntityProfile:
    """One entity (every type stored under the name): counts, forms, timeline and company in a window."""

    name: str
    types: list[str]
    watched: bool
    since: datetime
    until: datetime
    mentions: int
    articles: int
    surface_forms: list[SurfaceForm]
    timeline: list[DayCount]  # every day of the window, zeros included
    co_mentions: list[CoMention]
    latest_events: list[EventHit]  # newest first, any time
    latest_articles: list[ArticleRef]  # newest first, any time


@dataclass(slots=True)
class EventFilter:
    types: list[EventType] = field(default_factory=list)
    entity: str | None = None  # canonical name: the event's sentence mentions it
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 20


@dataclass(slots=True)
class StorySummary:
    id: int
    headline: str | None
    first_seen: datetime
    latest: datetime  # date of its newest article
    articles: int
    sources: int  # distinct sources


# -- entities --------------------------------------------------------------------------------------
def top_entities(repo: Repository, f: EntityFilter) -> list[EntityCount]:
    """Entities by mentions in the window (then distinct articles, then name)."""
    counts = _entity_counts(f, f.since, f.until).subquery()
    stmt = _named_counts(counts, counts.c.mentions.desc(), counts.c.articles.desc()).limit(f.limit)
    with repo.engine.connect() as conn:
        return [EntityCount(r.name, r.type, bool(r.watched), r.mentions, r.articles) for r in conn.execute(stmt)]


def trending_entities(repo: Repository, f: EntityFilter, windows: int = 4, smoothing: float = 1.0,
                      min_mentions: int = 2) -> list[TrendingEntity]:
    """Entities whose mentions in [since, until) rose most against their own previous `windows`.

    The baseline is the mean count over the `windows` equally long windows before `since`; the
    ratio (mentions + smoothing) / (baseline + smoothing) keeps a jump from 0 to 1 from topping
    the list. Entities with fewer than `min_mentions` in the window are left out.
    """
    if f.since is None:
        raise ValueError("trending entities need a window start (since)")
    until = f.until or _now()
    counted = _entity_counts(f, f.since, until)
    current = counted.having(counted.selected_columns.mentions >= min_mentions).subquery("current")
    previous = _entity_counts(f, f.since - (until - f.since) * windows, f.since).subquery("previous")
    smooth = literal(smoothing, Float)
    baseline = (cast(func.coalesce(previous.c.mentions, 0), Float) / windows).label("baseline")
    ratio = ((cast(current.c.mentions, Float) + smooth) / (baseline + smooth)).label("ratio")
    stmt = (_named_counts(current, ratio.desc(), current.c.mentions.desc()).add_columns(baseline, ratio)
            .outerjoin(previous, previous.c.entity_id == EntityRow.id).limit(f.limit))
    with repo.engine.connect() as conn:
        return [TrendingEntity(r.name, r.type, bool(r.watched), r.mentions, r.articles, float(r.baseline),
                               float(r.ratio)) for r in conn.execute(stmt)]


def _entity_counts(f: EntityFilter, since: datetime | None, until: datetime | None) -> Select[Any]:
    """(entity_id, mentions, articles) over the window, from the entity_days rollup."""
    wanted = None
    if f.types or f.watched:
        wanted = select(EntityRow.id)
        if f.types:
            wanted = wanted.where(EntityRow.type.in_([t.upper() for t in f.types]))
        if f.watched:
            wanted = wanted.where(EntityRow.watched.is_(True))
    return entity_window_counts(since, until, wanted)


def _named_counts(counts: Any, *order: Any) -> Select[Any]:
    return (select(EntityRow.name, EntityRow.type, EntityRow.watched,
                   *[c for c in counts.c if c.name != "entity_id"])
            .join(counts, counts.c.entity_id == EntityRow.id).order_by(*order, EntityRow.name, EntityRow.type))


def entity_profile(repo: Repository, name: str, since: datetime, until: datetime | None = None,
                   types: list[str] | None = None, limit: int = 10) -> EntityProfile | None:
    """Everything about the entities named `name` (any case; optionally only `types`), or None.

    Counts, surface forms, the per-day timeline and co-mentions cover [since, until); the latest
    events (whose sentence mentions the entity) and articles are the newest `limit`, from the
    window when it holds enough of them, else from all time.
    """
    until = until or _now()
    with repo.engine.connect() as conn:
        entities = conn.execute(_named(name, types)).all()
        if not entities:
            return None
        ids = [e.id for e in entities]
        in_window = _mentions_in_window(ids, since, until)
        timeline = _timeline(conn, ids, since, until)
        return EntityProfile(
            name=entities[0].name, types=sorted({e.type for e in entities}),
            watched=any(e.watched for e in entities), since=since, until=until,
            mentions=sum(d.mentions for d in timeline), articles=sum(d.articles for d in timeline),
            surface_forms=_surface_forms(conn, in_window, limit),
            timeline=timeline, co_mentions=_co_mentions(conn, ids, in_window, limit),
            latest_events=_latest_events(conn, ids, since, until, limit),
            latest_articles=_latest_articles(conn, ids, since, until, limit))


def entity_timeline(repo: Repository, name: str, since: datetime, until: datetime | None = None,
                    types: list[str] | None = None) -> list[DayCount]:
    """Mentions and distinct articles per UTC day of [since, until) for the entities named `name`
    (every day, zeros included; empty if no such entity)."""
    until = until or _now()
    with repo.engine.connect() as conn:
        ids = [e.id for e in conn.execute(_named(name, types))]
        if not ids:
            return []
        return _timeline(conn, ids, since, until)


def _named(name: str, types: list[str] | None) -> Any:
    stmt = (select(EntityRow.id, EntityRow.name, EntityRow.type, EntityRow.watched)
            .where(func.lower(EntityRow.name) == name.casefold()).order_by(EntityRow.watched.desc(), EntityRow.id))
    return stmt.where(EntityRow.type.in_([t.upper() for t in types])) if types else stmt


def _mentions_in_window(ids: list[int], since: datetime | None, until: datetime | None) -> list[Any]:
    """Mentions of `ids` in articles of the window. The window's article ids come from a subquery
    (ix_articles_when), so a much-mentioned entity costs what its window costs, not its history."""
    articles = select(ArticleRow.id).where(*_window(ARTICLE_DATE, since, until))
    return [MentionRow.entity_id.in_(ids), MentionRow.article_id.in_(articles)]


def _surface_forms(conn: Any, in_window: list[Any], limit: int) -> list[SurfaceForm]:
    count = func.count(MentionRow.id).label("n")
    rows = conn.execute(select(MentionRow.text, count).where(*in_window).group_by(MentionRow.text)
                        .order_by(count.desc(), MentionRow.text).limit(limit))
    return [SurfaceForm(text, n) for text, n in rows]


def _timeline(conn: Any, ids: list[int], since: datetime, until: datetime) -> list[DayCount]:
    """Every UTC day of [since, until) with the entities' mentions and distinct articles: whole
    days from entity_days, the partial first and last day from mentions."""
    counts: dict[date, tuple[int, int]] = {}
    whole = whole_days(since, until)
    if whole is not None:
        first, last = whole
        rows = conn.execute(select(EntityDay.day, func.sum(EntityDay.mentions), func.sum(EntityDay.articles))
                            .where(EntityDay.entity_id.in_(ids), EntityDay.day >= first, EntityDay.day < last)
                            .group_by(EntityDay.day))
        counts.update({d: (int(m), int(a)) for d, m, a in rows})
    day = utc_day(ARTICLE_DATE).label("day")
    for start, end in partial_days(since, until, whole):
        rows = conn.execute(select(day, func.count(MentionRow.id), func.count(distinct(MentionRow.article_id)))
                            .join(ArticleRow, ArticleRow.id == MentionRow.article_id)
                            .where(*_mentions_in_window(ids, start, end)).group_by(day))
        for d, m, a in rows:
            before = counts.get(date.fromisoformat(d), (0, 0))
            counts[date.fromisoformat(d)] = (before[0] + m, before[1] + a)
    first_day, last_day = _utc(since).date(), _utc(until - timedelta(microseconds=1)).date()
    days = [first_day + timedelta(days=i) for i in range((last_day - first_day).days + 1)]
    return [DayCount(d, *counts.get(d, (0, 0))) for d in days]


def _co_mentions(conn: Any, ids: list[int], in_window: list[Any], limit: int) -> list[CoMention]:
    with_entity = select(MentionRow.article_id).where(*in_window)
    articles = func.count(distinct(MentionRow.article_id)).label("articles")
    rows = conn.execute(
        select(EntityRow.name, EntityRow.type, articles).join(EntityRow, EntityRow.id == MentionRow.entity_id)
        .where(MentionRow.article_id.in_(with_entity), MentionRow.entity_id.not_in(ids))
        .group_by(EntityRow.id, EntityRow.name, EntityRow.type)
        .order_by(articles.desc(), EntityRow.name, EntityRow.type).limit(limit))
    return [CoMention(n, t, a) for n, t, a in rows]


def _latest_events(conn: Any, ids: list[int], since: datetime, until: datetime, limit: int) -> list[EventHit]:
    mentioned = _mentioned_in_event(MentionRow.entity_id.in_(ids))
    found = _events(conn, and_(mentioned, *_window(ARTICLE_DATE, since, until)), limit)
    return found if len(found) == limit else _events(conn, mentioned, limit)


def _latest_articles(conn: Any, ids: list[int], since: datetime, until: datetime, limit: int) -> list[ArticleRef]:
    found = _articles_mentioning(conn, _mentions_in_window(ids, since, until), limit)
    return found if len(found) == limit else _articles_mentioning(conn, [MentionRow.entity_id.in_(ids)], limit)


def _articles_mentioning(conn: Any, mention_conditions: list[Any], limit: int) -> list[ArticleRef]:
    rows = conn.execute(select(ArticleRow.id, ArticleRow.title, ArticleRow.source, ArticleRow.url,
                               ARTICLE_DATE.label("published_at"), ArticleRow.story_id)
                        .where(ArticleRow.id.in_(select(MentionRow.article_id).where(*mention_conditions)))
                        .order_by(ARTICLE_DATE.desc(), ArticleRow.id.desc()).limit(limit))
    return [ArticleRef(*r) for r in rows]


# -- events ------------------------------------------------------------------------------------------
def list_events(repo: Repository, f: EventFilter) -> list[EventHit]:
    """Events newest first (by their article's date); with `entity`, those whose sentence mentions it."""
    conditions = _window(ARTICLE_DATE, f.since, f.until)
    if f.types:
        conditions.append(EventRow.type.in_([EventType(t).value for t in f.types]))
    if f.entity:
        named = select(EntityRow.id).where(func.lower(EntityRow.name) == f.entity.casefold())
        conditions.append(_mentioned_in_event(MentionRow.entity_id.in_(named)))
    with repo.engine.connect() as conn:
        return _events(conn, and_(true(), *conditions), f.limit)


def _mentioned_in_event(entity_condition: Any) -> Any:
    """A mention of the entity inside the event's sentence span (actor, target or bystander)."""
    return exists().where(MentionRow.article_id == EventRow.article_id, MentionRow.start >= EventRow.start,
                          MentionRow.end <= EventRow.end, entity_condition)


def _events(conn: Any, condition: Any, limit: int) -> list[EventHit]:
    stmt = (select(EventRow.id, EventRow.type, EventRow.trigger, EventRow.actor, EventRow.target,
                   EventRow.amount, EventRow.currency, EventRow.date, EventRow.sentence, EventRow.confidence,
                   ArticleRow.id.label("article_id"), ArticleRow.title, ArticleRow.source, ArticleRow.url,
                   ARTICLE_DATE.label("published_at"))
            .join(ArticleRow, ArticleRow.id == EventRow.article_id).where(condition)
            .order_by(ARTICLE_DATE.desc(), EventRow.article_id.desc(), EventRow.start, EventRow.id).limit(limit))
    return [EventHit(**{**r._asdict(), "type": EventType(r.type)}) for r in conn.execute(stmt)]


# -- stories -----------------------------------------------------------------------------------------
def list_stories(repo: Repository, since: datetime | None = None, until: datetime | None = None,
                 sort: str = "latest", limit: int = 20) -> list[StorySummary]:
    """Stories with an article in [since, until): counts over all their articles.

    sort "latest": newest article first; "sources": most distinct sources first (then articles).
    """
    active = select(ArticleRow.story_id).where(*_window(ARTICLE_DATE, since, until))
    latest = func.max(ARTICLE_DATE).label("latest")
    articles = func.count(ArticleRow.id).label("articles")
    sources = func.count(distinct(ArticleRow.source)).label("sources")
    order = [latest.desc()] if sort == "latest" else [sources.desc(), articles.desc(), latest.desc()]
    stmt = (select(Story.id, Story.headline, Story.first_seen, latest, articles, sources)
            .join(ArticleRow, ArticleRow.story_id == Story.id).where(Story.id.in_(active))
            .group_by(Story.id, Story.headline, Story.first_seen).order_by(*order, Story.id.desc()).limit(limit))
    with repo.engine.connect() as conn:
        return [StorySummary(*r) for r in conn.execute(stmt)]


# -- helpers -----------------------------------------------------------------------------------------
def _window(column: Any, since: datetime | None, until: datetime | None) -> list[Any]:
    conditions = []
    if since is not None:
        conditions.append(column >= since)
    if until is not None:
        conditions.append(column < until)
    return conditions


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
