"""Rule evaluation cost for 1 and 1,000 rules over the same stored articles, and backtest time.

    .venv/bin/python bench/alerts.py                    # 10,000 articles; backtest on them
    .venv/bin/python bench/alerts.py --backtest 100000  # also build/use a 100,000-article DB

Articles are synthetic (200 Zipf-distributed words from a 5,000-word vocabulary, 2-3 of 500
watch-list names, 0-2 events); the 1,000 rules mix entity+event, entity-pair, query and event+query
conditions on names and less common words and stored through the Repository in SQLite files under --dir (kept between runs).
The baseline, in the same run, is evaluating all 1,000 rules on every article without the index.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from newsmon.alerts.backtest import backtest_rule
from newsmon.alerts.index import RuleIndex
from newsmon.alerts.rules import article_document, compile_rule, evaluate
from newsmon.config import Config, Rule
from newsmon.records import Analysis, Article, Event, EventType, Mention
from newsmon.storage.outbox import load_analyses, load_articles
from newsmon.storage.repository import Repository, open_repository

NAMES = [f"Org{i}" for i in range(500)]
WORDS = [f"w{i}" for i in range(5000)]
WEIGHTS = [1 / (rank + 1) for rank in range(len(WORDS))]  # Zipf, like real text
RARE = WORDS[500:]  # rules look for words outside the most common ones, as real rules do
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def build(path: Path, count: int, seed: int = 7) -> Repository:
    url = f"sqlite:///{path}"
    repo = open_repository(url, upgrade=True)
    have = repo.count_articles()
    rng = random.Random(seed + have)
    started = time.monotonic()
    for n in range(have, count):
        names = rng.sample(NAMES, rng.randint(2, 3))
        words = rng.choices(WORDS, WEIGHTS, k=200)
        text = " ".join(words[:100]) + ". " + " and ".join(names) + " said. " + " ".join(words[100:]) + "."
        saved = repo.save_article(Article(
            url=f"https://bench.example/{n}", source=f"src{n % 20}", title=" ".join(words[:6]), text=text,
            fetched_at=NOW, published_at=NOW - timedelta(minutes=n * 25 % (60 * 24 * 60)), content_hash=f"h{n}"))
        mentions = [Mention(name, "ORG", 0, len(name), text[:80], name, True) for name in names]
        events = [Event(rng.choice(list(EventType)), "fined", text[:80], 0, 80) for _ in range(rng.randint(0, 2))]
        repo.save_analysis(saved.article_id, Analysis(mentions, events))
    if count > have:
        print(f"built {path.name}: {count - have} articles in {time.monotonic() - started:.0f}s")
    return repo


def make_rules(count: int, seed: int = 11) -> list[Rule]:
    rng = random.Random(seed)
    kinds = [
        lambda i: {"entities": {"any": [rng.choice(NAMES)]}, "events": [rng.choice(list(EventType)).value]},
        lambda i: {"query": f"{rng.choice(RARE)} AND ({rng.choice(RARE)} OR {rng.choice(RARE)})"},
        lambda i: {"query": f'"{rng.choice(RARE)} {rng.choice(RARE)}" OR {rng.choice(RARE)}'},
        lambda i: {"entities": {"all": rng.sample(NAMES, 2)}},
        lambda i: {"events": [rng.choice(list(EventType)).value], "query": f"{rng.choice(RARE)} NOT {rng.choice(WORDS)}"},
    ]
    return [Rule(name=f"r{i}", **kinds[i % len(kinds)](i)) for i in range(count)]


def per_article(articles: list[Article], analyses: dict[int, Analysis], run) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    fired = sum(len(run(a, analyses[a.id])) for a in articles)
    seconds = time.perf_counter() - started
    return seconds / len(articles) * 1e6, fired


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
    rules = [compile_rule(r, NAMES) for r in make_rules(1000)]
    one, many = RuleIndex.build(rules[:1]), RuleIndex.build(rules)

    def naive(article: Article, analysis: Analysis) -> list[object]:
        document = article_document(article)
        return [r for r in rules if evaluate(r, article, analysis, (), document) is not None]

    print(f"rule evaluation over {len(articles)} stored articles (analyses preloaded)")
    print(f"{'rules':>28} {'us/article':>11} {'matches':>8}")
    t1, f1 = per_article(articles, analyses, one.evaluate)
    tn, fn = per_article(articles, analyses, many.evaluate)
    tb, fb = per_article(articles, analyses, naive)
    print(f"{'1 rule (index)':>28} {t1:>11.1f} {f1:>8}")
    print(f"{'1,000 rules (index)':>28} {tn:>11.1f} {fn:>8}")
    print(f"{'1,000 rules (no index)':>28} {tb:>11.1f} {fb:>8}")
    print(f"ratio 1,000 / 1 rule: {tn / t1:.2f}x (baseline without index: {tb / t1:.1f}x)")
    assert fn == fb, "the index must not change results"
    repo.close()
    sizes = [args.articles] + ([args.backtest] if args.backtest else [])
    for size in sizes:
        repo = build(Path(args.dir) / f"alerts-{size}.db", size)
        config = Config.model_validate({"watchlist": [{"name": n} for n in NAMES]})
        print(f"backtest over {size} stored articles, --since 30d")
        for label, rule in [("entity+event rule", rules[0]), ("query rule", rules[1])]:
            report = backtest_rule(repo, config, rule, NOW - timedelta(days=30), until=NOW + timedelta(days=1))
            print(f"  {label:18} {report.seconds:6.2f}s  {report.candidates} candidates, {report.stories} stories")
        repo.close()


if __name__ == "__main__":
    main()
