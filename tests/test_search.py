"""Search on both back ends: full text (FTS5 / tsvector), entity and type filters, dates."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from newsmon.query import parse_query
from newsmon.records import Analysis, Mention
from newsmon.storage.repository import Repository
from newsmon.storage.search import SearchFilter, search_articles, search_page
from tests.test_storage import make_article

NOW = datetime.now(timezone.utc)
STORY = ("President Vladimir Putin signed a law on Thursday. Twitter must open an office in Russia. "
         "Roskomnadzor said the platform would be slowed down.")
OTHER = "The city marathon drew 20,000 runners on Sunday. Organisers praised the weather."


@pytest.fixture
def filled(repo: Repository) -> Repository:
    a = repo.save_article(make_article(1, text=STORY, title="Putin Orders Twitter to Open Russian Office",
                                       published_at=NOW - timedelta(days=1)))
    b = repo.save_article(make_article(2, text=OTHER, title="City Marathon", source="sports",
                                       published_at=NOW - timedelta(days=30)))
    start = STORY.index("Roskomnadzor")
    repo.save_analysis(a.article_id, Analysis([
        Mention("Roskomnadzor", "ORG", start, start + 12, STORY.split(". ")[2], "Roskomnadzor", True),
        Mention("Vladimir Putin", "PERSON", 10, 24, "President Vladimir Putin signed a law on Thursday.",
                "Vladimir Putin", False)]))
    repo.save_analysis(b.article_id, Analysis([Mention("Sunday", "DATE", 44, 50, OTHER[:51], "Sunday", False)]))
    return repo


def titles(repo: Repository, **kw: object) -> list[str | None]:
    return [h.title for h in search_articles(repo, SearchFilter(**kw))]  # type: ignore[arg-type]


@pytest.mark.parametrize("query, expected", [
    ("Roskomnadzor", ["Putin Orders Twitter to Open Russian Office"]),
    ("Twitter AND office", ["Putin Orders Twitter to Open Russian Office"]),
    ('"open an office"', ["Putin Orders Twitter to Open Russian Office"]),
    ("marathon OR Roskomnadzor", ["City Marathon", "Putin Orders Twitter to Open Russian Office"]),
    ("title:marathon", ["City Marathon"]),
    ("runners NOT Twitter", ["City Marathon"]),
    ("Twitter AND marathon", []),
    ("run*", ["City Marathon"]),
])
def test_fulltext(filled: Repository, query: str, expected: list[str]) -> None:
    assert sorted(titles(filled, query=parse_query(query))) == sorted(expected)


def test_snippet_is_the_matching_sentence_with_words_marked(filled: Repository) -> None:
    [hit] = search_articles(filled, SearchFilter(query=parse_query("office")))
    assert hit.snippet == "Twitter must open an **office** in Russia."


def test_entity_and_type_filters_use_mentions(filled: Repository) -> None:
    assert titles(filled, entities=["roskomnadzor"]) == ["Putin Orders Twitter to Open Russian Office"]
    assert titles(filled, types=["PERSON"]) == ["Putin Orders Twitter to Open Russian Office"]
    [hit] = search_articles(filled, SearchFilter(types=["ORG"]))
    assert "Roskomnadzor" in hit.snippet


def test_date_and_source_filters(filled: Repository) -> None:
    assert titles(filled, types=["ORG", "DATE", "PERSON"], since=NOW - timedelta(days=7)) == [
        "Putin Orders Twitter to Open Russian Office"]
    assert titles(filled, sources=["sports"], sort="date") == ["City Marathon"]
    assert titles(filled, query=parse_query("Twitter"), until=NOW - timedelta(days=7)) == []


def test_one_hit_per_story_with_its_source_count(repo: Repository) -> None:
    from newsmon.dedupe import text_signature

    base = " ".join(f"Line {i}: Roskomnadzor slowed down Twitter across Russia in May." for i in range(40))
    copy = base + " A syndicated copy adds this closing paragraph."
    a = repo.save_article(make_article(1, text=base, signature=text_signature(base), source="one"))
    b = repo.save_article(make_article(2, text=copy, signature=text_signature(copy), source="two"))
    assert a.story_id == b.story_id
    hits = search_articles(repo, SearchFilter(query=parse_query("Roskomnadzor")))
    assert [(h.story_id, h.sources) for h in hits] == [(a.story_id, 2)]
    every = search_articles(repo, SearchFilter(query=parse_query("Roskomnadzor"), per_story=False))
    assert sorted(h.article_id for h in every) == sorted([a.article_id, b.article_id])


def test_event_filter(filled: Repository) -> None:
    from newsmon.records import Event, EventType

    [hit] = search_articles(filled, SearchFilter(query=parse_query("Twitter")))
    analysis = filled.load_analysis(hit.article_id)
    analysis.events = [Event(EventType.LAW, "signed", "President Vladimir Putin signed a law on Thursday.", 0, 50)]
    filled.save_analysis(hit.article_id, analysis)
    assert titles(filled, events=["LAW"]) == ["Putin Orders Twitter to Open Russian Office"]
    assert titles(filled, events=["FINE"]) == []


def test_broad_bare_query_ranks_only_its_newest_matches(repo: Repository) -> None:
    # the oldest article is the most relevant (its title matches too), the four later ones mention it once
    repo.save_article(make_article(1, text="Roskomnadzor Roskomnadzor Roskomnadzor fined Google.",
                                   title="Roskomnadzor fines Google"))
    for i in range(2, 6):
        repo.save_article(make_article(i, text=f"Story {i} about the weather; Roskomnadzor was not reached."
                                       + " Rain fell all day." * 10))
    query = parse_query("Roskomnadzor")
    full = search_page(repo, SearchFilter(query=query, per_story=False, rank_window=None))
    assert full.hits[0].title == "Roskomnadzor fines Google" and not full.truncated
    windowed = search_page(repo, SearchFilter(query=query, per_story=False, rank_window=3))
    assert windowed.truncated
    assert len(windowed.hits) == 3 and "Roskomnadzor fines Google" not in [h.title for h in windowed.hits]
    exact = search_page(repo, SearchFilter(query=query, per_story=False, rank_window=5))
    assert not exact.truncated and exact.hits[0].title == "Roskomnadzor fines Google"
    # a filter (here a date window) turns the window off: filtered queries are ranked in full
    dated = search_page(repo, SearchFilter(query=query, per_story=False, rank_window=3,
                                           since=NOW - timedelta(days=3650)))
    assert not dated.truncated and dated.hits[0].title == "Roskomnadzor fines Google"


def test_entity_search_by_date_is_the_same_whichever_way_it_is_read(repo: Repository) -> None:
    from newsmon.storage.search import _entity_ids, _mentioning

    frequent, rare = [], []
    for n in range(1, 41):
        saved = repo.save_article(make_article(n, text=f"Article {n} about Telegram and the weather." * 3,
                                               published_at=NOW - timedelta(hours=n * 7 % 41)))
        mentions = [Mention("Telegram", "ORG", 11 + len(str(n)), 19 + len(str(n)), "s", "Telegram", False)] if n % 4 else []
        if n % 13 == 0:
            mentions.append(Mention("Durov", "PERSON", 0, 5, "s", "Pavel Durov", False))
            rare.append(saved.article_id)
        if n % 4:
            frequent.append(saved.article_id)
        repo.save_analysis(saved.article_id, Analysis(mentions))
    with repo.engine.connect() as conn:  # 30 of 40 articles: walked newest first; 3 of 40: read from mentions
        assert "EXISTS" in str(_mentioning(conn, _entity_ids(conn, "Telegram"), 2))
        assert "EXISTS" not in str(_mentioning(conn, _entity_ids(conn, "Pavel Durov"), 2))
    by_date = sorted(frequent, key=lambda i: (repo.get_article(i).published_at, i), reverse=True)  # type: ignore[union-attr]
    by_date_rare = sorted(rare, key=lambda i: (repo.get_article(i).published_at, i), reverse=True)  # type: ignore[union-attr]
    for name, expected in (("Telegram", by_date), ("Pavel Durov", by_date_rare)):
        hits = search_articles(repo, SearchFilter(entities=[name], sort="date", limit=2, per_story=False))
        assert [h.article_id for h in hits] == expected[:2], name
