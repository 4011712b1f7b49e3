"""Rule evaluation cost for 1 and 1,000 rules over the same stored articles, and backtest time.

    .venv/bin/python bench/alerts.py                    # 10,000 articles; backtest on them
    .venv/bin/python bench/alerts.py --backtest 100000  # also backtest on 100,000 (built in ~1 min)

Articles are synthetic (10 sentences of 20 Zipf-distributed words from a 5,000-word vocabulary,
a sentence naming 2-3 of 500 watch-list names, 0-2 events, over 60 days, every third article
joining the previous one's story), inserted in bulk with SQLAlchemy Core into SQLite files under
--dir (kept between runs). The 1,000 rules mix entity+event, entity-pair, query and event+query
conditions on names and less common words. Times are CPU time (the host is shared), cases taking
turns; the baseline, in the same run, evaluates all 1,000 rules on every article without the index.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a plain script from the repo

from bench._common import bulk_insert
from newsmon.alerts.backtest import backtest_rule
from newsmon.alerts.index import RuleIndex
from newsmon.alerts.rules import CompiledRule, PreparedArticle, compile_rule, evaluate
from newsmon.config import Config, Rule
from newsmon.records import Analysis, Article, ArticleStatus, EventType, MatchReason
from newsmon.storage.models import ArticleRow, EntityRow, EventRow, MentionRow, Story
from newsmon.storage.outbox import load_analyses, load_articles
from newsmon.storage.repository import Repository, entity_key, open_repository

NAMES = [f"Org{i}" for i in range(500)]
WORDS = [f"w{i}" for i in range(5000)]
WEIGHTS = [1 / (rank + 1) for rank in range(len(WORDS))]  # Zipf, like real text
RARE = WORDS[500:]  # rules look for words outside the most common ones, as real rules do
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
CHUNK = 5000
PASSES = 3  # timed passes per case; the best one counts


def build(path: Path, count: int, seed: int = 7) -> Repository:
    """A SQLite database of `count` analysed articles, made once (bulk inserts) and kept."""
    repo = open_repository(f"sqlite:///{path}", upgrade=True)
    have = repo.count_articles()
    if have and have != count:
        raise SystemExit(f"{path} holds {have} articles, not {count}: delete it")
    if have:
        return repo
    started = time.process_time()
    rng = random.Random(seed)
    bulk_insert(repo.engine, {EntityRow: [{"id": i + 1, "key": entity_key("ORG", name), "name": name, "type": "ORG",
                                           "watched": True, "external_id": None} for i, name in enumerate(NAMES)]})
    for first in range(1, count + 1, CHUNK):
        rows: dict[Any, list[dict[str, Any]]] = {Story: [], ArticleRow: [], MentionRow: [], EventRow: []}
        for article_id in range(first, min(first + CHUNK, count + 1)):
            _article_rows(rng, article_id, rows)
        bulk_insert(repo.engine, rows)
    print(f"built {path.name}: {count} articles in {time.process_time() - started:.0f} CPU s (bulk inserts)")
    return repo


def _article_rows(rng: random.Random, article_id: int, rows: dict[Any, list[dict[str, Any]]]) -> None:
    """One article: ~10 sentences of Zipf words, a sentence naming 2-3 watch-list names, 0-2 events."""
    names = rng.sample(range(len(NAMES)), rng.randint(2, 3))
    words = rng.choices(WORDS, WEIGHTS, k=200)
    sentences = [" ".join(words[i:i + 20]).capitalize() + "." for i in range(0, 200, 20)]
    named = " and ".join(NAMES[i] for i in names) + " said."
    sentences.insert(5, named)
    text = " ".join(sentences)
    at = text.index(named)
    when = NOW - timedelta(minutes=article_id * 25 % (60 * 24 * 60))
    story = article_id if article_id % 3 else article_id - 1  # every third article joins a story
    if story == article_id:
        rows[Story].append({"id": story, "headline": sentences[0][:80], "first_seen": when})
    rows[ArticleRow].append({
        "id": article_id, "url": f"https://bench.example/{article_id}", "url_hash": f"{article_id:064x}",
        "source": f"src{article_id % 20}", "title": " ".join(words[:6]), "authors": [], "published_at": when,
        "date_source": "meta", "language": "en", "site_name": None, "summary": None, "text": text,
        "content_hash": f"h{article_id}", "extractor": "bench", "fetched_at": when,
        "status": ArticleStatus.ANALYSED.value, "status_reason": None, "story_id": story})
    for i in names:
        start = at + named.index(NAMES[i])
        rows[MentionRow].append({"article_id": article_id, "entity_id": i + 1, "text": NAMES[i], "label": "ORG",
                                 "start": start, "end": start + len(NAMES[i]), "sentence": named})
    for event_type in rng.sample(list(EventType), rng.randint(0, 2)):
        rows[EventRow].append({
            "article_id": article_id, "type": event_type.value, "trigger": "said",
            "actor": NAMES[names[0]], "target": None, "amount": None, "currency": None, "date": None,
            "legal_basis": None, "sentence": named, "start": at, "end": at + len(named), "confidence": 0.5})


def make_rules(count: int, seed: int = 11, only: int | None = None) -> list[Rule]:
    """`count` rules cycling through the five kinds below (or all of kind `only`)."""
    rng = random.Random(seed)
    kinds = [
        lambda i: {"entities": {"any": [rng.choice(NAMES)]}, "events": [rng.choice(list(EventType)).value]},
        lambda i: {"query": f"{rng.choice(RARE)} AND ({rng.choice(RARE)} OR {rng.choice(RARE)})"},
        lambda i: {"query": f'"{rng.choice(RARE)} {rng.choice(RARE)}" OR {rng.choice(RARE)}'},
        lambda i: {"entities": {"all": rng.sample(NAMES, 2)}},
        lambda i: {"events": [rng.choice(list(EventType)).value], "query": f"{rng.choice(RARE)} NOT {rng.choice(WORDS)}"},
    ]
    return [Rule(name=f"r{i}", **kinds[i % len(kinds) if only is None else only](i)) for i in range(count)]


def bench_scaling(articles: list[Article], analyses: dict[int, Analysis]) -> None:
    """1 against 1,000 rules of one kind: what the rule index makes of the rule count alone."""
    print(f"\nper kind: 1 rule against 1,000 rules of the same kind (CPU us/article, best of {PASSES} passes)")
    for kind, label in [(0, "entity+event"), (1, "'w AND (w OR w)'"), (3, "two entities (all)")]:
        rules = [compile_rule(r, NAMES) for r in make_rules(1000, seed=13 + kind, only=kind)]
        one, many = RuleIndex.build(rules[:1]), RuleIndex.build(rules)
        best = [float("inf"), float("inf")]
        for _ in range(PASSES):
            for i, index in enumerate((one, many)):
                run: Run = lambda a, an, ix=index: ix.evaluate(a, an, explain=False)
                best[i] = min(best[i], per_article(articles, analyses, run)[0])
        print(f"  {label:<22} 1 rule {best[0]:7.1f}   1,000 rules {best[1]:7.1f}   ratio {best[1] / best[0]:5.2f}x")


Run = Callable[[Article, Analysis], list[tuple[CompiledRule, list[MatchReason]]]]
Found = list[tuple[int, str, list[MatchReason]]]  # (article id, rule, reasons) of every match


def per_article(articles: list[Article], analyses: dict[int, Analysis], run: Run) -> tuple[float, Found]:
    """CPU microseconds per article for one pass, and every match."""
    started = time.process_time()
    found = [(a.id, rule.name, reasons) for a in articles for rule, reasons in run(a, analyses[a.id])]
    return (time.process_time() - started) / len(articles) * 1e6, found  # type: ignore[misc]


def bench_evaluation(articles: list[Article], analyses: dict[int, Analysis], rules: list[CompiledRule]) -> Found:
    def unindexed(article: Article, analysis: Analysis) -> list[tuple[CompiledRule, list[MatchReason]]]:
        prepared = PreparedArticle(article, analysis)
        return [(r, found) for r in rules
                if (found := evaluate(r, article, analysis, (), prepared, explain=False)) is not None]

    def finder(index: RuleIndex, explain: bool = False) -> Run:
        return lambda article, analysis: index.evaluate(article, analysis, explain=explain)

    many = RuleIndex.build(rules)
    cases = [
        ("1 entity+event rule", "entities.any + events: looks up names and events, never splits text",
         finder(RuleIndex.build(rules[:1]))),
        ("1 query rule", f"{rules[1].query_text!r}: splits every article into words once",
         finder(RuleIndex.build(rules[1:2]))),
        ("1,000 rules (index)", "the mix above: candidates from the index, evaluated", finder(many)),
        ("1,000 rules, explained", "the same, and every match explained now (best sentence of each query)",
         finder(many, explain=True)),
        ("1,000 rules (no index)", "every rule evaluated on every article (the baseline)", unindexed),
    ]
    print(f"rule evaluation over {len(articles)} stored articles (analyses preloaded)\n"
          "1,000 rules: 200 each of entity+event, 'w AND (w OR w)', '\"w w\" OR w', two entities (all), "
          "event + 'w NOT w'\nthe alert stage explains a match (its query's best sentence) only when it "
          "sends a notification for it")
    print(f"{'case':<24} {'CPU us/article':>14} {'matches':>8}  what it does (best of {PASSES} passes)")
    times, found = [float("inf")] * len(cases), [[] for _ in cases]  # type: list[float], list[Found]
    for _ in range(PASSES):  # cases take turns, so a busy moment of the shared host hits them all
        for i, (_, _, run) in enumerate(cases):
            seconds, found[i] = per_article(articles, analyses, run)
            times[i] = min(times[i], seconds)
    for (label, what, _), seconds, matches in zip(cases, times, found):
        print(f"{label:<24} {seconds:>14.1f} {len(matches):>8}  {what}")
    assert found[2] == found[4], "the index must not change results"
    assert [(a, r) for a, r, _ in found[2]] == [(a, r) for a, r, _ in found[3]]
    print(f"ratio 1,000 rules / 1 query rule: {times[2] / times[1]:.2f}x (target < 2x); explaining every "
          f"match: {times[3] / times[1]:.2f}x; / 1 entity+event rule: {times[2] / times[0]:.1f}x; "
          f"without the index: {times[4] / times[1]:.1f}x")
    return found[2]


def busiest(rules: list[CompiledRule], found: Found, kind: Callable[[CompiledRule], bool]) -> CompiledRule:
    """The rule of this kind with the most matches: a backtest that has stories to show."""
    counts = Counter(name for _, name, _ in found)
    return max((r for r in rules if kind(r)), key=lambda r: counts[r.name])


def bench_backtest(path: Path, size: int, chosen: list[tuple[str, CompiledRule]]) -> None:
    repo = build(path, size)
    config = Config.model_validate({"watchlist": [{"name": n} for n in NAMES]})
    print(f"backtest (`rules test RULE --since 30d`) over {size} stored articles")
    for label, rule in chosen:
        started = time.process_time()
        report = backtest_rule(repo, config, rule, NOW - timedelta(days=30), until=NOW + timedelta(days=1))
        cpu = time.process_time() - started
        found = (f"{len(report.spikes)} spike alerts (window checked hourly)" if report.spikes is not None else
                 f"{report.candidates} articles read, {report.stories} stories")
        print(f"  {label:<20} {report.seconds:6.2f}s wall {cpu:6.2f}s CPU  {found}  ({rule.query_text or rule.name})")
    repo.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--backtest", type=int, default=0, help="also backtest on a DB of this many articles")
    parser.add_argument("--dir", default="/tmp/newsmon-bench-alerts")
    args = parser.parse_args()
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    repo = build(Path(args.dir) / f"alerts-{args.articles}.db", args.articles)
    ids = list(range(1, args.articles + 1))
    articles, analyses = load_articles(repo, ids), load_analyses(repo, ids)
    repo.close()
    gc.collect()
    gc.freeze()  # the preloaded articles stay out of the cyclic GC's walks: the alert stage holds 200
    rules = [compile_rule(r, NAMES) for r in make_rules(1000)]
    found = bench_evaluation(articles, analyses, rules)
    bench_scaling(articles, analyses)
    chosen = [("entity+event rule", busiest(rules, found, lambda r: bool(r.events and r.any))),
              ("full-text query rule", busiest(rules, found, lambda r: r.query is not None and not r.events)),
              ("spike rule", compile_rule(Rule(name="surge", spike={"entities": "watchlist", "window": "24h",
                                                                    "baseline": "14d", "factor": 3, "min_count": 5}),
                                          NAMES))]
    for size in [args.articles] + ([args.backtest] if args.backtest else []):
        bench_backtest(Path(args.dir) / f"alerts-{size}.db", size, chosen)

if __name__ == "__main__":
    main()
