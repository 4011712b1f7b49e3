"""NER quality on GUM news (Wikinews): PERSON / ORG / place P/R/F1, bare model vs newsmon.

    .venv/bin/python bench/ner.py

Gold: GUM mentions with a proper noun or a Wikipedia link (entities_named.jsonl), news genre;
person -> PERSON, organization -> ORG, place -> place (spaCy GPE, LOC or FAC). A predicted
span is correct if it overlaps a gold span of the same class, and a gold span is found if a
predicted span of its class overlaps it (GUM spans are whole noun phrases).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a plain script from the repo

import spacy  # noqa: E402

from bench._common import corpus_or_exit, load_gum_texts, prf  # noqa: E402
from newsmon.config import NlpSettings  # noqa: E402
from newsmon.nlp import analyze_texts, load_nlp  # noqa: E402

GUM_CLASS = {"person": "PERSON", "organization": "ORG", "place": "place"}
SPACY_CLASS = {"PERSON": "PERSON", "ORG": "ORG", "GPE": "place", "LOC": "place", "FAC": "place"}
CLASSES = ("PERSON", "ORG", "place")
Span = tuple[str, int, int, str]  # doc, start, end, class


def main() -> None:
    root = corpus_or_exit("gum_news")
    texts = load_gum_texts(root, "news")
    gold = load_gold(root / "entities_named.jsonl", set(texts))
    settings = NlpSettings()
    bare = spacy.load(settings.model)
    bare_spans = [(doc_id, e.start_char, e.end_char, SPACY_CLASS[e.label_])
                  for doc_id, doc in zip(texts, bare.pipe(texts.values())) for e in doc.ents if e.label_ in SPACY_CLASS]
    nlp = load_nlp(settings, [])
    ours = [(doc_id, m.start, m.end, SPACY_CLASS[m.label])
            for doc_id, analysis in zip(texts, analyze_texts(nlp, ((t, None) for t in texts.values())))
            for m in analysis.mentions if m.label in SPACY_CLASS]
    print(f"GUM news: {len(texts)} documents, {sum(len(t.split()) for t in texts.values()):,} words, "
          f"{len(gold)} gold PERSON/ORG/place mentions\n")
    print(f"{'class':8} {'gold':>5} {'bare model P/R/F1':>22} {'newsmon P/R/F1':>22}  F1 diff")
    for cls in CLASSES:
        scores = [score(gold, spans, cls) for spans in (bare_spans, ours)]
        cells = [f"{p:.3f}/{r:.3f}/{f:.3f}" for p, r, f in scores]
        print(f"{cls:8} {sum(g[3] == cls for g in gold):>5} {cells[0]:>22} {cells[1]:>22}  "
              f"{scores[1][2] - scores[0][2]:+.3f}")


def load_gold(path: Path, docs: set[str]) -> list[Span]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["doc"] in docs and row["gum_type"] in GUM_CLASS:
            out.append((row["doc"], row["start"], row["end"], GUM_CLASS[row["gum_type"]]))
    return out


def score(gold: list[Span], predicted: list[Span], cls: str) -> tuple[float, float, float]:
    gold_c = [g for g in gold if g[3] == cls]
    pred_c = [p for p in predicted if p[3] == cls]
    correct = sum(any(_overlap(p, g) for g in gold_c) for p in pred_c)
    found = sum(any(_overlap(p, g) for p in pred_c) for g in gold_c)
    p, r, _ = prf(correct, len(pred_c) - correct, len(gold_c) - found)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _overlap(a: Span, b: Span) -> bool:
    return a[0] == b[0] and a[1] < b[2] and b[1] < a[2]


if __name__ == "__main__":
    main()
