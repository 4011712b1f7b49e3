"""Event quality on CASIE (dev half): article-level P/R/F1 per cyber event type, victim recall.

    .venv/bin/python bench/events.py

An article is positive for a type if it has at least one gold event of that type; newsmon
says it is positive if ``analyze_texts`` yields at least one event of that type. The
baseline in the same run is a plain keyword search over the same text. The texts are the
annotated bodies (newsmon analyses the article text without its title).
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a plain script from the repo

from bench._common import CasieArticle, corpus_or_exit, load_casie, prf  # noqa: E402
from newsmon.config import NlpSettings  # noqa: E402
from newsmon.nlp import analyze_texts, load_nlp  # noqa: E402
from newsmon.records import Analysis  # noqa: E402

TYPES = ("DATA_BREACH", "RANSOMWARE", "PHISHING", "VULNERABILITY", "PATCH")
KEYWORDS = {  # what one would type into a search box
    "DATA_BREACH": r"\bdata breach|\bbreach|\bstole|\bleak",
    "RANSOMWARE": r"ransom",
    "PHISHING": r"phish",
    "VULNERABILITY": r"vulnerab|\bflaw",
    "PATCH": r"\bpatch",
}
_WORD = re.compile(r"\w+")
_STOP = {"the", "a", "an", "of", "its", "their", "inc", "ltd", "corp", "co"}


def main() -> None:
    articles = load_casie(corpus_or_exit("casie_dev"))
    nlp = load_nlp(NlpSettings(), [])
    started = time.perf_counter()
    analyses = list(analyze_texts(nlp, ((a.text, None) for a in articles)))
    seconds = time.perf_counter() - started
    words = sum(len(a.text.split()) for a in articles)
    print(f"CASIE dev: {len(articles)} articles, {words:,} words; newsmon analysed them in {seconds:.0f} s "
          f"({words / seconds:,.0f} words/s)\n")
    newsmon = [{e.type.value for e in an.events} for an in analyses]
    keyword = [{t for t, rx in KEYWORDS.items() if re.search(rx, a.text, re.IGNORECASE)} for a in articles]
    print_table(articles, {"keyword": keyword, "newsmon": newsmon})
    print_victims(articles, analyses)


def print_table(articles: list[CasieArticle], systems: dict[str, list[set[str]]]) -> None:
    print(f"{'type':14} {'gold':>4} " + " ".join(f"{name + ' P/R/F1':>22}" for name in systems) + "  F1 ratio")
    macro: dict[str, list[float]] = {name: [] for name in systems}
    for type_ in TYPES:
        gold = [type_ in a.types for a in articles]
        cells, f1s = [], []
        for name, predicted in systems.items():
            tp = sum(g and type_ in p for g, p in zip(gold, predicted))
            fp = sum(not g and type_ in p for g, p in zip(gold, predicted))
            p, r, f = prf(tp, fp, sum(gold) - tp)
            macro[name].append(f)
            f1s.append(f)
            cells.append(f"{p:.3f}/{r:.3f}/{f:.3f}")
        print(f"{type_:14} {sum(gold):>4} " + " ".join(f"{c:>22}" for c in cells) + f"  {f1s[-1] / f1s[0]:.2f}x")
    averages = {name: sum(v) / len(v) for name, v in macro.items()}
    print(f"{'macro F1':19} " + " ".join(f"{averages[n]:>22.3f}" for n in systems)
          + f"  {averages['newsmon'] / averages['keyword']:.2f}x\n")


def print_victims(articles: list[CasieArticle], analyses: list[Analysis]) -> None:
    """Recall of gold Victim organisations among the targets of same-type events in the article.

    And the share of those targets that name a gold victim (any type) of an article annotated
    for the type: CASIE does not annotate every event, so this share is a lower bound."""
    for type_ in ("DATA_BREACH", "RANSOMWARE"):
        total = found = named_total = named_found = given = right = 0
        for article, analysis in zip(articles, analyses):
            targets = [_words(e.target or "") for e in analysis.events if e.type.value == type_]
            gold_words = [_words(v) for vs in article.victims.values() for v in vs]
            if type_ in article.types:  # precision where the article is annotated for the type
                given += sum(1 for t in targets if t)
                right += sum(1 for t in targets if t and any(t & g for g in gold_words))
            for victim in dict.fromkeys(article.victims.get(type_, [])):
                hit = any(_words(victim) & t for t in targets)
                named = any(w[:1].isupper() for w in victim.split() if w.lower() not in _STOP)
                total += 1
                found += hit
                named_total += named
                named_found += hit and named
        print(f"{type_} Victim organisation recall: {found}/{total} = {found / max(total, 1):.3f} "
              f"(named ones: {named_found}/{named_total} = {named_found / max(named_total, 1):.3f}); "
              f"targets naming a gold victim: {right}/{given} = {right / max(given, 1):.3f}")


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


if __name__ == "__main__":
    main()
