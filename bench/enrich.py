"""Enrichment speed and memory: newsmon vs bare full-model ``nlp.pipe`` on the same texts.

    .venv/bin/python bench/enrich.py [N_TEXTS]              # speed, 1 and 2 processes (default 360 texts)
    .venv/bin/python bench/enrich.py --stream 10000 [-p 2]  # memory: a long stream, RSS at each quarter

Texts are GUM news/interview documents and CASIE bodies read at run time. The baseline is the
bare full model's ``nlp.pipe``, timed in the same process twice: with spaCy's defaults and with
the matrix products newsmon loads its model with (``newsmon.nlp.ops``), so both ratios show.
newsmon is timed as ``analyze_texts`` (NLP only) and as ``newsmon.pipeline.enrich`` over the
texts stored in a fresh SQLite database in a temp dir (read, NLP, save): the streaming path of
``newsmon enrich``. Also prints CPU seconds, entity agreement with the bare model's NER, and
RSS (this process + workers). The machine may be shared: wall-clock times vary; the CPU
figures of one process vary less.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a plain script from the repo

import spacy
from thinc.api import get_current_ops, set_current_ops

from bench._common import corpus_or_exit, current_rss_mb, load_casie, load_gum_texts, peak_rss_mb
from newsmon.config import Config, NlpSettings
from newsmon.nlp import analyze_texts, load_nlp
from newsmon.nlp.analyze import VALUE_LABELS
from newsmon.nlp.ops import MatmulOps
from newsmon.pipeline import enrich
from newsmon.records import Analysis, Article
from newsmon.storage.repository import Repository, open_repository

Spans = list[tuple[int, int]]
DEFAULTS, OPS = "spaCy defaults", "newsmon's matrix products"


def main() -> None:
    args = parse_args()
    warnings.filterwarnings("ignore", message="Skipped unsupported reflection")  # SQLite, expression index
    gum = corpus_or_exit("gum_news")
    texts = [*load_gum_texts(gum, "news").values(), *load_gum_texts(gum, "interview").values(),
             *(a.text for a in load_casie(corpus_or_exit("casie_dev")))]
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; start RSS {current_rss_mb():.0f} MB")
    if args.stream:
        run_stream([texts[i % len(texts)] for i in range(args.stream)], args.processes)
    else:
        run_speed(texts[:args.texts])


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("texts", nargs="?", type=int, default=360, help="texts for the speed run")
    parser.add_argument("--stream", type=int, default=0, help="enrich this many stored articles (texts repeat)")
    parser.add_argument("-p", "--processes", type=int, default=2, help="processes for --stream")
    return parser.parse_args()


def run_speed(texts: list[str]) -> None:
    words = sum(len(t.split()) for t in texts)
    print(f"{len(texts)} texts, {words:,} words\n")
    bare, bare_fast = spacy.load(NlpSettings().model), load_with_newsmon_ops(NlpSettings().model)
    load_nlp(NlpSettings(), [])
    for model in (bare, bare_fast):
        list(model.pipe(texts[:4]))
    rates, ents = {}, {}
    for label, model in ((DEFAULTS, bare), (OPS, bare_fast)):
        cpu, wall = time.process_time(), time.perf_counter()
        ents[label] = [[(e.start_char, e.end_char) for e in d.ents if e.label_ not in VALUE_LABELS]
                       for d in model.pipe(texts, batch_size=16)]
        rates[label] = (words / (time.perf_counter() - wall), words / (time.process_time() - cpu))
        print(f"bare nlp.pipe, full model ({', '.join(model.pipe_names)}), {label}: "
              f"{rates[label][0]:,.0f} words/s, {rates[label][1]:,.0f} words per CPU second")
    bare_ents = ents[DEFAULTS]
    print(f"  same entities with both: {bare_ents == ents[OPS]}")
    base, fast = rates[DEFAULTS], rates[OPS]
    runs = (("analyze_texts (NLP only)", run_analyze), ("enrich (read, NLP, save to SQLite)", run_enrich))
    for (label, run), processes in itertools.product(runs, (1, 2)):
        rate, cpu_rate, found = run(texts, processes)
        print(f"newsmon {label}, {processes} process(es): {rate:,.0f} words/s = {rate / base[0]:.2f}x bare "
              f"({rate / fast[0]:.2f}x bare with newsmon's products)")
        if processes == 1:
            print(f"  {cpu_rate:,.0f} words per CPU second = {cpu_rate / base[1]:.2f}x bare "
                  f"({cpu_rate / fast[1]:.2f}x bare with newsmon's products)")
        print(f"  entities identical to the bare model's NER: {agreement(bare_ents, found)}")
    print(f"peak RSS of this process {peak_rss_mb():.0f} MB")


def run_analyze(texts: list[str], processes: int) -> tuple[float, float, list[Spans]]:
    """words/s, words per CPU second of this process, and the mention spans per text."""
    words = sum(len(t.split()) for t in texts)
    nlp = load_nlp(NlpSettings(), [])
    cpu, wall = time.process_time(), time.perf_counter()
    found = [[(m.start, m.end) for m in analysis.mentions]
             for analysis in analyze_texts(nlp, ((t, None) for t in texts), processes=processes)]
    return words / (time.perf_counter() - wall), words / (time.process_time() - cpu), found


def load_with_newsmon_ops(name: str) -> spacy.language.Language:
    previous = get_current_ops()
    set_current_ops(MatmulOps())
    try:
        return spacy.load(name)
    finally:
        set_current_ops(previous)


def run_enrich(texts: list[str], processes: int,
               report: Callable[[int], None] | None = None) -> tuple[float, float, list[Spans]]:
    """words/s, words per CPU second of this process, and the mention spans per text."""
    words = sum(len(t.split()) for t in texts)
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(database=f"sqlite:///{tmp}/bench.db", nlp=NlpSettings(processes=processes))
        repo = open_repository(config.database, upgrade=True)
        try:
            ids = store(repo, texts)
            found: dict[int, Spans] = {}
            capture(repo, found, report)
            cpu, wall = time.process_time(), time.perf_counter()
            done = enrich(repo, config)
            rate, cpu_rate = words / (time.perf_counter() - wall), words / (time.process_time() - cpu)
        finally:
            repo.close()
    assert done == len(texts), (done, len(texts))
    return rate, cpu_rate, [found[i] for i in ids]


def store(repo: Repository, texts: list[str]) -> list[int]:
    now = datetime.now(UTC)
    return [repo.save_article(Article(url=f"https://bench.example/{i}", source="bench", title=None, text=text,
                                      fetched_at=now)).article_id for i, text in enumerate(texts)]


def capture(repo: Repository, found: dict[int, Spans], report: Callable[[int], None] | None) -> None:
    """Keep each saved analysis's mention spans (and call ``report`` with the count saved)."""
    save = repo.save_analysis

    def save_and_keep(article_id: int, analysis: Analysis, watch_types: dict[str, str] | None = None) -> None:
        save(article_id, analysis, watch_types)
        found[article_id] = [(m.start, m.end) for m in analysis.mentions]
        if report is not None:
            report(len(found))

    repo.save_analysis = save_and_keep  # type: ignore[method-assign]


def agreement(bare: list[Spans], ours: list[Spans]) -> str:
    """Mentions the model's NER made (propagated names and relabelled ones excluded) vs the bare NER."""
    same = total = 0
    for ents, mine in zip(bare, ours, strict=True):
        total += len(ents)
        same += len(set(ents) & set(mine))
    return f"{same}/{total} spans = {same / max(total, 1):.4f}"


def run_stream(texts: list[str], processes: int) -> None:
    words = sum(len(t.split()) for t in texts)
    print(f"stream: {len(texts):,} stored articles, {words:,} words, {processes} process(es), "
          "through newsmon.pipeline.enrich")
    quarters = {len(texts) * k // 4 for k in (1, 2, 3, 4)}

    def report(done: int) -> None:
        if done in quarters:
            workers = sum(rss_mb(p.pid) for p in multiprocessing.active_children() if p.pid)
            print(f"  after {done:,} articles: RSS {current_rss_mb():.0f} MB, workers {workers:.0f} MB")

    rate, _, _ = run_enrich(texts, processes, report)
    print(f"{rate:,.0f} words/s; peak RSS of this process {peak_rss_mb():.0f} MB")


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


if __name__ == "__main__":
    main()
