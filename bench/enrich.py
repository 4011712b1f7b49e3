"""Enrichment speed: bare full-model ``nlp.pipe`` vs newsmon's ``analyze_texts`` (mentions + events).

    .venv/bin/python bench/enrich.py [N_TEXTS]

Texts are GUM news/interview documents and CASIE bodies read at run time (default 360).
Prints words/s for both, the ratio, the 2-process figure, entity agreement with the bare
model's NER, and RSS after each third of the stream. The machine may be shared: times vary.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a plain script from the repo

import spacy  # noqa: E402

from bench._common import current_rss_mb, corpus_or_exit, load_casie, load_gum_texts, peak_rss_mb  # noqa: E402
from newsmon.config import NlpSettings  # noqa: E402
from newsmon.nlp import analyze_texts, load_nlp  # noqa: E402
from newsmon.nlp.analyze import VALUE_LABELS  # noqa: E402


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 360
    gum = corpus_or_exit("gum_news")
    texts = [*load_gum_texts(gum, "news").values(), *load_gum_texts(gum, "interview").values(),
             *(a.text for a in load_casie(corpus_or_exit("casie_dev")))][:count]
    words = sum(len(t.split()) for t in texts)
    print(f"{len(texts)} texts, {words:,} words; start RSS {current_rss_mb():.0f} MB\n")
    settings = NlpSettings()
    bare = spacy.load(settings.model)
    nlp = load_nlp(settings, [])
    list(bare.pipe(texts[:4])), list(analyze_texts(nlp, ((t, None) for t in texts[:4])))  # warm up
    started = time.perf_counter()
    bare_ents = [[(e.start_char, e.end_char, e.label_) for e in d.ents if e.label_ not in VALUE_LABELS]
                 for d in bare.pipe(texts, batch_size=16)]
    bare_rate = words / (time.perf_counter() - started)
    print(f"bare nlp.pipe, full model ({', '.join(bare.pipe_names)}): {bare_rate:,.0f} words/s")
    for processes in (1, 2):
        rate, ours = run_newsmon(nlp, texts, words, processes)
        print(f"newsmon analyze_texts, {processes} process(es): {rate:,.0f} words/s = "
              f"{rate / bare_rate:.2f}x bare; peak RSS of this process {peak_rss_mb():.0f} MB")
        print(f"  entities identical to the bare model's NER: {agreement(bare_ents, ours)}")


def run_newsmon(nlp, texts: list[str], words: int, processes: int) -> tuple[float, list[list[tuple]]]:
    thirds = {len(texts) * k // 3 for k in (1, 2, 3)}
    ours, events = [], 0
    started = time.perf_counter()
    for i, analysis in enumerate(analyze_texts(nlp, ((t, None) for t in texts), processes=processes), 1):
        ours.append(analysis)
        events += len(analysis.events)
        if i in thirds:
            print(f"  after {i}/{len(texts)} texts: RSS {current_rss_mb():.0f} MB")
    rate = words / (time.perf_counter() - started)
    print(f"  {events} events")
    return rate, ours


def agreement(bare: list[list[tuple]], ours: list) -> str:
    """Mentions the model's NER made (propagated names and relabelled ones excluded) vs the bare NER."""
    same = total = 0
    for ents, analysis in zip(bare, ours):
        mine = {(m.start, m.end) for m in analysis.mentions}
        total += len(ents)
        same += sum((s, e) in mine for s, e, _ in ents)
    return f"{same}/{total} spans = {same / max(total, 1):.4f}"


if __name__ == "__main__":
    main()
