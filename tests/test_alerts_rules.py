"""Rule compilation and evaluation over an analysed article (the reference story)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from newsmon.alerts.rules import CompiledRule, compile_rule, evaluate, highlight_terms
from newsmon.config import Rule
from newsmon.errors import ConfigError
from newsmon.records import Analysis, Article, Event, EventType, MatchReason, Mention

WATCHLIST = {"Roskomnadzor", "Twitter", "Google", "Telegram", "Facebook", "Apple"}
S1 = ("Vladimir Putin signed a law on Thursday obliging foreign social networks with more than 500,000 "
      "daily users to open offices in Russia.")
S2 = "Roskomnadzor, the communications regulator, may punish violators with fines and advertising bans."
S3 = "Russia slowed down Twitter in May."
S4 = "A Moscow court opened a case against Google on Wednesday over a breach of the personal data law."
TEXT = " ".join([S1, S2, S3, S4])
ARTICLE = Article(url="https://news.example/putin-twitter", source="example-news",
                  title="Putin Orders Twitter to Open Russian Office", text=TEXT,
                  fetched_at=datetime(2021, 7, 2, tzinfo=timezone.utc), language="en")


def mention(text: str, label: str, sentence: str, canonical: str | None = None, watched: bool = True) -> Mention:
    start = TEXT.index(text)
    return Mention(text, label, start, start + len(text), sentence, canonical or text, watched)


ANALYSIS = Analysis(
    mentions=[
        mention("Vladimir Putin", "PERSON", S1, watched=False),
        mention("Russia", "GPE", S1, watched=False),
        mention("Roskomnadzor", "ORG", S2),
        mention("Twitter", "ORG", S3),
        mention("Moscow", "GPE", S4, watched=False),
        mention("Google", "ORG", S4),
    ],
    events=[
        Event(EventType.LAW, "signed a law", S1, 0, len(S1)),
        Event(EventType.FINE, "fines", S2, 0, len(S2)),
        Event(EventType.COURT_ACTION, "opened a case", S4, 0, len(S4)),
    ],
)


def compiled(**fields: object) -> CompiledRule:
    return compile_rule(Rule(name="r", **fields), WATCHLIST)


CASES = [
    ({"entities": {"any": ["roskomnadzor", "Apple"]}}, [MatchReason("entity", "Roskomnadzor", S2)]),
    ({"entities": {"any": ["Apple"]}}, None),
    ({"entities": {"all": ["Twitter", "Google"]}},
     [MatchReason("entity", "Twitter", S3), MatchReason("entity", "Google", S4)]),
    ({"entities": {"all": ["Twitter", "Apple"]}}, None),
    ({"entities": {"any": ["Twitter"], "none": ["Google"]}}, None),
    ({"entities": {"any": ["Twitter"], "none": ["Facebook"]}}, [MatchReason("entity", "Twitter", S3)]),
    ({"entities": {"types": ["gpe"]}}, [MatchReason("type", "GPE", S1)]),
    ({"entities": {"types": ["GPE"]}, "min_mentions": 3}, None),
    ({"entities": {"any": ["Twitter", "Google"], "types": ["ORG"]}, "min_mentions": 2},
     [MatchReason("entity", "Twitter", S3), MatchReason("entity", "Google", S4)]),
    ({"entities": {"any": ["Twitter"]}, "min_mentions": 2}, None),
    ({"events": ["FINE", "BAN"]}, [MatchReason("event", "FINE", S2)]),
    ({"events": ["ransomware"]}, None),
    ({"query": "twitter AND (fines OR bans)"}, [MatchReason("query", "twitter AND (fines OR bans)", S2)]),
    ({"query": "title:orders"}, [MatchReason("query", "title:orders", ARTICLE.title)]),
    ({"query": "twitter NOT google"}, None),
    ({"query": "twitter", "sources": ["other-news"]}, None),
    ({"query": "twitter", "languages": ["EN"]}, [MatchReason("query", "twitter", S3)]),
    ({"query": "twitter", "languages": ["ru"]}, None),
    ({"sources": ["example-news"]}, []),
    ({"min_mentions": 3, "sources": ["example-news"]}, [],),  # three watch-list mentions
    ({"min_mentions": 4, "sources": ["example-news"]}, None),
    (  # the design's example rule: every condition kind must hold
        {"entities": {"any": ["Roskomnadzor"], "types": ["ORG"]},
         "events": ["FINE", "BAN", "BLOCK_OR_THROTTLE", "COURT_ACTION"], "query": "Twitter OR Telegram OR Google"},
        [MatchReason("event", "FINE", S2), MatchReason("event", "COURT_ACTION", S4),
         MatchReason("entity", "Roskomnadzor", S2), MatchReason("query", "Twitter OR Telegram OR Google", S3)],
    ),
]


@pytest.mark.parametrize(("fields", "expected"), CASES)
def test_evaluate(fields: dict[str, object], expected: list[MatchReason] | None) -> None:
    assert evaluate(compiled(**fields), ARTICLE, ANALYSIS) == expected


def test_tags_need_the_source_tags() -> None:
    rule = compiled(tags=["security"], query="twitter")
    assert evaluate(rule, ARTICLE, ANALYSIS) is None
    assert evaluate(rule, ARTICLE, ANALYSIS, source_tags=["russia", "security"]) == [
        MatchReason("query", "twitter", S3)]


def test_unknown_language_never_passes_a_language_filter() -> None:
    article = Article(**{**{f: getattr(ARTICLE, f) for f in ARTICLE.__slots__}, "language": None})
    assert evaluate(compiled(query="twitter", languages=["en"]), article, ANALYSIS) is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"events": ["FINE", "PARKING_TICKET"]}, "rule 'r': events: unknown event type 'PARKING_TICKET'"),
        ({"entities": {"any": ["Twitter", "Netflix"]}}, "rule 'r': entities.any: 'Netflix' is not in the watchlist"),
        ({"entities": {"none": ["Netflix"]}}, "rule 'r': entities.none: 'Netflix' is not in the watchlist"),
        ({"query": "twitter AND"}, "rule 'r': query: bad query at position 9: AND needs a term after it"),
        ({}, "rule 'r': no conditions"),
    ],
)
def test_compile_rule_errors(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        compiled(**fields)
    assert str(error.value).startswith(message)


def test_compile_rule_parses_the_query_once() -> None:
    rule = compiled(query="twitter OR google", events=["fine"], entities={"any": ["TWITTER"]})
    assert rule.query is not None and rule.query.positive_terms() == ["twitter", "google"]
    assert rule.events == {EventType.FINE} and rule.any == {"twitter"}


def test_highlight_terms() -> None:
    rule = compiled(entities={"any": ["Twitter"]}, events=["FINE"], query="google")
    assert highlight_terms(rule, ANALYSIS) == ["Twitter", "fines", "google"]
