"""entity_days, the per-entity per-day rollup behind top/trending entities and timelines: on both
back ends it must give exactly what counting the raw mentions gives, for any window."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from newsmon.explore import EntityFilter, entity_timeline, top_entities, trending_entities
from newsmon.records import Analysis, Mention
from newsmon.storage import migrate
from newsmon.storage.engine import create_db_engine
from newsmon.storage.models import ArticleRow, EntityDay, EntityRow, MentionRow
from newsmon.storage.repository import Repository, entity_key
from tests.test_storage import make_article

NAMES = ["Twitter", "Google", "Roskomnadzor", "Telegram", "Moscow", "Meta"]
START = datetime(2026, 10, 1, tzinfo=UTC)
Stored = list[tuple[datetime, list[str]]]  # per article: its date and the names of its mentions


def _random_articles(rng: random.Random, count: int) -> Stored:
    return [(START + timedelta(seconds=rng.uniform(0, 20 * 86400)), rng.choices(NAMES, k=rng.randint(1, 5)))
            for _ in range(count)]


def _store(repo: Repository, articles: Stored) -> None:
    for n, (when, names) in enumerate(articles, start=1):
        text = " ".join(f"{name} said so." for name in names)
        saved = repo.save_article(make_article(n, text=f"Article {n}. {text}", published_at=when))
        mentions, at = [], len(f"Article {n}. ")
        for name in names:
            mentions.append(Mention(name, "ORG", at, at + len(name), f"{name} said so.", name, False))
            at += len(name) + len(" said so. ")
        repo.save_analysis(saved.article_id, Analysis(mentions))
        if n % 7 == 0:  # saved again with one more mention of a name it has: one more mention, no more articles
            again = Mention(names[0], "ORG", at, at + len(names[0]), "Again.", names[0], False)
            repo.save_analysis(saved.article_id, Analysis([*mentions, again]))
            names.append(names[0])


def _raw_counts(articles: Stored, since: datetime | None, until: datetime | None) -> dict[str, tuple[int, int]]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for when, names in articles:
        if (since is None or when >= since) and (until is None or when < until):
            for name in names:
                counts[name][0] += 1
            for name in set(names):
                counts[name][1] += 1
    return {name: (m, a) for name, (m, a) in counts.items()}


def _windows(rng: random.Random) -> list[tuple[datetime | None, datetime | None]]:
    midnight = START + timedelta(days=5)
    windows: list[tuple[datetime | None, datetime | None]] = [
        (None, None), (midnight, None), (None, midnight), (midnight, midnight + timedelta(days=3)),
        (midnight + timedelta(hours=3), midnight + timedelta(hours=9)),  # inside one day
        (midnight + timedelta(hours=20), midnight + timedelta(days=1, hours=2))]  # across one midnight
    for _ in range(12):
        a, b = sorted(START + timedelta(seconds=rng.uniform(-86400, 22 * 86400)) for _ in range(2))
        windows.append((a, b))
    return windows


def test_top_entities_equal_raw_counts_for_any_window(repo: Repository) -> None:
    rng = random.Random(11)
    articles = _random_articles(rng, 60)
    _store(repo, articles)
    for since, until in _windows(rng):
        got = {c.name: (c.mentions, c.articles) for c in top_entities(repo, EntityFilter(since, until, limit=50))}
        assert got == _raw_counts(articles, since, until), (since, until)


def test_timeline_and_trending_equal_raw_counts(repo: Repository) -> None:
    rng = random.Random(5)
    articles = _random_articles(rng, 60)
    _store(repo, articles)
    since, until = START + timedelta(days=2, hours=7), START + timedelta(days=9, hours=15)
    timeline = entity_timeline(repo, "twitter", since, until)
    assert timeline[0].day == date(2026, 10, 3) and timeline[-1].day == date(2026, 10, 10)
    for day in timeline:
        start = max(since, datetime(day.day.year, day.day.month, day.day.day, tzinfo=UTC))
        end = min(until, start.replace(hour=0, minute=0, second=0) + timedelta(days=1))
        assert (day.mentions, day.articles) == _raw_counts(articles, start, end).get("Twitter", (0, 0)), day
    trending = {t.name: t for t in trending_entities(repo, EntityFilter(since=until - timedelta(days=2), until=until),
                                                     windows=3, min_mentions=1)}
    for name, (mentions, _) in _raw_counts(articles, until - timedelta(days=2), until).items():
        before = _raw_counts(articles, until - timedelta(days=8), until - timedelta(days=2)).get(name, (0, 0))[0]
        assert trending[name].mentions == mentions and trending[name].baseline == pytest.approx(before / 3)


def test_migration_backfills_entity_days_from_stored_mentions(db_url: str) -> None:
    engine = create_db_engine(db_url)
    migrate.upgrade(engine, "0004")
    when = [START + timedelta(hours=h) for h in (1, 5, 30, 31)]  # two on Oct 1, two on Oct 2
    with engine.begin() as conn:
        conn.execute(insert(EntityRow.__table__), [
            {"id": i + 1, "key": entity_key("ORG", n), "name": n, "type": "ORG", "watched": False}
            for i, n in enumerate(NAMES[:2])])
        for i, published in enumerate(when, start=1):
            a = make_article(i, published_at=published)
            conn.execute(insert(ArticleRow.__table__).values(
                id=i, url=a.url, url_hash=f"{i:064x}", source=a.source, title=a.title, authors=[],
                published_at=published, text=a.text, content_hash=a.content_hash, fetched_at=a.fetched_at,
                status="analysed"))
        rows = [(1, 1), (1, 1), (1, 2), (2, 1), (3, 2), (4, 1), (4, 2)]  # (article, entity): Twitter x2 in article 1
        conn.execute(insert(MentionRow.__table__), [
            {"article_id": a, "entity_id": e, "text": NAMES[e - 1], "label": "ORG", "start": k, "end": k + 3,
             "sentence": "s"} for k, (a, e) in enumerate(rows)])
    migrate.upgrade(engine)
    with engine.connect() as conn:
        got = {(r.entity_id, r.day): (r.mentions, r.articles) for r in conn.execute(select(EntityDay.__table__))}
    engine.dispose()
    assert got == {(1, date(2026, 10, 1)): (3, 2), (2, date(2026, 10, 1)): (1, 1),
                   (1, date(2026, 10, 2)): (1, 1), (2, date(2026, 10, 2)): (2, 2)}


def test_rebuild_gives_what_the_increments_gave(repo: Repository) -> None:
    _store(repo, _random_articles(random.Random(3), 30))

    def snapshot() -> dict[tuple[int, date], tuple[int, int]]:
        with repo.engine.connect() as conn:
            return {(r.entity_id, r.day): (r.mentions, r.articles) for r in conn.execute(select(EntityDay.__table__))}

    kept = snapshot()
    assert kept and sum(m for m, _ in kept.values()) > 30
    repo.rebuild_entity_days()
    assert snapshot() == kept
