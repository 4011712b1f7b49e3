"""Search and exploration latency at 10,000 and 100,000 articles, on SQLite and PostgreSQL.

Fills a fresh database (SQLite: a file in a temp dir; PostgreSQL: a temp database, dropped at the
end) through the migrations, with synthetic articles made of shuffled corpus sentences (GUM news
and interviews, CASIE bodies) and mentions of ~3,000 names drawn with a Zipf-like skew, inserted
in bulk with SQLAlchemy Core. Then times each query through the library functions the CLI calls
and prints median and p95 per size and the growth ratio. Target: p95 < 100 ms on SQLite at 100k.

    .venv/bin/python bench/search.py [--sizes 10000,100000] [--backend sqlite,postgresql] [--runs 40]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a plain script from the repo

from sqlalchemy import func, insert, select, text

from bench._common import corpus_or_exit
from newsmon.explore import EntityFilter, entity_profile, entity_timeline, top_entities, trending_entities
from newsmon.query import parse_query
from newsmon.records import ArticleStatus, EventType
from newsmon.storage.models import ArticleRow, EntityRow, EventRow, MentionRow, Story
from newsmon.storage.repository import Repository, entity_key, open_repository
from newsmon.storage.search import SearchFilter, search_articles

PG_ADMIN_URL = os.environ.get("NEWSMON_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
NOW = datetime.now(UTC).replace(microsecond=0)
SPAN_DAYS = 365  # articles spread evenly over the last year, at every size
N_NAMES = 3000
FULLTEXT = ["ransomware", "court AND fine", '"data breach"', "election OR vote", "title:police",
            "hospital NOT ransomware", "vulnerab*", "government AND (law OR ban)", "patch", "museum"]
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")
LABELS = {"person": "PERSON", "organization": "ORG", "place": "GPE"}


# -- synthetic data from the corpora ----------------------------------------------------------------
def load_sentences() -> list[str]:
    gum, casie = corpus_or_exit("gum_news"), corpus_or_exit("casie_dev")
    texts = [p.read_text(encoding="utf-8") for p in sorted((gum / "text").glob("*.txt"))]
    texts += [json.loads(p.read_text(encoding="utf-8"))["content"]
              for p in sorted((casie / "data" / "annotation").glob("*.json"))]
    sentences = [s.strip() for t in texts for s in _SENTENCE.split(t.replace("\n", " "))]
    return [s for s in sentences if 30 <= len(s) <= 400]


def load_names(rng: random.Random) -> list[tuple[str, str]]:
    """(name, label): GUM's named people, organisations and places, padded with made-up
    combinations of them to N_NAMES; the watch-list pair first (most frequent)."""
    found: dict[str, str] = {"Twitter": "ORG", "Roskomnadzor": "ORG"}
    with open(corpus_or_exit("gum_news") / "entities_named.jsonl", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if row["gum_type"] in LABELS and 2 < len(row["text"]) < 40 and row["text"][0].isupper():
                found.setdefault(row["text"], LABELS[row["gum_type"]])
    names = list(found.items())
    words = [n.split()[-1] for n, _ in names]
    while len(names) < N_NAMES:
        label = rng.choice(["PERSON", "ORG", "GPE"])
        suffix = {"ORG": rng.choice(["Group", "Bank", "Agency", "Labs", "Corp"]), "GPE": "Province"}.get(label, "")
        name = f"{rng.choice(words)} {rng.choice(words)} {suffix}".strip()
        if name not in found:
            found[name] = label
            names.append((name, label))
    return names[:N_NAMES]


class Generator:
    """Articles (with mentions, events, stories) as rows for bulk inserts; ids assigned here."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.sentences = load_sentences()
        self.names = load_names(self.rng)
        self.weights = [1 / (rank + 1) ** 0.9 for rank in range(len(self.names))]
        self.next_article = self.next_mention = 1

    def entity_rows(self) -> list[dict[str, Any]]:
        return [{"id": i + 1, "key": entity_key(label, name), "name": name, "type": label,
                 "watched": i < 2, "external_id": None} for i, (name, label) in enumerate(self.names)]

    def batch(self, count: int) -> dict[str, list[dict[str, Any]]]:
        rows: dict[str, list[dict[str, Any]]] = {"stories": [], "articles": [], "mentions": [], "events": []}
        for _ in range(count):
            self._article(rows)
        return rows

    def _article(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        rng, article_id = self.rng, self.next_article
        self.next_article += 1
        when = NOW - timedelta(seconds=rng.uniform(0, SPAN_DAYS * 86400))
        entities = rng.choices(range(len(self.names)), self.weights, k=rng.randint(3, 8))
        parts, mentions, at = [], [], 0
        for i, sentence in enumerate(rng.sample(self.sentences, rng.randint(6, 12))):
            if i < len(entities):
                name, label = self.names[entities[i]]
                sentence = f"{name} said that {sentence[0].lower()}{sentence[1:]}"
                mentions.append({"id": self.next_mention, "article_id": article_id, "entity_id": entities[i] + 1,
                                 "text": name, "label": label, "start": at, "end": at + len(name),
                                 "sentence": sentence})
                self.next_mention += 1
            parts.append(sentence)
            at += len(sentence) + 1
        body = " ".join(parts)
        story_id = article_id if article_id % 3 else article_id - 1  # every third article joins a story
        if story_id == article_id:
            rows["stories"].append({"id": story_id, "headline": parts[0][:80], "first_seen": when})
        rows["articles"].append({
            "id": article_id, "url": f"https://bench.example/{article_id}", "url_hash": f"{article_id:064x}",
            "source": f"source-{rng.randint(1, 40)}", "title": parts[0][:90], "authors": [], "published_at": when,
            "date_source": "meta", "language": "en", "site_name": None, "summary": None, "text": body,
            "content_hash": f"c{article_id}", "extractor": "bench", "fetched_at": when,
            "status": ArticleStatus.ALERTED.value, "status_reason": None, "story_id": story_id})
        rows["mentions"].extend(mentions)
        if rng.random() < 0.25:
            m = mentions[0]
            rows["events"].append({
                "article_id": article_id, "type": rng.choice(list(EventType)).value, "trigger": "fined",
                "actor": m["text"], "target": None, "amount": rng.choice([None, 1e6]), "currency": None,
                "date": None, "legal_basis": None, "sentence": m["sentence"], "start": m["start"],
                "end": m["start"] + len(m["sentence"]), "confidence": 0.5})


def fill(repo: Repository, gen: Generator, count: int, chunk: int = 5000) -> float:
    started = time.perf_counter()
    tables = {"stories": Story, "articles": ArticleRow, "mentions": MentionRow, "events": EventRow}
    for offset in range(0, count, chunk):
        rows = gen.batch(min(chunk, count - offset))
        with repo.engine.begin() as conn:
            for name, model in tables.items():
                if rows[name]:
                    conn.execute(insert(model.__table__), rows[name])
    repo.rebuild_entity_days()  # the bulk load bypassed save_analysis, which keeps entity_days
    if repo.dialect == "postgresql":
        with repo.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # what autovacuum does shortly after a bulk load
    return time.perf_counter() - started


# -- the queries -------------------------------------------------------------------------------------
def popular_names(repo: Repository, n: int = 60) -> list[str]:
    """Frequently mentioned names: what people look up, and the expensive case."""
    count = func.count(MentionRow.id)
    stmt = (select(EntityRow.name).join(MentionRow, MentionRow.entity_id == EntityRow.id)
            .group_by(EntityRow.id, EntityRow.name).order_by(count.desc()).limit(n))
    with repo.engine.connect() as conn:
        return [name for (name,) in conn.execute(stmt)]


def queries(repo: Repository) -> dict[str, Callable[[int], Any]]:
    names = popular_names(repo)

    def pick(i: int) -> str:
        return names[i % len(names)]

    month, week = NOW - timedelta(days=30), NOW - timedelta(days=7)
    return {
        "full-text query": lambda i: search_articles(repo, SearchFilter(query=parse_query(FULLTEXT[i % 10]))),
        "entity query": lambda i: search_articles(repo, SearchFilter(entities=[pick(i)], sort="date")),
        "entity + date range": lambda i: search_articles(repo, SearchFilter(
            entities=[pick(i)], since=NOW - timedelta(days=90), until=month)),
        "entity timeline (30d)": lambda i: entity_timeline(repo, pick(i), month, NOW),
        "top entities (7d)": lambda i: top_entities(repo, EntityFilter(since=week - timedelta(hours=i))),
        "trending entities (7d) *": lambda i: trending_entities(repo, EntityFilter(since=week - timedelta(hours=i))),
        "entity profile (30d) *": lambda i: entity_profile(repo, pick(i), month, NOW),
    }


def measure(run: Callable[[int], Any], runs: int) -> tuple[float, float]:
    for i in range(3):
        run(i)  # warm caches, as a second query in a session would find them
    times = []
    for i in range(runs):
        started = time.perf_counter()
        run(i)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), statistics.quantiles(times, n=20, method="inclusive")[18]


# -- databases ---------------------------------------------------------------------------------------
@contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="newsmon-bench-") as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    import psycopg

    name = f"newsmon_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_backend(backend: str, sizes: list[int], runs: int) -> dict[int, dict[str, tuple[float, float]]]:
    results: dict[int, dict[str, tuple[float, float]]] = {}
    with database(backend) as url:
        repo = open_repository(url, upgrade=True)
        gen = Generator()
        with repo.engine.begin() as conn:
            conn.execute(insert(EntityRow.__table__), gen.entity_rows())
        stored = 0
        for size in sizes:
            seconds = fill(repo, gen, size - stored)
            print(f"{backend}: filled {size - stored:,} articles in {seconds:.1f}s "
                  f"({gen.next_mention - 1:,} mentions in total)", file=sys.stderr)
            stored = size
            results[size] = {name: measure(run, runs) for name, run in queries(repo).items()}
        repo.close()
    return results


def print_table(backend: str, results: dict[int, dict[str, tuple[float, float]]]) -> None:
    sizes = sorted(results)
    head = "".join(f"{f'{s:,} median / p95 ms':>26}" for s in sizes)
    print(f"\n{backend}\n{'query':<28}{head}{'p95 growth':>12}")
    for name in results[sizes[0]]:
        cells = "".join(f"{results[s][name][0]:>14.1f} / {results[s][name][1]:>7.1f}  " for s in sizes)
        growth = f"{results[sizes[-1]][name][1] / results[sizes[0]][name][1]:>10.1f}x" if len(sizes) > 1 else ""
        print(f"{name:<28}{cells}{growth}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="article counts, ascending (default: %(default)s)")
    parser.add_argument("--backend", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument("--runs", type=int, default=40, help="timed runs per query (default: %(default)s)")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    print(f"{args.runs} runs per query after 3 warm-up runs; articles over {SPAN_DAYS} days; "
          f"entity queries cycle through the 60 most mentioned names; * = not in the issue's list")
    for backend in args.backend.split(","):
        print_table(backend, bench_backend(backend, sizes, args.runs))


if __name__ == "__main__":
    main()
