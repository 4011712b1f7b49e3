"""The Repository: the only place that reads and writes the database.

Every write is idempotent (unique keys + ON CONFLICT DO NOTHING), and each stage's results are
committed together with the article's next status in one transaction.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import Any

import numpy as np
from sqlalchemy import Select, String, bindparam, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from newsmon.records import (Analysis, Article, ArticleStatus, Event, EventType, Match, MatchReason,
                             Mention, Notification, NotificationStatus, SavedArticle, SourceState,
                             WatchEntity)
from newsmon.storage import migrate
from newsmon.storage.engine import check_connection, create_db_engine
from newsmon.dedupe import NEAR_DUPLICATE_THRESHOLD, band_keys, similarity
from newsmon.storage.models import (ArticleBand, ArticleRow, ArticleUrl, EntityDay, EntityRow, EventRow, MatchRow, MentionRow,
                                    NotificationRow, SourceState as SourceStateRow, Story, article_date)
from newsmon.errors import DatabaseError


MAX_CANDIDATES = 200  # near-duplicate candidates checked per new article


def signature_to_bytes(signature: list[int]) -> bytes | None:
    return np.asarray(signature, dtype="<u8").tobytes() if signature else None


def signature_from_bytes(data: bytes) -> list[int]:
    return [int(v) for v in np.frombuffer(data, dtype="<u8")]


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def entity_key(entity_type: str, name: str) -> str:
    return f"{entity_type}|{name.casefold()}"[:400]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iter_batches(repo: Repository, status: ArticleStatus, size: int,
                 limit: int | None = None) -> Iterator[list[Article]]:
    """Successive batches of articles in `status`; each batch is moved on by the caller, so re-query."""
    remaining = limit if limit is not None else float("inf")
    while remaining > 0:
        batch = repo.articles_by_status(status, limit=int(min(size, remaining)))
        if not batch:
            return
        remaining -= len(batch)
        yield batch


def open_repository(url: str, upgrade: bool = False) -> Repository:
    """Connect, then migrate (upgrade=True) or check that the schema is current."""
    engine = create_db_engine(url)
    check_connection(engine)
    if upgrade:
        migrate.upgrade(engine)
    elif migrate.current_revision(engine) != migrate.head_revision():
        raise DatabaseError("the database schema is not up to date: run 'newsmon db upgrade'")
    return Repository(engine)


class Repository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    # -- writes helpers ---------------------------------------------------------------------
    def _insert(self, table: Any) -> Any:
        module = postgresql if self.dialect == "postgresql" else sqlite
        return module.insert(table)

    @cached_property
    def _save(self) -> _SaveStatements:
        return _SaveStatements.build(self._insert)

    # -- sources ---------------------------------------------------------------------------
    def get_source_state(self, name: str) -> SourceState:
        with self.engine.connect() as conn:
            row = conn.execute(select(SourceStateRow.__table__)
                               .where(SourceStateRow.name == name)).mappings().first()
        return _source_state_from_row(row) if row else SourceState(name=name)

    def record_source_result(self, name: str, ok: bool, error: str | None = None,
                             etag: str | None = None, last_modified: str | None = None,
                             when: datetime | None = None) -> SourceState:
        """Store the outcome of one poll of a source; validators kept only on success."""
        when = when or utcnow()
        state = self.get_source_state(name)
        state.last_attempt_at = when
        if ok:
            state.last_success_at, state.failures, state.last_error = when, 0, None
            state.etag = etag if etag is not None else state.etag
            state.last_modified = last_modified if last_modified is not None else state.last_modified
        else:
            state.failures, state.last_error = state.failures + 1, error
        values = {"etag": state.etag, "last_modified": state.last_modified,
                  "last_attempt_at": state.last_attempt_at, "last_success_at": state.last_success_at,
                  "failures": state.failures, "last_error": state.last_error}
        stmt = self._insert(SourceStateRow).values(name=name, **values)
        stmt = stmt.on_conflict_do_update(index_elements=["name"], set_=values)
        with self.engine.begin() as conn:
            conn.execute(stmt)
        return state

    def source_article_stats(self, now: datetime) -> dict[str, dict[str, float]]:
        """Per source: articles fetched in the last 24 h and 7 d, and the share with a title,
        a publication date and an author (over the last 7 days)."""
        week = now - timedelta(days=7)
        has_author = ArticleRow.authors.cast(String).notin_(["[]", "null"])
        stmt = (select(ArticleRow.source,
                       func.count().filter(ArticleRow.fetched_at >= now - timedelta(days=1)),
                       func.count(),
                       func.count().filter(ArticleRow.title.isnot(None)),
                       func.count().filter(ArticleRow.published_at.isnot(None)),
                       func.count().filter(has_author))
                .where(ArticleRow.fetched_at >= week).group_by(ArticleRow.source))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return {src: {"articles_24h": d, "articles_7d": w, "with_title": t / w, "with_date": p / w,
                      "with_author": a / w} for src, d, w, t, p, a in rows}

    def queue_notification(self, note: Notification) -> bool:
        """Put one notification without a match (e.g. source health) in the outbox, once per key."""
        now = utcnow()
        with self.engine.begin() as conn:
            inserted = conn.execute(self._insert(NotificationRow).values(
                channel=note.channel, key=note.key, title=note.title, body=note.body,
                body_format=note.body_format, status=NotificationStatus.PENDING.value, attempts=0,
                next_attempt_at=now, created_at=now).on_conflict_do_nothing()
                .returning(NotificationRow.id)).scalar()
        return inserted is not None

    # -- articles --------------------------------------------------------------------------
    def known_urls(self, urls: Iterable[str]) -> set[str]:
        """The subset of `urls` that already led to a stored article."""
        by_hash = {url_hash(u): u for u in urls}
        if not by_hash:
            return set()
        found: set[str] = set()
        hashes = list(by_hash)
        with self.engine.connect() as conn:
            for i in range(0, len(hashes), 500):
                chunk = hashes[i:i + 500]
                rows = conn.execute(select(ArticleUrl.url_hash).where(ArticleUrl.url_hash.in_(chunk)))
                found.update(by_hash[h] for (h,) in rows)
        return found

    def save_article(self, article: Article) -> SavedArticle:
        """Store a new article (status fetched) or attach its URLs to the one it duplicates.

        Exact duplicates (a known URL, or the same normalised text) become URL aliases of the stored
        article; near duplicates (MinHash LSH over text shingles) are stored and join its story.
        """
        urls = list(dict.fromkeys([article.url, *article.urls]))
        try:
            with self.engine.begin() as conn:
                existing = self._find_duplicate(conn, urls, article.content_hash)
                if existing is not None:
                    self._add_urls(conn, existing[0], urls)
                    return SavedArticle(existing[0], False, existing[1])
                bands = band_keys(article.signature) if article.signature else []
                story_id = self._near_duplicate_story(conn, article.signature, bands)
                if story_id is None:
                    story_id = conn.execute(self._save.new_story, {
                        "headline": article.title, "first_seen": article.fetched_at}).scalar_one()
                article_id = conn.execute(self._save.new_article, {
                    **_article_values(article), "status": ArticleStatus.FETCHED.value,
                    "story_id": story_id}).scalar_one()
                self._add_urls(conn, article_id, urls)
                if bands:  # executemany: one cached statement (multi-row VALUES recompiles per call)
                    conn.execute(self._save.add_bands, [{"band": b, "article_id": article_id} for b in bands])
                return SavedArticle(article_id, True, story_id)
        except IntegrityError:
            # another process stored the same URL between our check and insert
            with self.engine.connect() as conn:
                existing = self._find_duplicate(conn, urls, article.content_hash)
            if existing is None:
                raise
            return SavedArticle(existing[0], False, existing[1])

    def _near_duplicate_story(self, conn: Connection, signature: list[int], bands: list[str]) -> int | None:
        """The story of the most similar stored article above the threshold, if any."""
        if not bands:
            return None
        rows = conn.execute(self._save.candidates, {"bands": bands}).all()
        scored = [(similarity(signature, signature_from_bytes(h)), sid) for sid, h in rows if h]
        best = max(scored, default=(0.0, None))
        return best[1] if best[0] >= NEAR_DUPLICATE_THRESHOLD else None

    def _find_duplicate(self, conn: Connection, urls: Sequence[str],
                        content_hash: str) -> tuple[int, int | None] | None:
        row = conn.execute(self._save.by_url, {"hashes": [url_hash(u) for u in urls]}).first()
        if row is None and content_hash:
            row = conn.execute(self._save.by_content, {"content_hash": content_hash}).first()
        return (row[0], row[1]) if row else None

    def _add_urls(self, conn: Connection, article_id: int, urls: Iterable[str]) -> None:
        rows = [{"url_hash": url_hash(u), "url": u, "article_id": article_id} for u in urls]
        if rows:
            conn.execute(self._save.add_urls, rows)

    def get_article(self, article_id: int) -> Article | None:
        with self.engine.connect() as conn:
            row = conn.execute(article_select().where(ArticleRow.id == article_id)).mappings().first()
        return article_from_row(row) if row else None

    def articles_by_status(self, status: ArticleStatus, limit: int = 1000) -> list[Article]:
        with self.engine.connect() as conn:
            rows = conn.execute(article_select().where(ArticleRow.status == status.value)
                                .order_by(ArticleRow.id).limit(limit)).mappings().all()
        return [article_from_row(r) for r in rows]

    def count_articles(self, status: ArticleStatus | None = None) -> int:
        stmt = select(func.count()).select_from(ArticleRow)
        if status is not None:
            stmt = stmt.where(ArticleRow.status == status.value)
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    # -- entities and analysis ----------------------------------------------------------------
    def ensure_watch_entities(self, watchlist: Iterable[WatchEntity]) -> None:
        rows = [{"key": entity_key(w.type, w.name), "name": w.name, "type": w.type, "watched": True,
                 "external_id": w.wikidata} for w in watchlist]
        if rows:
            stmt = self._insert(EntityRow).values(rows)
            stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={
                "watched": True, "external_id": stmt.excluded.external_id})
            with self.engine.begin() as conn:
                conn.execute(stmt)

    def save_analysis(self, article_id: int, analysis: Analysis,
                      watch_types: dict[str, str] | None = None) -> None:
        """Mentions, entities and events of one article, and status analysed, in one transaction."""
        watch_types = {k.casefold(): v for k, v in (watch_types or {}).items()}
        with self.engine.begin() as conn:
            entity_ids = self._ensure_entities(conn, analysis.mentions, watch_types)
            mention_rows = [{"article_id": article_id, "entity_id": entity_ids[_mention_key(m, watch_types)],
                             "text": m.text, "label": m.label, "start": m.start, "end": m.end,
                             "sentence": m.sentence} for m in analysis.mentions]
            known = set(conn.execute(select(MentionRow.entity_id).where(MentionRow.article_id == article_id)).scalars())
            # executemany with one cached statement each (multi-row VALUES recompile on every call)
            added: list[int] = list(conn.execute(
                self._insert(MentionRow).on_conflict_do_nothing().returning(MentionRow.entity_id),
                mention_rows).scalars()) if mention_rows else []
            self._count_entity_days(conn, article_id, added, known)
            event_rows = [_event_values(article_id, e) for e in analysis.events]
            if event_rows:
                conn.execute(self._insert(EventRow).on_conflict_do_nothing(), event_rows)
            conn.execute(update(ArticleRow).where(ArticleRow.id == article_id)
                         .values(status=ArticleStatus.ANALYSED.value, status_reason=None))

    def _count_entity_days(self, conn: Connection, article_id: int, added: list[int], known: set[int]) -> None:
        """Add an article's newly stored mentions to entity_days (an article counts once per entity)."""
        if not added:
            return
        when = conn.execute(select(article_date()).where(ArticleRow.id == article_id)).scalar_one()
        day = when.astimezone(timezone.utc).date()
        counts = Counter(added)
        rows: list[dict[str, Any]] = [{"entity_id": e, "day": day, "mentions": n, "articles": int(e not in known)} for e, n in counts.items()]
        stmt = self._insert(EntityDay)
        conn.execute(stmt.on_conflict_do_update(index_elements=["entity_id", "day"], set_={
            "mentions": EntityDay.mentions + stmt.excluded.mentions,
            "articles": EntityDay.articles + stmt.excluded.articles}),
            sorted(rows, key=lambda r: r["entity_id"]))  # one lock order between concurrent writers

    def rebuild_entity_days(self) -> None:
        """Recount entity_days from the stored mentions (after a bulk load that bypassed save_analysis)."""
        day = {"sqlite": "substr(coalesce(a.published_at, a.fetched_at), 1, 10)",
               "postgresql": "(coalesce(a.published_at, a.fetched_at) AT TIME ZONE 'UTC')::date"}[self.dialect]
        with self.engine.begin() as conn:
            conn.execute(delete(EntityDay))
            conn.execute(text(f"INSERT INTO entity_days (entity_id, day, mentions, articles) "  # noqa: S608 (no input)
                              f"SELECT m.entity_id, {day}, count(*), count(DISTINCT m.article_id) "
                              f"FROM mentions m JOIN articles a ON a.id = m.article_id GROUP BY m.entity_id, {day}"))

    def _ensure_entities(self, conn: Connection, mentions: Sequence[Mention],
                         watch_types: dict[str, str]) -> dict[str, int]:
        wanted: dict[str, dict[str, Any]] = {}
        for m in mentions:
            key = _mention_key(m, watch_types)
            wanted.setdefault(key, {"key": key, "name": m.canonical,
                                    "type": watch_types.get(m.canonical.casefold(), m.label) if m.watched else m.label,
                                    "watched": m.watched, "external_id": None})
        if not wanted:
            return {}
        conn.execute(self._insert(EntityRow).on_conflict_do_nothing(), sorted(wanted.values(), key=lambda r: r["key"]))
        rows = conn.execute(select(EntityRow.key, EntityRow.id).where(EntityRow.key.in_(list(wanted))))
        return {k: i for k, i in rows}

    def load_analysis(self, article_id: int) -> Analysis:
        with self.engine.connect() as conn:
            mentions = conn.execute(
                select(MentionRow.text, MentionRow.label, MentionRow.start, MentionRow.end,
                       MentionRow.sentence, EntityRow.name, EntityRow.watched)
                .join(EntityRow, EntityRow.id == MentionRow.entity_id)
                .where(MentionRow.article_id == article_id).order_by(MentionRow.start)).all()
            events = conn.execute(select(EventRow.__table__).where(EventRow.article_id == article_id)
                                  .order_by(EventRow.start)).mappings().all()
        return Analysis([Mention(t, lb, s, e, sent, name, bool(w)) for t, lb, s, e, sent, name, w in mentions],
                        [event_from_row(r) for r in events])

    # -- matches and the notification outbox ----------------------------------------------------
    def save_matches(self, article_id: int, matches: Sequence[tuple[Match, list[Notification]]]) -> int:
        """Write matches, their notifications and status alerted in one transaction (the outbox).

        A (rule, story) that already matched is skipped with its notifications. Returns how many
        notifications were queued.
        """
        queued = 0
        now = utcnow()
        with self.engine.begin() as conn:
            for match, notifications in matches:
                match_id = conn.execute(self._insert(MatchRow).values(
                    rule=match.rule, story_id=match.story_id, article_id=match.article_id,
                    reasons=[reason_dict(r) for r in match.reasons], created_at=now,
                ).on_conflict_do_nothing().returning(MatchRow.id)).scalar()
                if match_id is None:
                    continue
                for n in notifications:
                    inserted = conn.execute(self._insert(NotificationRow).values(
                        match_id=match_id, channel=n.channel, key=n.key, title=n.title, body=n.body,
                        body_format=n.body_format, status=NotificationStatus.PENDING.value, attempts=0,
                        next_attempt_at=now, created_at=now).on_conflict_do_nothing()
                        .returning(NotificationRow.id)).scalar()
                    queued += inserted is not None
            conn.execute(update(ArticleRow).where(ArticleRow.id == article_id)
                         .values(status=ArticleStatus.ALERTED.value))
        return queued

    def story_source_count(self, story_id: int) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count(func.distinct(ArticleRow.source)))
                                    .where(ArticleRow.story_id == story_id)).scalar_one())

    def due_notifications(self, now: datetime | None = None, limit: int = 100) -> list[Notification]:
        now = now or utcnow()
        stmt = (select(NotificationRow.__table__)
                .where(NotificationRow.status == NotificationStatus.PENDING.value)
                .where(NotificationRow.next_attempt_at <= now)
                .order_by(NotificationRow.id).limit(limit))
        return self._notifications(stmt)

    def list_notifications(self, status: NotificationStatus | None = None,
                           limit: int = 100) -> list[Notification]:
        stmt = select(NotificationRow.__table__).order_by(NotificationRow.id.desc()).limit(limit)
        if status is not None:
            stmt = stmt.where(NotificationRow.status == status.value)
        return self._notifications(stmt)

    def get_notification(self, notification_id: int) -> Notification | None:
        found = self._notifications(select(NotificationRow.__table__).where(NotificationRow.id == notification_id))
        return found[0] if found else None

    def _notifications(self, stmt: Select[Any]) -> list[Notification]:
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [_notification_from_row(r) for r in rows]

    def mark_sent(self, notification_id: int, when: datetime | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(NotificationRow).where(NotificationRow.id == notification_id).values(
                status=NotificationStatus.SENT.value, sent_at=when or utcnow(), last_error=None,
                attempts=NotificationRow.attempts + 1))

    def mark_attempt_failed(self, notification_id: int, error: str, next_attempt_at: datetime | None) -> None:
        """Count a failed attempt; no next attempt means the notification has failed for good."""
        status = NotificationStatus.PENDING if next_attempt_at else NotificationStatus.FAILED
        with self.engine.begin() as conn:
            conn.execute(update(NotificationRow).where(NotificationRow.id == notification_id).values(
                status=status.value, last_error=error, next_attempt_at=next_attempt_at,
                attempts=NotificationRow.attempts + 1))

    def requeue_notification(self, notification_id: int) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(update(NotificationRow).where(NotificationRow.id == notification_id)
                                  .where(NotificationRow.status != NotificationStatus.SENT.value)
                                  .values(status=NotificationStatus.PENDING.value, next_attempt_at=utcnow()))
        return result.rowcount > 0

    def count_notifications(self, status: NotificationStatus | None = None) -> int:
        stmt = select(func.count()).select_from(NotificationRow)
        if status is not None:
            stmt = stmt.where(NotificationRow.status == status.value)
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

# -- row <-> record ---------------------------------------------------------------------------
def _source_state_from_row(r: Any) -> SourceState:
    return SourceState(r["name"], r["etag"], r["last_modified"], r["last_attempt_at"],
                       r["last_success_at"], r["failures"], r["last_error"])


@dataclass(frozen=True, slots=True)
class _SaveStatements:
    """The statements `save_article` runs, built once per repository: values are bound at
    execution, so no statement is rebuilt, coerced and cache-keyed per article (that was most of
    the 3 ms of CPU a new article's save took in a crawl)."""

    by_url: Any
    by_content: Any
    candidates: Any
    new_story: Any
    new_article: Any
    add_urls: Any
    add_bands: Any

    @classmethod
    def build(cls, insert: Any) -> _SaveStatements:
        hashes: Any = bindparam("hashes", expanding=True)
        bands: Any = bindparam("bands", expanding=True)
        return cls(
            by_url=select(ArticleRow.id, ArticleRow.story_id).join(ArticleUrl, ArticleUrl.article_id == ArticleRow.id)
            .where(ArticleUrl.url_hash.in_(hashes)).limit(1),
            by_content=select(ArticleRow.id, ArticleRow.story_id)
            .where(ArticleRow.content_hash == bindparam("content_hash")).limit(1),
            candidates=select(ArticleRow.story_id, ArticleRow.minhash)
            .where(ArticleRow.id.in_(select(ArticleBand.article_id).where(ArticleBand.band.in_(bands)).distinct()))
            .limit(MAX_CANDIDATES),
            new_story=insert(Story).returning(Story.id),
            new_article=insert(ArticleRow).returning(ArticleRow.id),
            add_urls=insert(ArticleUrl).on_conflict_do_nothing(),
            add_bands=insert(ArticleBand).on_conflict_do_nothing())


def _article_values(a: Article) -> dict[str, Any]:
    return {"url": a.url, "url_hash": url_hash(a.url), "source": a.source, "title": a.title,
            "authors": list(a.authors), "published_at": a.published_at, "date_source": a.date_source,
            "language": a.language, "site_name": a.site_name, "summary": a.summary, "text": a.text,
            "content_hash": a.content_hash, "extractor": a.extractor, "fetched_at": a.fetched_at,
            "minhash": signature_to_bytes(a.signature)}


# -- row conversions, shared with newsmon.storage.outbox ------------------------------------------
def article_select() -> Select[Any]:
    """Every article column except the search vector and the MinHash signature."""
    return select(*[c for c in ArticleRow.__table__.c if c.name not in ("tsv", "minhash")])


def article_from_row(r: Any) -> Article:
    return Article(url=r["url"], source=r["source"], title=r["title"], text=r["text"],
                   fetched_at=r["fetched_at"], authors=list(r["authors"] or []),
                   published_at=r["published_at"], date_source=r["date_source"], language=r["language"],
                   site_name=r["site_name"], summary=r["summary"], content_hash=r["content_hash"],
                   extractor=r["extractor"], id=r["id"], story_id=r["story_id"])


def _mention_key(m: Mention, watch_types: dict[str, str]) -> str:
    entity_type = watch_types.get(m.canonical.casefold(), m.label) if m.watched else m.label
    return entity_key(entity_type, m.canonical)


def _event_values(article_id: int, e: Event) -> dict[str, Any]:
    return {"article_id": article_id, "type": EventType(e.type).value, "trigger": e.trigger,
            "actor": e.actor, "target": e.target, "amount": e.amount, "currency": e.currency,
            "date": e.date, "legal_basis": e.legal_basis, "sentence": e.sentence, "start": e.start,
            "end": e.end, "confidence": e.confidence}


def event_from_row(r: Any) -> Event:
    return Event(type=EventType(r["type"]), trigger=r["trigger"], sentence=r["sentence"], start=r["start"],
                 end=r["end"], actor=r["actor"], target=r["target"], amount=r["amount"],
                 currency=r["currency"], date=r["date"], legal_basis=r["legal_basis"],
                 confidence=r["confidence"])


def reason_dict(r: MatchReason) -> dict[str, str]:
    return {"kind": r.kind, "value": r.value, "sentence": r.sentence}


def _notification_from_row(r: Any) -> Notification:
    return Notification(channel=r["channel"], title=r["title"], body=r["body"], key=r["key"],
                        status=NotificationStatus(r["status"]), attempts=r["attempts"],
                        next_attempt_at=r["next_attempt_at"], last_error=r["last_error"],
                        sent_at=r["sent_at"], match_id=r["match_id"], id=r["id"],
                        body_format=r["body_format"])
