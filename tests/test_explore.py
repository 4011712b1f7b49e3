"""Exploration queries and commands on both back ends: entities, trending, one entity, events, stories."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from newsmon.cli import cli
from newsmon.cli_explore import render_sparkline
from newsmon.explore import (
    ArticleRef,
    CoMention,
    DayCount,
    EntityCount,
    EntityFilter,
    EventFilter,
    EventHit,
    StorySummary,
    SurfaceForm,
    TrendingEntity,
    entity_profile,
    entity_timeline,
    list_events,
    list_stories,
    top_entities,
    trending_entities,
)
from newsmon.records import Analysis, Article, Event, EventType, Mention
from newsmon.storage.models import ArticleRow
from newsmon.storage.repository import Repository

NOW = datetime.now(UTC).replace(microsecond=0)
WATCH = {"Twitter": "ORG", "Roskomnadzor": "ORG"}

# (key, source, published, fetched, sentences); each sentence's entities follow in MENTIONS
TEXTS = {
    "a1": ["Putin signed a law on Thursday.", "Roskomnadzor fined Twitter 3 million roubles.",
           "Twitter must open an office in Russia."],
    "a2": ["RKN slowed down X Corp in May.", "The regulator gave no reason."],
    "a3": ["A Moscow court opened a case against Google.", "Twitter was not named."],
    "a4": ["The Berlin marathon drew 20,000 runners."],
    "a5": ["Google and Twitter were summoned to court."],
}
# key -> [(surface, label, canonical, watched)] in text order
MENTIONS = {
    "a1": [("Putin", "PERSON", "Vladimir Putin", False), ("Roskomnadzor", "ORG", "Roskomnadzor", True),
           ("Twitter", "ORG", "Twitter", True), ("Twitter", "ORG", "Twitter", True)],
    "a2": [("RKN", "ORG", "Roskomnadzor", True), ("X Corp", "ORG", "Twitter", True)],
    "a3": [("Google", "ORG", "Google", False), ("Twitter", "ORG", "Twitter", True)],
    "a4": [("Berlin", "GPE", "Berlin", False)],
    "a5": [("Google", "ORG", "Google", False), ("Twitter", "ORG", "Twitter", True)],
}
# key -> [(type, trigger, sentence index, actor, target, amount, currency)]
EVENTS = {
    "a1": [(EventType.FINE, "fined", 1, "Roskomnadzor", "Twitter", 3e6, "RUB")],
    "a2": [(EventType.BLOCK_OR_THROTTLE, "slowed down", 0, "Roskomnadzor", "Twitter", None, None)],
    "a3": [(EventType.COURT_ACTION, "opened a case", 0, "A Moscow court", "Google", None, None)],
}
PUBLISHED = {"a1": NOW - timedelta(hours=1), "a2": NOW - timedelta(days=2), "a3": NOW - timedelta(days=10),
             "a4": NOW - timedelta(days=40), "a5": None}
FETCHED_A5 = NOW - timedelta(days=3)  # a5 has no publication date: its fetch time counts
SOURCES = {"a1": "daily", "a2": "wire", "a3": "daily", "a4": "sports", "a5": "daily"}
TITLES = {"a1": "Putin Orders Twitter to Open Russian Office", "a2": "Twitter slowed down",
          "a3": "Court case against Google", "a4": "City Marathon", "a5": "Summoned to court"}


def when(key: str) -> datetime:
    return PUBLISHED[key] or FETCHED_A5


def build(key: str) -> tuple[Article, Analysis]:
    sentences = TEXTS[key]
    text = " ".join(sentences)
    starts = [text.index(s) for s in sentences]
    mentions, at = [], 0
    for surface, label, canonical, watched in MENTIONS[key]:
        start = text.index(surface, at)
        at = start + len(surface)
        sentence = next(s for s, b in zip(sentences, starts) if b <= start < b + len(s))
        mentions.append(Mention(surface, label, start, at, sentence, canonical, watched))
    events = [Event(type_, trigger, sentences[i], starts[i], starts[i] + len(sentences[i]), actor=actor,
                    target=target, amount=amount, currency=currency)
              for type_, trigger, i, actor, target, amount, currency in EVENTS.get(key, [])]
    article = Article(url=f"https://news.example/{key}", source=SOURCES[key], title=TITLES[key], text=text,
                      fetched_at=FETCHED_A5 if key == "a5" else when(key) + timedelta(minutes=5),
                      published_at=PUBLISHED[key], content_hash=key)
    return article, Analysis(mentions, events)


@pytest.fixture
def filled(repo: Repository) -> dict[str, tuple[int, int]]:
    """The articles above, a1 and a2 in one story; returns key -> (article id, story id)."""
    ids = {}
    for key in TEXTS:
        article, analysis = build(key)
        saved = repo.save_article(article)
        repo.save_analysis(saved.article_id, analysis, WATCH)
        ids[key] = (saved.article_id, saved.story_id)
    with repo.engine.begin() as conn:
        conn.execute(update(ArticleRow).where(ArticleRow.id == ids["a2"][0]).values(story_id=ids["a1"][1]))
    ids["a2"] = (ids["a2"][0], ids["a1"][1])
    return ids


WEEK = {"since": NOW - timedelta(days=7), "until": NOW + timedelta(seconds=1)}
TOP_WEEK = [EntityCount("Twitter", "ORG", True, 4, 3), EntityCount("Roskomnadzor", "ORG", True, 2, 2),
            EntityCount("Google", "ORG", False, 1, 1), EntityCount("Vladimir Putin", "PERSON", False, 1, 1)]


@pytest.mark.parametrize("options, expected", [
    ({}, TOP_WEEK),
    ({"types": ["person"]}, [TOP_WEEK[3]]),
    ({"watched": True}, TOP_WEEK[:2]),
    ({"limit": 1}, TOP_WEEK[:1]),
    ({"since": NOW - timedelta(days=60)}, [EntityCount("Twitter", "ORG", True, 5, 4),
                                          EntityCount("Google", "ORG", False, 2, 2),
                                          EntityCount("Roskomnadzor", "ORG", True, 2, 2),
                                          EntityCount("Berlin", "GPE", False, 1, 1),
                                          EntityCount("Vladimir Putin", "PERSON", False, 1, 1)]),
])
def test_top_entities(repo: Repository, filled: dict, options: dict, expected: list[EntityCount]) -> None:
    assert top_entities(repo, EntityFilter(**{**WEEK, **options})) == expected


def test_trending_ranks_by_rise_against_own_baseline(repo: Repository, filled: dict) -> None:
    # baseline: the 4 weeks before, where Twitter and Google had 1 mention each (a3)
    assert trending_entities(repo, EntityFilter(**WEEK), min_mentions=1) == [
        TrendingEntity("Twitter", "ORG", True, 4, 3, 0.25, 5 / 1.25),
        TrendingEntity("Roskomnadzor", "ORG", True, 2, 2, 0.0, 3.0),
        TrendingEntity("Vladimir Putin", "PERSON", False, 1, 1, 0.0, 2.0),
        TrendingEntity("Google", "ORG", False, 1, 1, 0.25, 2 / 1.25)]
    assert [t.name for t in trending_entities(repo, EntityFilter(**WEEK))] == ["Twitter", "Roskomnadzor"]
    assert trending_entities(repo, EntityFilter(**WEEK, types=["GPE"])) == []


def _day_counts(since: datetime, until: datetime, counts: dict[date, tuple[int, int]]) -> list[DayCount]:
    first, last = since.date(), (until - timedelta(microseconds=1)).date()
    return [DayCount(first + timedelta(days=i), *counts.get(first + timedelta(days=i), (0, 0)))
            for i in range((last - first).days + 1)]


def _event(ids: dict, key: str, index: int = 0) -> EventHit:
    type_, trigger, i, actor, target, amount, currency = EVENTS[key][index]
    return EventHit(0, type_, trigger, actor, target, amount, currency, None, TEXTS[key][i], 0.5, ids[key][0],
                    TITLES[key], SOURCES[key], f"https://news.example/{key}", when(key))


def _no_ids(events: list[EventHit]) -> list[EventHit]:
    return [replace(e, id=0) for e in events]


def _ref(ids: dict, key: str) -> ArticleRef:
    return ArticleRef(ids[key][0], TITLES[key], SOURCES[key], f"https://news.example/{key}", when(key), ids[key][1])


def test_entity_profile(repo: Repository, filled: dict) -> None:
    since, until = NOW - timedelta(days=30), NOW + timedelta(seconds=1)
    profile = entity_profile(repo, "TWITTER", since, until)
    assert profile is not None
    days: dict[date, tuple[int, int]] = {}
    for key, n in (("a1", 2), ("a2", 1), ("a3", 1), ("a5", 1)):
        m, a = days.get(when(key).date(), (0, 0))
        days[when(key).date()] = (m + n, a + 1)
    events = profile.latest_events
    profile.latest_events = []
    assert profile == replace(
        profile, name="Twitter", types=["ORG"], watched=True, since=since, until=until, mentions=5, articles=4,
        surface_forms=[SurfaceForm("Twitter", 4), SurfaceForm("X Corp", 1)],
        timeline=_day_counts(since, until, days),
        co_mentions=[CoMention("Google", "ORG", 2), CoMention("Roskomnadzor", "ORG", 2),
                     CoMention("Vladimir Putin", "PERSON", 1)],
        latest_articles=[_ref(filled, k) for k in ("a1", "a2", "a5", "a3")])
    assert _no_ids(events) == [_event(filled, "a1"), _event(filled, "a2")]
    assert entity_timeline(repo, "twitter", since, until) == profile.timeline
    assert entity_timeline(repo, "twitter", since, until, types=["PERSON"]) == []


def test_entity_profile_limits_and_unknown_names(repo: Repository, filled: dict) -> None:
    profile = entity_profile(repo, "Berlin", NOW - timedelta(days=7), NOW, limit=1)
    assert profile is not None
    assert (profile.mentions, profile.surface_forms, profile.co_mentions) == (0, [], [])
    assert [d.mentions for d in profile.timeline] == [0] * len(profile.timeline)
    assert profile.latest_articles == [_ref(filled, "a4")]  # latest is not limited to the window
    assert entity_profile(repo, "Berlin", NOW - timedelta(days=7), types=["ORG"]) is None
    assert entity_profile(repo, "Nobody", NOW - timedelta(days=7)) is None


@pytest.mark.parametrize("options, expected", [
    ({}, [("a1", 0), ("a2", 0), ("a3", 0)]),
    ({"types": [EventType.FINE]}, [("a1", 0)]),
    ({"types": [EventType.COURT_ACTION, EventType.BLOCK_OR_THROTTLE]}, [("a2", 0), ("a3", 0)]),
    ({"entity": "twitter"}, [("a1", 0), ("a2", 0)]),  # X Corp in a2's event sentence is Twitter
    ({"entity": "Google"}, [("a3", 0)]),
    ({"entity": "Vladimir Putin"}, []),  # mentioned in a1, but not in its event's sentence
    ({"since": NOW - timedelta(days=7)}, [("a1", 0), ("a2", 0)]),
    ({"limit": 1}, [("a1", 0)]),
])
def test_list_events(repo: Repository, filled: dict, options: dict, expected: list) -> None:
    f = EventFilter(**{"since": NOW - timedelta(days=30), **options})
    assert _no_ids(list_events(repo, f)) == [_event(filled, k, i) for k, i in expected]


def _story(ids: dict, keys: tuple[str, ...], sources: int) -> StorySummary:
    first = build(keys[0])[0].fetched_at
    return StorySummary(ids[keys[0]][1], TITLES[keys[0]], first, max(when(k) for k in keys), len(keys), sources)


def test_list_stories(repo: Repository, filled: dict) -> None:
    s1, s3, s5 = _story(filled, ("a1", "a2"), 2), _story(filled, ("a3",), 1), _story(filled, ("a5",), 1)
    assert list_stories(repo, since=NOW - timedelta(days=7)) == [s1, s5]
    assert list_stories(repo, since=NOW - timedelta(days=30)) == [s1, s5, s3]
    assert list_stories(repo, since=NOW - timedelta(days=30), sort="sources", limit=2) == [s1, s5]
    # a story counts all its articles when one of them is in the window
    assert list_stories(repo, since=NOW - timedelta(days=1, hours=12), until=NOW) == [s1]
    assert list_stories(repo, since=NOW - timedelta(days=100), until=NOW - timedelta(days=39)) != []
    assert list_stories(repo, since=NOW + timedelta(days=1)) == []


@pytest.mark.parametrize("values, expected", [
    ([], ""), ([0, 0], "▁▁"), ([0, 1, 7], "▁▂█"), ([1, 1], "██"), ([0, 100, 1, 50], "▁█▂▅"),
])
def test_render_sparkline(values: list[int], expected: str) -> None:
    assert render_sparkline(values) == expected


# -- the commands ------------------------------------------------------------------------------------
def invoke(db_url: str, *args: str, config: Path | None = None) -> tuple[int, str, str]:
    head = ["--config", str(config)] if config else []
    # wide enough that rich folds no table cell
    result = CliRunner(env={"COLUMNS": "250"}).invoke(cli, [*head, "--database", db_url, *args],
                                                      catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "newsmon.yaml"
    path.write_text("watchlist:\n  - {name: Twitter, aliases: [X Corp]}\n  - {name: Roskomnadzor, aliases: [RKN]}\n")
    return path


def test_entities_command_formats(db_url: str, filled: dict) -> None:
    code, out, err = invoke(db_url, "entities", "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == [{"name": e.name, "type": e.type, "watched": e.watched, "mentions": e.mentions,
                                "articles": e.articles} for e in TOP_WEEK]
    code, out, _ = invoke(db_url, "entities", "--csv", "--type", "ORG", "--limit", "2")
    assert out.splitlines() == ["name,type,mentions,articles,watched", "Twitter,ORG,4,3,True",
                                "Roskomnadzor,ORG,2,2,True"]
    code, out, _ = invoke(db_url, "entities", "--jsonl", "--watched", "--trending")
    assert [json.loads(line) for line in out.splitlines()] == [
        {"name": "Twitter", "type": "ORG", "watched": True, "mentions": 4, "articles": 3, "baseline": 0.25,
         "ratio": 4.0},
        {"name": "Roskomnadzor", "type": "ORG", "watched": True, "mentions": 2, "articles": 2, "baseline": 0.0,
         "ratio": 3.0}]
    code, out, _ = invoke(db_url, "entities", "--since", "60d")
    assert code == 0 and "Twitter" in out and "Berlin" in out and "mentions" in out


def test_empty_listings_exit_0_with_a_note(db_url: str, filled: dict) -> None:
    for args, note in [(("entities", "--type", "FAC"), "no entities in this window"),
                       (("events", "--entity", "Nobody"), "no events in this window"),
                       (("stories", "--since", "1s"), "no stories in this window"),
                       (("entity", "Nobody"), "no entity named 'Nobody' is stored")]:
        code, out, err = invoke(db_url, *args)
        assert (code, out, err) == (0, "", note + "\n"), args
    assert invoke(db_url, "events", "--type", "BAN", "--json")[:2] == (0, "[]\n")


def test_entity_command_resolves_alias(db_url: str, filled: dict, config: Path) -> None:
    code, out, err = invoke(db_url, "entity", "X Corp", "--json", "--since", "7d", config=config)
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert (data["name"], data["types"], data["mentions"], data["articles"]) == ("Twitter", ["ORG"], 4, 3)
    assert data["surface_forms"] == [{"text": "Twitter", "mentions": 3}, {"text": "X Corp", "mentions": 1}]
    assert len(data["timeline"]) == 8 and sum(d["mentions"] for d in data["timeline"]) == 4
    assert [e["type"] for e in data["latest_events"]] == ["FINE", "BLOCK_OR_THROTTLE"]
    assert [a["title"] for a in data["latest_articles"]] == [TITLES[k] for k in ("a1", "a2", "a5", "a3")]


def test_entity_command_table(db_url: str, filled: dict, config: Path) -> None:
    code, out, err = invoke(db_url, "entity", "rkn", "--since", "7d", config=config)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == (f"Roskomnadzor (ORG, watch list): 2 mentions in 2 articles, "
                        f"{(NOW - timedelta(days=7)).date()} .. {NOW.date()}")
    assert lines[1].startswith("mentions per day: ") and "(max 1 on " in lines[1]
    for heading in ("Surface forms", "Mentioned with", "Latest events", "Latest articles"):
        assert heading in out
    assert "Twitter slowed down" in out and "RKN slowed down X Corp in May." in out


def test_events_command(db_url: str, filled: dict, config: Path) -> None:
    code, out, err = invoke(db_url, "events", "--type", "fine", "--entity", "X Corp", "--csv", config=config)
    assert (code, err) == (0, "")
    assert out.splitlines() == ["published_at,type,actor,target,amount,currency,date,sentence",
                                (f"{when('a1').isoformat()},FINE,Roskomnadzor,Twitter,3000000.0,RUB,,"
                                 "Roskomnadzor fined Twitter 3 million roubles.")]
    code, out, _ = invoke(db_url, "events", "--jsonl")
    assert [json.loads(line)["title"] for line in out.splitlines()] == [TITLES[k] for k in ("a1", "a2", "a3")]
    code, _, err = invoke(db_url, "events", "--type", "FINED")
    assert code == 2 and "FINED" in err


def test_stories_command(db_url: str, filled: dict) -> None:
    code, out, err = invoke(db_url, "stories", "--json", "--since", "30d", "--sort", "sources")
    assert (code, err) == (0, "")
    assert [(s["headline"], s["articles"], s["sources"]) for s in json.loads(out)] == [
        (TITLES["a1"], 2, 2), (TITLES["a5"], 1, 1), (TITLES["a3"], 1, 1)]
    code, out, _ = invoke(db_url, "stories")
    assert code == 0 and TITLES["a1"][:20] in out and TITLES["a3"][:20] not in out


@pytest.mark.parametrize("command", ["entities", "entity", "events", "stories"])
def test_every_explore_command_has_help_with_an_example(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.stdout and f"newsmon {command} " in result.stdout
