"""Full-text and entity search behind one function: FTS5 on SQLite, tsvector on PostgreSQL.

Relevance (BM25 on FTS5, ``ts_rank`` on PostgreSQL) is computed for every match, so a bare query
matching a large share of the archive ("ransomware" in a security feed) would score tens of
thousands of rows to show twenty. A query without other filters therefore ranks only its
``rank_window`` newest matches (by article id, i.e. storage order); narrower queries, and any query
with a filter, are ranked in full. ``SearchPage.truncated`` says when the window applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, column, exists, func, literal_column, select, table, text

from newsmon.query import Query, best_sentence, highlight
from newsmon.records import SearchHit
from newsmon.storage.models import ArticleRow, EntityDay, EntityRow, EventRow, MentionRow, article_date
from newsmon.storage.repository import Repository

_FTS = table("articles_fts", column("rowid"))


@dataclass(slots=True)
class SearchFilter:
    query: Query | None = None
    entities: list[str] = field(default_factory=list)  # canonical names (aliases resolved by caller)
    types: list[str] = field(default_factory=list)  # entity labels, e.g. ORG
    sources: list[str] = field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None
    language: str | None = None
    events: list[str] = field(default_factory=list)  # event types, e.g. FINE
    sort: str = "relevance"  # relevance | date
    limit: int = 20
    per_story: bool = True  # one hit per story (its best article), with the story's source count
    rank_window: int | None = 10_000  # a bare query ranks only this many newest matches (None: all)


@dataclass(slots=True)
class SearchPage:
    hits: list[SearchHit]
    truncated: bool = False  # more than rank_window matches: only the newest were ranked


def search_articles(repo: Repository, f: SearchFilter) -> list[SearchHit]:
    """Articles matching every given condition, best first, each with its matching sentence."""
    return search_page(repo, f).hits


def search_page(repo: Repository, f: SearchFilter) -> SearchPage:
    """Like search_articles, and whether a broad query was ranked over its newest matches only."""
    with repo.engine.connect() as conn:
        ranked, truncated = _ranked_ids(conn, f, repo.dialect)
        if f.per_story:
            ranked = _best_per_story(conn, ranked, f.limit)
        rows = {r["id"]: r for r in conn.execute(
            select(ArticleRow.id, ArticleRow.title, ArticleRow.source, ArticleRow.url, ArticleRow.published_at,
                   ArticleRow.story_id, ArticleRow.text).where(ArticleRow.id.in_([i for i, _ in ranked]))
        ).mappings()}
        sentences = _mention_sentences(conn, list(rows), f) if (f.entities or f.types) else {}
        hits = [_hit({**rows[i], "score": sc}, sentences.get(i), f) for i, sc in ranked]
        _count_sources(conn, hits)
        return SearchPage(hits, truncated=truncated)


def _ranked_ids(conn: Any, f: SearchFilter, dialect: str) -> tuple[list[Any], bool]:
    """(article id, score) of the best hits, over-fetched when hits collapse per story; and
    whether the rank window applied. Ids first, rows later: sorting whole rows (with their text)
    of every match is what made large result sets slow."""
    when = article_date()
    stmt: Select[Any] = select(ArticleRow.id)
    score: Any = literal_column("0")
    rank: Any = score
    if f.query is not None:
        stmt, score, rank = _fulltext(stmt, f.query, dialect)
    by_date = f.sort == "date" or f.query is None
    fetch = f.limit * 4 if f.per_story else f.limit
    for name in f.entities:
        stmt = stmt.where(_mentioning(conn, _entity_ids(conn, name), fetch if by_date else None))
    if f.types:
        stmt = stmt.where(ArticleRow.id.in_(
            select(MentionRow.article_id).where(MentionRow.label.in_([t.upper() for t in f.types]))))
    if f.events:
        stmt = stmt.where(ArticleRow.id.in_(
            select(EventRow.article_id).where(EventRow.type.in_([e.upper() for e in f.events]))))
    if f.sources:
        stmt = stmt.where(ArticleRow.source.in_(f.sources))
    if f.language:
        stmt = stmt.where(ArticleRow.language == f.language)
    if f.since:
        stmt = stmt.where(when >= f.since)
    if f.until:
        stmt = stmt.where(when < f.until)
    order: list[Any] = [when.desc(), ArticleRow.id.desc()] if by_date else [rank, when.desc()]
    windowed = not by_date and _only_query(f)  # ranked by relevance: a query is given
    floor = _window_floor(conn, f.query, dialect, f.rank_window) if windowed else None
    if floor is not None:
        stmt = stmt.where(ArticleRow.id >= floor)
    stmt = stmt.add_columns(score.label("score")).order_by(*order).limit(fetch)
    if windowed and dialect == "sqlite" and f.query is not None:
        stmt = _fts_top(f.query, fetch, floor)  # rank inside the FTS index: no join per match
    return list(conn.execute(stmt).all()), floor is not None


def _window_floor(conn: Any, query: Query | None, dialect: str, window: int | None) -> int | None:
    """The id of the window-th newest match, or None when there are no more matches than that.

    Walking matches newest first is cheap in both indexes (FTS5 rowids, GIN then a top-N sort of
    ids); scoring every match is what is not.
    """
    if query is None or not window:
        return None
    if dialect == "sqlite":
        stmt: Any = text("SELECT rowid FROM articles_fts WHERE articles_fts MATCH :fts "
                         "ORDER BY rowid DESC LIMIT 1 OFFSET :skip").bindparams(fts=query.to_fts5(), skip=window)
    else:
        # materialized: else the planner walks the primary key backwards testing every row's tsv
        tsq = func.to_tsquery(literal_column("'simple'::regconfig"), query.to_tsquery())
        matches = select(ArticleRow.id).where(literal_column("articles.tsv").op("@@")(tsq)).cte().prefix_with(
            "MATERIALIZED")
        stmt = select(matches.c.id).order_by(matches.c.id.desc()).offset(window).limit(1)
    below = conn.execute(stmt).scalar()
    return None if below is None else int(below) + 1


def _only_query(f: SearchFilter) -> bool:
    return not (f.entities or f.types or f.events or f.sources or f.language or f.since or f.until)


def _best_per_story(conn: Any, ranked: list[Any], limit: int) -> list[Any]:
    """Keep the first (best) hit of each story, in rank order."""
    stories = dict(conn.execute(select(ArticleRow.id, ArticleRow.story_id)
                                .where(ArticleRow.id.in_([i for i, _ in ranked]))).all())
    seen: set[Any] = set()
    kept = []
    for article_id, score in ranked:
        story = stories.get(article_id) or -article_id
        if story not in seen:
            seen.add(story)
            kept.append((article_id, score))
    return kept[:limit]


def _count_sources(conn: Any, hits: list[SearchHit]) -> None:
    ids = {h.story_id for h in hits if h.story_id is not None}
    if not ids:
        return
    counts = dict(conn.execute(select(ArticleRow.story_id, func.count(func.distinct(ArticleRow.source)))
                               .where(ArticleRow.story_id.in_(ids)).group_by(ArticleRow.story_id)).all())
    for hit in hits:
        hit.sources = counts.get(hit.story_id, 1)


def _fts_top(query: Query, limit: int, floor: int | None) -> Any:
    return text("SELECT rowid AS id, bm25(articles_fts, 10.0, 1.0) AS score FROM articles_fts "
                "WHERE articles_fts MATCH :fts AND rowid >= :floor ORDER BY score LIMIT :limit").bindparams(
        fts=query.to_fts5(), floor=floor or 0, limit=limit)


def _entity_ids(conn: Any, name: str) -> list[int]:
    return list(conn.execute(select(EntityRow.id).where(func.lower(EntityRow.name) == name.casefold())).scalars())


def _mentioning(conn: Any, entity_ids: list[int], newest: int | None) -> Any:
    """The condition "the article mentions one of these entities".

    For the `newest` hits by date of an entity in many articles, walking articles newest first
    (ix_articles_when) and probing each one's mentions stops after about newest / share rows;
    reading all n of its mentions and sorting them costs n. The walk wins when
    n > sqrt(newest * articles), n taken from entity_days. The ids are inlined (integers from the
    database, not user text) so that PostgreSQL plans with this entity's own frequency.
    """
    ids: Any = bindparam("entity_ids", entity_ids or [-1], expanding=True, literal_execute=True)
    if newest is not None and entity_ids:
        mentioned = conn.execute(select(func.coalesce(func.sum(EntityDay.articles), 0))
                                 .where(EntityDay.entity_id.in_(entity_ids))).scalar_one()
        stored = conn.execute(select(func.coalesce(func.max(ArticleRow.id), 0))).scalar_one()
        if mentioned * mentioned > newest * stored:
            return exists().where(MentionRow.article_id == ArticleRow.id, MentionRow.entity_id.in_(ids))
    return ArticleRow.id.in_(select(MentionRow.article_id).where(MentionRow.entity_id.in_(ids)))


def _fulltext(stmt: Select[Any], query: Query, dialect: str) -> tuple[Select[Any], Any, Any]:
    """Add the full-text condition; return the statement, a score and the ORDER BY for it."""
    if dialect == "sqlite":
        stmt = stmt.join(_FTS, _FTS.c.rowid == ArticleRow.id).where(
            text("articles_fts MATCH :fts").bindparams(fts=query.to_fts5()))
        # bm25 is lower-is-better; weight title hits ten times body hits
        bm25: Any = literal_column("bm25(articles_fts, 10.0, 1.0)")
        return stmt, bm25, bm25
    tsq = func.to_tsquery(literal_column("'simple'::regconfig"), query.to_tsquery())
    stmt = stmt.where(literal_column("articles.tsv").op("@@")(tsq))
    rank = func.ts_rank(literal_column("articles.tsv"), tsq)
    return stmt, rank, rank.desc()


def _hit(r: Any, sentence: str | None, f: SearchFilter) -> SearchHit:
    terms = f.query.positive_terms() if f.query else []
    if sentence is None:
        sentence = best_sentence(r["text"], terms)
    return SearchHit(article_id=r["id"], title=r["title"], source=r["source"], url=r["url"],
                     published_at=r["published_at"], snippet=highlight(sentence, terms),
                     story_id=r["story_id"], score=float(r["score"]) if r["score"] is not None else None)


def _mention_sentences(conn: Any, article_ids: list[int], f: SearchFilter) -> dict[int, str]:
    """Per article, the sentence of its first mention of the searched entities or types (one query)."""
    stmt = (select(MentionRow.article_id, MentionRow.sentence).join(EntityRow, EntityRow.id == MentionRow.entity_id)
            .where(MentionRow.article_id.in_(article_ids)).order_by(MentionRow.article_id, MentionRow.start))
    if f.entities:
        stmt = stmt.where(func.lower(EntityRow.name).in_([e.casefold() for e in f.entities]))
    if f.types:
        stmt = stmt.where(MentionRow.label.in_([t.upper() for t in f.types]))
    first: dict[int, str] = {}
    for article_id, sentence in conn.execute(stmt):
        first.setdefault(article_id, sentence)
    return first
