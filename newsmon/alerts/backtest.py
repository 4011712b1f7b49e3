"""`newsmon rules test RULE --since 30d`: what a rule would have sent over stored history.

Nothing is written or sent. The rule's index keys (newsmon.alerts.index) choose candidate
articles from the database's own indexes (mentions by entity, events by type, mentions by
label, articles by source); only rules that need none of these (a query with NOT at its top, a
language or tag filter alone) read every article in the window. Candidates are loaded in
batches with their analyses and evaluated exactly as the alert stage does; a story counts once,
on the day of its first matching article.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from newsmon.alerts.index import RuleIndex, rule_keys
from newsmon.alerts.rules import CompiledRule
from newsmon.config import Config
from newsmon.errors import ConfigError
from newsmon.storage.repository import Repository

BATCH = 500


@dataclass(slots=True)
class Example:
    story_id: int
    title: str
    text: str  # the plain-text notification


@dataclass(slots=True)
class BacktestReport:
    rule: str
    since: datetime
    candidates: int = 0  # articles read and evaluated
    matched_articles: int = 0
    stories_per_day: dict[date, int] = field(default_factory=dict)
    examples: list[Example] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def stories(self) -> int:
        return sum(self.stories_per_day.values())


def backtest_rule(repo: Repository, config: Config, rule: CompiledRule, since: datetime,
                  until: datetime | None = None, examples: int = 3) -> BacktestReport:
    """Run one rule over the stored articles dated in [since, until); send nothing."""
    from newsmon.storage.outbox import candidate_article_ids, load_analyses, load_articles

    if rule.spike is not None:
        raise ConfigError(f"rule {rule.name!r} is a spike rule; rules test backtests article rules only")
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
            fired = index.evaluate(article, analyses[article.id], tags.get(article.source, ()))  # type: ignore[index]
            if not fired:
                continue
            report.matched_articles += 1
            story = article.story_id or article.id
            if story in seen:
                continue
            seen.add(story)  # type: ignore[arg-type]
            days[(article.published_at or article.fetched_at).date()] += 1
            if len(report.examples) < examples:
                report.examples.append(_example(repo, config, rule, article, analyses[article.id], fired[0][1]))  # type: ignore[index]
    report.stories_per_day = dict(sorted(days.items()))
    report.seconds = time.monotonic() - started
    return report


def _prefilter(rule: CompiledRule) -> dict[str, list[str] | None]:
    keys, prefixes = rule_keys(rule)
    if keys is None or prefixes or any(k.startswith("word:") for k in keys):
        return {}  # a query: every article in the window is read
    by_kind: dict[str, list[str]] = {}
    for key in keys:
        kind, _, value = key.partition(":")
        by_kind.setdefault(kind, []).append(value)
    return {"entities": by_kind.get("entity"), "events": by_kind.get("event"),
            "labels": by_kind.get("type"), "sources": by_kind.get("source")}


def _example(repo: Repository, config: Config, rule: CompiledRule, article, analysis, reasons) -> Example:  # type: ignore[no-untyped-def]
    from newsmon.alerts.render import build_match_context, render_notification
    from newsmon.alerts.rules import highlight_terms

    story = article.story_id or article.id
    context = build_match_context(rule.name, article, reasons, repo.story_source_count(story),
                                  highlight_terms(rule, analysis))
    title, body, _ = render_notification("json://localhost/?format=text", context, config.templates)
    return Example(story, title, body)
