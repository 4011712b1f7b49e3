"""Choosing the article text from several extractors' opinions, and removing stray lines.

trafilatura with ``favor_precision`` is the default: it rarely takes page furniture. It does
sometimes stop early (a page split into several containers), so two other opinions are asked:

- JSON-LD ``articleBody``, the publisher's own copy of the text: used when it contains what the
  precise run found and is clearly longer (the run was cut short);
- trafilatura with ``favor_recall``: used when the precise run is clearly shorter, is
  contained in it, and what the recall run adds is mostly sentences (more of the same article,
  not a comment box or a list of links).

"Contained" means at least ``AGREEMENT`` of the shorter text's tokens occur in the longer one,
so neither opinion can bring in a different text (a teaser list, a comment thread) on its own.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

AGREEMENT = 0.9  # share of the shorter text's tokens found in the longer one
BODY_GAIN = 1.2  # JSON-LD articleBody must be this much longer than the precise text
RECALL_GAIN = 1.2  # the favor_recall text must be this much longer than the precise text
PROSE_SHARE = 0.7  # and most of what it adds must be sentences, not labels ("Comments", "Join our forum")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")
# a navigation label alone, or followed by ':' and a link text ("Read more: Other story")
_BOILERPLATE = re.compile(r"^\s*(?:read more|read also|also read|related|related articles?|see also|"
                          r"recommended|advertisement|more on this story)\s*(?:[:|>»].*)?$", re.IGNORECASE)
_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"'})


def choose_text(precise: str, recalled: str, article_body: str) -> tuple[str, str]:
    """(text, extractor name): the precise text unless a longer opinion contains it."""
    if _extends(article_body, precise, BODY_GAIN):
        return article_body, "json-ld"
    if _extends(recalled, precise, RECALL_GAIN) and prose_share(_new_lines(recalled, precise)) >= PROSE_SHARE:
        return recalled, "trafilatura-recall"
    return precise, "trafilatura"


def _extends(longer: str, shorter: str, gain: float) -> bool:
    """True when ``longer`` has ``gain`` times the tokens of ``shorter`` and contains it."""
    big, small = tokens(longer), tokens(shorter)
    size, small_size = sum(big.values()), sum(small.values())
    if not size or size < gain * small_size:
        return False
    return not small_size or sum((small & big).values()) / small_size >= AGREEMENT


def _new_lines(longer: str, shorter: str) -> list[str]:
    known = {line.strip() for line in shorter.splitlines()}
    return [line.strip() for line in longer.splitlines() if line.strip() and line.strip() not in known]


def prose_share(lines: list[str]) -> float:
    """Share of the words that sit in sentence-like lines (8+ words, ending like a sentence)."""
    sizes = [(len(line.split()), bool(_SENTENCE_END.search(line))) for line in lines]
    total = sum(size for size, _ in sizes)
    return sum(size for size, ends in sizes if ends and size >= 8) / total if total else 1.0


def drop_boilerplate_lines(text: str, titles: Iterable[str]) -> str:
    """Drop lines that repeat the headline or are navigation ("Read more: ...", "Advertisement")."""
    heads = {_key(title) for title in titles} - {""}
    kept = [line for line in text.splitlines() if _key(line) not in heads and not _BOILERPLATE.match(line)]
    return "\n".join(kept).strip()


def tokens(text: str) -> Counter[str]:
    """Lower-case word tokens as a multiset (the measure the extraction bench uses)."""
    return Counter(re.findall(r"\w+", text.lower()))


def _key(line: str) -> str:
    return " ".join(re.findall(r"\w+", line.translate(_QUOTES).casefold()))
