"""The alerting side of storage: matches with their known facts, the notification outbox,
digest and over-cap items, spikes, delivery claims, and the reads the backtest needs.

Functions take a Repository. Every write is idempotent (unique keys, ON CONFLICT DO NOTHING, or
an UPDATE guarded by the version it read), and an article's results are committed together with
its status `alerted`, so a killed alert stage reruns without doubling anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.engine import Connection

from newsmon.records import Analysis, Article, ArticleStatus, Match, Notification, NotificationStatus
from newsmon.storage.models import (AlertItem, ArticleRow, EntityRow, EventRow, MatchRow, MentionRow,
                                    NotificationRow, SpikeRow, article_date)
from newsmon.storage.rollup import entity_window_counts
from newsmon.storage.repository import Repository, article_from_row, article_select, event_from_row, reason_dict

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def bucket(now: datetime, seconds: float) -> tuple[datetime, datetime]:
    """The interval of `seconds` (aligned on the Unix epoch, UTC) that holds `now`."""
    offset = (now - EPOCH).total_seconds()
    start = EPOCH + timedelta(seconds=offset - offset % seconds)
    return start, start + timedelta(seconds=seconds)


# -- matches and what they already said -----------------------------------------------------------
@dataclass(slots=True)
class KnownMatch:
    id: int
    version: int
    facts: set[str]


def known_story_matches(repo: Repository, story_id: int) -> dict[str, KnownMatch]:
    """rule -> the match already stored for this story (by the matches.story_id index)."""
    stmt = select(MatchRow.rule, MatchRow.id, MatchRow.version, MatchRow.facts).where(MatchRow.story_id == story_id)
    with repo.engine.connect() as conn:
        return {rule: KnownMatch(id_, version, set(facts or [])) for rule, id_, version, facts in conn.execute(stmt)}


@dataclass(slots=True)
class Delivery:
    """One alert for one channel: sent now, held for the channel's digest, or over the rule's cap."""

    channel: str
    notification: Notification  # rendered, with its idempotency key
    entry: dict[str, Any]  # the line a digest or a cap summary shows instead
    subject: str  # "story-12": unique per rule and channel with the version
    digest_seconds: float | None = None  # None: immediate
    cap: int | None = None
    cap_seconds: float = 3600.0


@dataclass(slots=True)
class Outcome:
    """A rule fired on an article: the first alert of the story (version 1) or a follow-up."""

    match: Match
    version: int
    facts: list[str]  # every fact key known after this notification
    deliveries: list[Delivery] = field(default_factory=list)
    known_id: int | None = None  # the stored match a follow-up updates


def save_outcomes(repo: Repository, article_id: int, outcomes: Sequence[Outcome],
                  now: datetime | None = None) -> int:
    """Store matches (or their new version), queue their messages, mark the article alerted;
    one transaction. A (rule, story) another process got to first is skipped. Returns how many
    notifications and digest items were queued."""
    now = now or datetime.now(timezone.utc)
    queued = 0
    with repo.engine.begin() as conn:
        for outcome in outcomes:
            match_id = _store_match(repo, conn, outcome, now)
            if match_id is None:
                continue
            for delivery in outcome.deliveries:
                queued += _queue(repo, conn, match_id, outcome.match.rule, outcome.version, delivery, now)
        conn.execute(update(ArticleRow).where(ArticleRow.id == article_id)
                     .values(status=ArticleStatus.ALERTED.value))
    return queued


def _store_match(repo: Repository, conn: Connection, outcome: Outcome, now: datetime) -> int | None:
    match = outcome.match
    if outcome.known_id is None:
        return conn.execute(repo._insert(MatchRow).values(
            rule=match.rule, story_id=match.story_id, article_id=match.article_id,
            reasons=[reason_dict(r) for r in match.reasons], created_at=now,
            facts=outcome.facts, version=outcome.version,
        ).on_conflict_do_nothing().returning(MatchRow.id)).scalar()
    done = conn.execute(update(MatchRow).where(MatchRow.id == outcome.known_id)
                        .where(MatchRow.version == outcome.version - 1)
                        .values(version=outcome.version, facts=outcome.facts))
    return outcome.known_id if done.rowcount else None


def _queue(repo: Repository, conn: Connection, match_id: int | None, rule: str, version: int,
           delivery: Delivery, now: datetime) -> int:
    if delivery.digest_seconds:
        return _hold(repo, conn, rule, version, delivery, "digest", bucket(now, delivery.digest_seconds), now)
    if delivery.cap is not None:
        start, end = bucket(now, delivery.cap_seconds)
        sent = conn.execute(select(func.count()).select_from(NotificationRow).where(
            NotificationRow.rule == rule, NotificationRow.channel == delivery.channel,
            NotificationRow.created_at >= start)).scalar_one()
        if sent >= delivery.cap:
            return _hold(repo, conn, rule, version, delivery, "overflow", (start, end), now)
    return insert_notification(repo, conn, delivery.notification, now, match_id=match_id, rule=rule) is not None


def _hold(repo: Repository, conn: Connection, rule: str, version: int, delivery: Delivery, kind: str,
          interval: tuple[datetime, datetime], now: datetime) -> int:
    inserted = conn.execute(repo._insert(AlertItem).values(
        channel=delivery.channel, rule=rule, subject=delivery.subject, version=version, kind=kind,
        bucket_start=interval[0], bucket_end=interval[1], entry=delivery.entry, created_at=now,
    ).on_conflict_do_nothing().returning(AlertItem.id)).scalar()
    return inserted is not None


def insert_notification(repo: Repository, conn: Connection, n: Notification, now: datetime,
                        match_id: int | None = None, rule: str | None = None) -> int | None:
    """Queue one notification (pending, due now); None if its key is already queued."""
    return conn.execute(repo._insert(NotificationRow).values(
        match_id=match_id, rule=rule, channel=n.channel, key=n.key, title=n.title, body=n.body,
        body_format=n.body_format, status=NotificationStatus.PENDING.value, attempts=0,
        next_attempt_at=now, created_at=now).on_conflict_do_nothing().returning(NotificationRow.id)).scalar()


# -- digests and cap summaries ----------------------------------------------------------------------
@dataclass(slots=True)
class DigestGroup:
    """Held items that leave together: a channel's digest for one interval, or one rule's
    over-cap summary for one interval."""

    channel: str
    kind: str  # digest | overflow
    rule: str | None  # the capped rule (overflow only)
    start: datetime
    end: datetime
    item_ids: list[int]
    entries: list[dict[str, Any]]

    @property
    def key(self) -> str:
        what = f"digest:{self.channel}" if self.kind == "digest" else f"summary:{self.rule}:{self.channel}"
        return f"{what}:{self.start.isoformat()}"


def due_digest_groups(repo: Repository, now: datetime) -> list[DigestGroup]:
    """Held items whose interval has ended, grouped into the messages they make."""
    stmt = (select(AlertItem.__table__).where(AlertItem.notification_id.is_(None))
            .where(AlertItem.bucket_end <= now).order_by(AlertItem.id))
    with repo.engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    groups: dict[tuple[Any, ...], DigestGroup] = {}
    for r in rows:
        rule = r["rule"] if r["kind"] == "overflow" else None
        group = groups.setdefault((r["channel"], r["kind"], rule, r["bucket_start"]), DigestGroup(
            r["channel"], r["kind"], rule, r["bucket_start"], r["bucket_end"], [], []))
        group.item_ids.append(r["id"])
        group.entries.append(dict(r["entry"]))
    return list(groups.values())


def save_digest(repo: Repository, group: DigestGroup, notification: Notification,
                now: datetime | None = None) -> bool:
    """Queue the group's message and attach its items to it, in one transaction."""
    now = now or datetime.now(timezone.utc)
    with repo.engine.begin() as conn:
        note_id = insert_notification(repo, conn, notification, now, rule=group.rule)
        if note_id is None:
            note_id = conn.execute(select(NotificationRow.id).where(NotificationRow.key == notification.key)).scalar_one()
        conn.execute(update(AlertItem).where(AlertItem.id.in_(group.item_ids)).values(notification_id=note_id))
    return True


def count_held_items(repo: Repository) -> int:
    with repo.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(AlertItem)
                                .where(AlertItem.notification_id.is_(None))).scalar_one())


# -- spikes -------------------------------------------------------------------------------------
def entity_article_counts(repo: Repository, start: datetime, end: datetime,
                          names: Sequence[str] | None = None) -> dict[str, int]:
    """Watch-list entity name -> distinct articles mentioning it dated in [start, end) (whole days
    from the entity_days rollup, so a 14-day baseline costs what its 14 days of rollup cost)."""
    wanted = select(EntityRow.id).where(EntityRow.watched.is_(True))
    if names is not None:
        wanted = wanted.where(func.lower(EntityRow.name).in_([n.lower() for n in names]))
    counts = entity_window_counts(start, end, wanted).subquery()
    stmt = (select(EntityRow.name, func.sum(counts.c.articles)).join(counts, counts.c.entity_id == EntityRow.id)
            .group_by(EntityRow.name))
    with repo.engine.connect() as conn:
        return {name: int(count) for name, count in conn.execute(stmt) if count}


def articles_mentioning(repo: Repository, entity: str, start: datetime, end: datetime,
                        limit: int = 5) -> list[Article]:
    """The latest articles mentioning a watch-list entity in [start, end)."""
    ids = (select(MentionRow.article_id).join(EntityRow, EntityRow.id == MentionRow.entity_id)
           .where(EntityRow.watched.is_(True), func.lower(EntityRow.name) == entity.lower()))
    stmt = (article_select().where(ArticleRow.id.in_(ids), article_date() >= start, article_date() < end)
            .order_by(article_date().desc()).limit(limit))
    with repo.engine.connect() as conn:
        return [article_from_row(r) for r in conn.execute(stmt).mappings()]


def spike_fired_since(repo: Repository, rule: str, entity: str, since: datetime) -> bool:
    stmt = select(SpikeRow.id).where(SpikeRow.rule == rule, SpikeRow.entity == entity,
                                     SpikeRow.created_at > since).limit(1)
    with repo.engine.connect() as conn:
        return conn.execute(stmt).first() is not None


def save_spike(repo: Repository, rule: str, entity: str, window_start: datetime, count: int,
               baseline: float, deliveries: Sequence[Delivery], now: datetime | None = None) -> int:
    """Record a surge once per (rule, entity, window) and queue its messages; returns how many."""
    now = now or datetime.now(timezone.utc)
    queued = 0
    with repo.engine.begin() as conn:
        spike_id = conn.execute(repo._insert(SpikeRow).values(
            rule=rule, entity=entity, window_start=window_start, count=count, baseline=baseline,
            created_at=now).on_conflict_do_nothing().returning(SpikeRow.id)).scalar()
        if spike_id is None:
            return 0
        for delivery in deliveries:
            queued += _queue(repo, conn, None, rule, 1, delivery, now)
    return queued


# -- delivery -------------------------------------------------------------------------------------
def claim_notification(repo: Repository, notification_id: int, now: datetime, lease: float) -> bool:
    """Take a due notification for `lease` seconds; False if another deliverer has it.

    A deliverer that dies holding a claim leaves the notification pending: it is due again when
    the lease runs out (at-least-once), never lost.
    """
    with repo.engine.begin() as conn:
        done = conn.execute(update(NotificationRow).where(
            NotificationRow.id == notification_id,
            NotificationRow.status == NotificationStatus.PENDING.value,
            NotificationRow.next_attempt_at <= now,
        ).values(next_attempt_at=now + timedelta(seconds=lease)))
    return done.rowcount > 0


# -- backtests ------------------------------------------------------------------------------------
def candidate_article_ids(repo: Repository, since: datetime, until: datetime | None = None,
                          entities: Iterable[str] | None = None, events: Iterable[str] | None = None,
                          labels: Iterable[str] | None = None, sources: Iterable[str] | None = None,
                          words: Iterable[str] | None = None, prefixes: Iterable[str] | None = None,
                          ) -> list[int]:
    """Analysed articles dated in the window that have one of the given watch-list entities,
    event types, mention labels, sources, or words or word prefixes in their title or text (all
    analysed articles there when none is given), oldest first. Each condition is answered from
    its own index (words from the full-text index)."""
    conditions = []
    if words is not None or prefixes is not None:
        conditions.append(ArticleRow.id.in_(_with_words(repo.dialect, list(words or []), list(prefixes or []))))
    if entities is not None:
        conditions.append(ArticleRow.id.in_(
            select(MentionRow.article_id).join(EntityRow, EntityRow.id == MentionRow.entity_id)
            .where(EntityRow.watched.is_(True), func.lower(EntityRow.name).in_([e.lower() for e in entities]))))
    if events is not None:
        conditions.append(ArticleRow.id.in_(select(EventRow.article_id).where(EventRow.type.in_(list(events)))))
    if labels is not None:
        conditions.append(ArticleRow.id.in_(select(MentionRow.article_id).where(MentionRow.label.in_(list(labels)))))
    if sources is not None:
        conditions.append(ArticleRow.source.in_(list(sources)))
    stmt = select(ArticleRow.id).where(
        article_date() >= since, ArticleRow.status.in_([ArticleStatus.ANALYSED.value, ArticleStatus.ALERTED.value]))
    if until is not None:
        stmt = stmt.where(article_date() < until)
    if conditions:
        stmt = stmt.where(or_(*conditions) if len(conditions) > 1 else and_(conditions[0]))
    with repo.engine.connect() as conn:
        return [i for (i,) in conn.execute(stmt.order_by(article_date(), ArticleRow.id))]


def _with_words(dialect: str, words: list[str], prefixes: list[str]) -> Any:
    """Ids of articles containing any of the words or prefixes, through the full-text index (the
    expression is built with every word quoted and bound as one parameter)."""
    if dialect == "sqlite":
        fts = " OR ".join([_quoted(w, '"') for w in words] + [_quoted(p, '"') + "*" for p in prefixes])
        return text("SELECT rowid FROM articles_fts WHERE articles_fts MATCH :fts").bindparams(fts=fts)
    tsq = " | ".join([_quoted(w, "'") for w in words] + [_quoted(p, "'") + ":*" for p in prefixes])
    return text("SELECT id FROM articles WHERE tsv @@ to_tsquery('simple', :tsq)").bindparams(tsq=tsq)


def _quoted(word: str, quote: str) -> str:
    return quote + word.replace(quote, quote * 2) + quote


def load_articles(repo: Repository, ids: Sequence[int]) -> list[Article]:
    """Articles by id, in the order given."""
    with repo.engine.connect() as conn:
        rows = {r["id"]: article_from_row(r) for r in conn.execute(
            article_select().where(ArticleRow.id.in_(list(ids)))).mappings()}
    return [rows[i] for i in ids if i in rows]


def load_analyses(repo: Repository, ids: Sequence[int]) -> dict[int, Analysis]:
    """The stored analysis of many articles in two queries (Repository.load_analysis: one article)."""
    from newsmon.records import Mention

    found: dict[int, Analysis] = {i: Analysis([], []) for i in ids}
    with repo.engine.connect() as conn:
        mentions = conn.execute(
            select(MentionRow.article_id, MentionRow.text, MentionRow.label, MentionRow.start, MentionRow.end,
                   MentionRow.sentence, EntityRow.name, EntityRow.watched)
            .join(EntityRow, EntityRow.id == MentionRow.entity_id)
            .where(MentionRow.article_id.in_(list(ids))).order_by(MentionRow.article_id, MentionRow.start))
        for article_id, t, lb, s, e, sent, name, w in mentions:
            found[article_id].mentions.append(Mention(t, lb, s, e, sent, name, bool(w)))
        events = conn.execute(select(EventRow.__table__).where(EventRow.article_id.in_(list(ids)))
                              .order_by(EventRow.article_id, EventRow.start)).mappings()
        for r in events:
            found[r["article_id"]].events.append(event_from_row(r))
    return found
