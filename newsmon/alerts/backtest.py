"""`newsmon rules test RULE --since 30d`: what a rule would have sent over stored history.

Nothing is written or sent. The rule's index keys (newsmon.alerts.index) choose candidate
articles from the database's own indexes (mentions by entity, events by type, mentions by
label, articles by source); only rules that need none of these (a query with NOT at its top, a
language or tag filter alone) and query rules read every article in the window. Candidates are
loaded in batches with their analyses and evaluated as the alert stage does; a story counts
once, on the day of its first matching article; only the examples are explained.

Spike rules replay the alert stage's check with the window sliding in steps of 1/24 of a window
over the period (see ``backtest_spike``).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from newsmon.alerts.index import RuleIndex, rule_keys
from newsmon.alerts.rules import CompiledRule, PreparedArticle, explain, highlight_terms
from newsmon.config import Config, parse_duration
from newsmon.records import Analysis, Article, MatchReason
from newsmon.storage.repository import Repository

BATCH = 500
STEPS_PER_WINDOW = 24  # a spike backtest checks the window this many times per window length


@dataclass(slots=True)
class Example:
    story_id: int
    title: str
    text: str  # the plain-text notification


@dataclass(slots=True)
class SpikeFiring:
    """One alert a spike rule would have sent: the window ending at `at`."""

    at: datetime
    entity: str
    count: int
    expected: float


@dataclass(slots=True)
class BacktestReport:
    rule: str
    since: datetime
    candidates: int = 0  # articles read and evaluated
    matched_articles: int = 0
    stories_per_day: dict[date, int] = field(default_factory=dict)
    examples: list[Example] = field(default_factory=list)
    spikes: list[SpikeFiring] | None = None  # spike rules: every alert, in time order
    seconds: float = 0.0

    @property
    def stories(self) -> int:
        return sum(self.stories_per_day.values())


def backtest_rule(repo: Repository, config: Config, rule: CompiledRule, since: datetime,
                  until: datetime | None = None, examples: int = 3) -> BacktestReport:
    """Run one rule over the stored articles dated in [since, until); send nothing."""
    from newsmon.storage.outbox import candidate_article_ids, load_analyses, load_articles

    if rule.spike is not None:
        return backtest_spike(repo, config, rule, since, until)
    started = time.monotonic()
    report = BacktestReport(rule.name, since)
    ids = candidate_article_ids(repo, since, until, **_prefilter(rule))
    report.candidates = len(ids)
    index = RuleIndex.build([rule])
    tags = {s.name: s.tags for s in config.sources}
    seen: set[int] = set()
    days: Counter[date] = Counter()
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        analyses = load_analyses(repo, chunk)
        for article in load_articles(repo, chunk):
            analysis = analyses[article.id]  # type: ignore[index]
            fired = index.evaluate(article, analysis, tags.get(article.source, ()), explain=False)
            if not fired:
                continue
            report.matched_articles += 1
            story = article.story_id or article.id
            assert story is not None
            if story in seen:
                continue
            seen.add(story)
            days[(article.published_at or article.fetched_at).date()] += 1
            if len(report.examples) < examples:
                report.examples.append(_example(repo, config, rule, article, analysis, fired[0][1]))
    report.stories_per_day = dict(sorted(days.items()))
    report.seconds = time.monotonic() - started
    return report


def _prefilter(rule: CompiledRule) -> dict[str, list[str] | None]:
    keys, prefixes = rule_keys(rule)
    if keys is None:
        return {}  # nothing is needed: every article in the window is read
    by_kind: dict[str, list[str]] = {}
    for key in keys:
        kind, _, value = key.partition(":")
        if kind in ("pair", "both"):  # (name, event type) or (name, name): the articles mentioning the first
            kind, value = "entity", value.partition("|")[0]
        by_kind.setdefault(kind, []).append(value)
    # query words (one of which every match contains) come from the full-text index
    return {"entities": by_kind.get("entity"), "events": by_kind.get("event"),
            "labels": by_kind.get("type"), "sources": by_kind.get("source"),
            "words": by_kind.get("word") if (by_kind.get("word") or prefixes) else None,
            "prefixes": prefixes or None}


def _example(repo: Repository, config: Config, rule: CompiledRule, article: Article, analysis: Analysis,
             reasons: list[MatchReason]) -> Example:
    from newsmon.alerts.render import build_match_context, render_notification

    story = article.story_id or article.id
    assert story is not None
    reasons = explain(rule, reasons, PreparedArticle(article, analysis))
    context = build_match_context(rule.name, article, reasons, repo.story_source_count(story),
                                  highlight_terms(rule, analysis))
    title, body, _ = render_notification("json://localhost/?format=text", context, config.templates)
    return Example(story, title, body)


def backtest_spike(repo: Repository, config: Config, rule: CompiledRule, since: datetime,
                   until: datetime | None = None) -> BacktestReport:
    """Every alert a spike rule would have sent over [since, until).

    The window ends every 1/24 window (on the hour for 24h) and is checked as the alert stage checks
    it (newsmon.alerts.spikes.surges), with its rule of one alert per entity per window. Counts
    come from one grouped query per step, summed: an article has one date, so distinct articles
    per entity add up across steps. The baseline is rounded to whole steps.
    """
    from newsmon.alerts.spikes import spike_counts, surges

    started = time.monotonic()
    spec = rule.spike
    assert spec is not None
    window = parse_duration(spec.window)
    step = timedelta(seconds=window / STEPS_PER_WINDOW)
    back = max(1, round(parse_duration(spec.baseline) / step.total_seconds()))
    end = until or datetime.now(UTC)
    first = _floor(since - step * (STEPS_PER_WINDOW + back), step)  # windows end on whole steps
    buckets = [spike_counts(repo, config, spec, first + step * k, first + step * (k + 1))
               for k in range(int((end - first) / step))]
    current: Counter[str] = Counter()
    past: Counter[str] = Counter()
    last: dict[str, datetime] = {}
    firings = []
    for k, bucket in enumerate(buckets):  # bucket k ends at first + (k + 1) steps
        current.update(bucket)
        if k >= STEPS_PER_WINDOW:
            current.subtract(buckets[k - STEPS_PER_WINDOW])
            past.update(buckets[k - STEPS_PER_WINDOW])
        if k >= STEPS_PER_WINDOW + back:
            past.subtract(buckets[k - STEPS_PER_WINDOW - back])
        at = first + step * (k + 1)
        if at < since:
            continue
        for surge in surges(spec, +current, +past, STEPS_PER_WINDOW / back):
            if at - last.get(surge.entity, datetime.min.replace(tzinfo=UTC)) >= timedelta(seconds=window):
                last[surge.entity] = at
                firings.append(SpikeFiring(at, surge.entity, surge.count, surge.expected))
    report = BacktestReport(rule.name, since, spikes=firings)
    report.stories_per_day = dict(Counter(f.at.date() for f in firings))
    report.seconds = time.monotonic() - started
    return report


def _floor(moment: datetime, step: timedelta) -> datetime:
    seconds = step.total_seconds()
    return datetime.fromtimestamp(moment.timestamp() // seconds * seconds, UTC)
