"""Alerting on both databases: one alert per story, follow-ups only on new facts, digests, caps,
spikes and the rule index. Articles and analyses are stored directly (no NLP, no crawl)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import update

from newsmon.alerts.index import RuleIndex, rule_keys
from newsmon.alerts.rules import compile_rule
from newsmon.alerts.stage import alert, deliver
from newsmon.config import Config, Rule
from newsmon.records import Analysis, Article, Event, EventType, Mention, NotificationStatus
from newsmon.storage.models import ArticleRow
from newsmon.storage.outbox import count_held_items
from newsmon.storage.repository import Repository

NOW = datetime(2021, 7, 2, 12, 30, tzinfo=timezone.utc)
WATCHLIST = [{"name": "Roskomnadzor"}, {"name": "Twitter"}, {"name": "Google"}]
S_FINE = "Roskomnadzor fined Twitter over content it did not remove."
S_AMOUNT = "Roskomnadzor fined Twitter 3 million roubles over content it did not remove."
S_COURT = "A Moscow court will hear the case against Twitter on July 15."


def make_config(**extra: Any) -> Config:
    data: dict[str, Any] = {
        "database": "sqlite://", "watchlist": WATCHLIST,
        "channels": {"hook": "json://127.0.0.1:9/hook"},
        "rules": [{"name": "rkn", "entities": {"any": ["Roskomnadzor"]}, "notify": ["hook"]}],
        "delivery": {"backoff": "0s", "max_attempts": 3, "timeout": 2},
    }
    data.update(extra)
    return Config.model_validate(data)


def fine(amount: float | None = None, currency: str | None = None, sentence: str = S_FINE) -> Event:
    return Event(EventType.FINE, "fined", sentence, 0, len(sentence), actor="Roskomnadzor",
                 target="Twitter", amount=amount, currency=currency)


def store(repo: Repository, n: int, events: list[Event] | None = None, story_of: int | None = None,
          entities: tuple[str, ...] = ("Roskomnadzor",), published: datetime | None = None,
          source: str = "demo") -> tuple[int, int]:
    """Store an analysed article; `story_of` puts it in that article's story. Returns (id, story)."""
    text = f"Article {n}. {S_FINE} " + " ".join(events[0].sentence for e in (events or [])[:1])
    saved = repo.save_article(Article(
        url=f"https://news.example/a/{n}", source=source, title=f"Story about Roskomnadzor {n}", text=text,
        fetched_at=published or NOW, published_at=published or NOW, date_source="json-ld",
        content_hash=f"hash-{n}"))
    story = saved.story_id
    if story_of is not None:
        story = repo.get_article(story_of).story_id  # type: ignore[union-attr]
        with repo.engine.begin() as conn:
            conn.execute(update(ArticleRow).where(ArticleRow.id == saved.article_id).values(story_id=story))
    mentions = [Mention(name, "ORG", 0, len(name), S_FINE, name, True) for name in entities]
    repo.save_analysis(saved.article_id, Analysis(mentions, events or []))
    return saved.article_id, story  # type: ignore[return-value]


def keys(repo: Repository) -> list[str]:
    return sorted(n.key for n in repo.list_notifications(limit=10_000))


def test_one_alert_per_story_and_follow_ups_only_on_new_facts(repo: Repository) -> None:
    config = make_config()
    first, story = store(repo, 1, [fine()])
    assert alert(repo, config, now=NOW) == 1
    store(repo, 2, [fine()], story_of=first)  # a copy: same facts
    assert alert(repo, config, now=NOW) == 0
    store(repo, 3, [fine(3_000_000, "RUB", S_AMOUNT)], story_of=first)  # a new amount
    assert alert(repo, config, now=NOW) == 1
    store(repo, 4, [fine(3_000_000, "RUB", S_AMOUNT)], story_of=first)  # the amount again
    court = Event(EventType.COURT_ACTION, "hear the case", S_COURT, 0, len(S_COURT), target="Twitter",
                  date="2021-07-15")
    store(repo, 5, [fine(), court], story_of=first)  # a new event type and a date
    assert alert(repo, config, now=NOW) == 1
    assert keys(repo) == [f"rkn:story-{story}:hook:v1", f"rkn:story-{story}:hook:v2", f"rkn:story-{story}:hook:v3"]
    v2 = next(n for n in repo.list_notifications() if n.key.endswith(":v2"))
    assert v2.title == "[newsmon] UPDATE 1 rkn: Story about Roskomnadzor 3"
    assert "**Update 1** to a story rule **rkn** already alerted on. New:" in v2.body
    assert "- amount *3,000,000 RUB \\(FINE\\)*:" in v2.body
    v3 = next(n for n in repo.list_notifications() if n.key.endswith(":v3"))
    assert "- event *COURT\\_ACTION*:" in v3.body and "- date *2021-07-15 \\(COURT\\_ACTION\\)*:" in v3.body
    assert "amount" not in v3.body.split("Why the rule matched")[0]  # known facts are not repeated


def test_500_matching_articles_of_20_stories_make_20_alerts(repo: Repository) -> None:
    config = make_config()
    firsts = [store(repo, n, [fine()])[0] for n in range(20)]
    for n in range(20, 500):
        store(repo, n, [fine()], story_of=firsts[n % 20])
    assert alert(repo, config, now=NOW) == 20
    assert repo.count_notifications() == 20 and len(set(keys(repo))) == 20
    assert alert(repo, config, now=NOW) == 0  # nothing left to evaluate, nothing doubled


def test_hourly_digest_is_one_message_grouped_by_rule(repo: Repository) -> None:
    config = make_config(
        channels={"hook": {"url": "json://127.0.0.1:9/hook", "digest": "hourly"}},
        rules=[{"name": "rkn", "entities": {"any": ["Roskomnadzor"]}, "notify": ["hook"]},
               {"name": "fines", "events": ["FINE"], "notify": ["hook"]}])
    for n in range(3):
        store(repo, n, [fine()])
    assert alert(repo, config, now=NOW) == 6 and repo.count_notifications() == 0
    sent: list[tuple[str, str]] = []

    def capture(url: str, title: str, body: str, body_format: str, timeout: float, key: str) -> None:
        sent.append((title, body))

    assert deliver(repo, config, now=NOW, send=capture).sent == 0  # the hour is not over
    report = deliver(repo, config, now=NOW + timedelta(minutes=30), send=capture)
    assert (report.digests, report.sent) == (1, 1)
    [(title, body)] = sent
    assert title == "[newsmon] hourly digest, 2021-07-02 12:00 UTC + 1h: 6 stories"
    assert body.index("Rule **rkn**") < body.index("Rule **fines**")
    assert body.count("[Story about Roskomnadzor") == 6
    assert count_held_items(repo) == 0
    assert deliver(repo, config, now=NOW + timedelta(hours=5), send=capture).sent == 0  # never twice


def test_rule_cap_rolls_the_excess_into_one_summary(repo: Repository) -> None:
    config = make_config(rules=[{"name": "rkn", "entities": {"any": ["Roskomnadzor"]}, "notify": ["hook"],
                                 "max_alerts": 2, "max_alerts_per": "1h"}])
    for n in range(5):
        store(repo, n, [fine()])
    assert alert(repo, config, now=NOW) == 5
    assert repo.count_notifications() == 2 and count_held_items(repo) == 3
    sent: list[str] = []
    deliver(repo, config, now=NOW + timedelta(hours=1), send=lambda *a, **k: sent.append(a[1]))
    assert sorted(sent)[-1] == "[newsmon] rkn: more stories than its cap, 2021-07-02 12:00 UTC + 1h: 3 stories"
    assert len(sent) == 3


def test_spike_fires_once_per_surge_against_the_entitys_own_baseline(repo: Repository) -> None:
    config = make_config(rules=[{"name": "surge", "notify": ["hook"],
                                 "spike": {"entities": "watchlist", "window": "24h", "baseline": "14d",
                                           "factor": 3, "min_count": 5}}])
    n = 0
    for hours in range(1, 7):  # Twitter: 6 articles today, 1 in the two weeks before
        n += 1
        store(repo, n, entities=("Twitter",), published=NOW - timedelta(hours=hours))
    store(repo, 100, entities=("Twitter",), published=NOW - timedelta(days=5))
    for hours in range(1, 7):  # Google: 6 today, but 42 over the baseline (3 a day, x3 = 9 > 6)
        n += 1
        store(repo, n, entities=("Google",), published=NOW - timedelta(hours=hours))
    for day in range(42):
        store(repo, 200 + day, entities=("Google",), published=NOW - timedelta(days=2 + day // 3, hours=day % 3))
    assert alert(repo, config, now=NOW) == 1
    [note] = repo.list_notifications()
    assert note.title == "[newsmon] surge: Twitter surging (6 articles in 24h)"
    assert "6 articles in the last 24h, 84.0x its usual rate (0.1 expected from the previous 14d)" in note.body
    assert alert(repo, config, now=NOW + timedelta(hours=2)) == 0  # the same surge: no second alert
    assert repo.count_notifications(NotificationStatus.PENDING) == 1


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"entities": {"any": ["Twitter", "Google"]}, "events": ["FINE"]}, {"pair:twitter|FINE", "pair:google|FINE"}),
        ({"entities": {"any": ["Twitter"]}}, {"entity:twitter"}),
        ({"entities": {"all": ["Twitter", "Google"]}, "events": ["FINE", "BAN"]}, {"pair:google|FINE", "pair:google|BAN"}),
        ({"entities": {"all": ["Twitter", "Google"]}}, {"both:google|twitter"}),
        ({"entities": {"all": ["Twitter"]}}, {"entity:twitter"}),
        ({"events": ["FINE", "BAN"]}, {"event:FINE", "event:BAN"}),
        ({"query": "twitter AND (fine OR ban)"}, {"word:twitter"}),
        ({"query": '"open an office" OR google'}, {"word:open", "word:google"}),
        ({"query": "twitter NOT google"}, {"word:twitter"}),
        ({"query": "NOT google"}, None),
        ({"query": "twitter OR NOT google"}, None),
        ({"entities": {"types": ["PERSON"]}}, {"type:PERSON"}),
        ({"sources": ["demo"], "languages": ["en"]}, {"source:demo"}),
        ({"languages": ["en"]}, None),
    ],
)
def test_rule_keys(fields: dict[str, Any], expected: set[str] | None) -> None:
    rule = compile_rule(Rule(name="r", **fields), {"Twitter", "Google"})
    assert rule_keys(rule)[0] == expected


def test_index_finds_exactly_the_rules_that_fire() -> None:
    """The index changes cost, never results: same matches as evaluating every rule."""
    from newsmon.alerts.rules import evaluate
    from tests.test_alerts_rules import ANALYSIS, ARTICLE, WATCHLIST as NAMES

    specs = [{"query": "twit*"}, {"query": "tw*"}, {"query": "faceb*"}, {"query": "NOT apple"},
             {"entities": {"any": ["Apple"]}}, {"entities": {"all": ["Twitter", "Google"]}},
             {"events": ["BAN"]}, {"events": ["FINE"]}, {"query": "russia AND (court OR office)"},
             {"entities": {"types": ["GPE"]}}, {"languages": ["en"]}]
    rules = [compile_rule(Rule(name=f"r{i}", **spec), NAMES) for i, spec in enumerate(specs)]
    expected = [r.name for r in rules if evaluate(r, ARTICLE, ANALYSIS) is not None]
    assert [r.name for r, _ in RuleIndex.build(rules).evaluate(ARTICLE, ANALYSIS)] == expected
    assert expected == ["r0", "r1", "r3", "r5", "r7", "r8", "r9", "r10"]
