"""The article text: one cheap trafilatura run, a second opinion only when it looks wrong.

The first run is trafilatura's ``favor_recall`` mode without its fallback extractors (``fast``):
cheap, and on most pages the whole article. It is kept when it is long enough, mostly sentences
and of about the length of the page's JSON-LD ``articleBody`` where there is one. When it
returns too little (``MIN_WORDS``, or clearly less than the articleBody) or too much (lines that
are not prose: ``FIRST_PROSE``, or more than the articleBody: ``EXTRA_GAIN``), a second, careful
run is asked (``favor_precision`` with the fallbacks) and the opinions are weighed:

- JSON-LD ``articleBody``, the publisher's own copy of the text: used when it contains what the
  kept run found and is clearly longer (the run was cut short);
- the recall text: used over the precise text when it is clearly longer, contains it, and what
  it adds is mostly sentences (more of the same article, not a comment box or a list of links).

"Contained" means at least ``AGREEMENT`` of the shorter text's tokens occur in the longer one,
so neither opinion can bring in a different text (a teaser list, a comment thread) on its own.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

import lxml.html
import trafilatura

AGREEMENT = 0.9  # share of the shorter text's tokens found in the longer one
BODY_GAIN = 1.2  # JSON-LD articleBody must be this much longer than the precise text
RECALL_GAIN = 1.2  # the favor_recall text must be this much longer than the precise text
PROSE_SHARE = 0.7  # and most of what it adds must be sentences, not labels ("Comments", "Join our forum")
FIRST_PROSE = 0.8  # share of sentence words the first run needs to be kept without a second opinion
MIN_WORDS = 100  # fewer words than this from the first run: ask the careful run
EXTRA_GAIN = 1.1  # a first text this much longer than the JSON-LD articleBody took in page furniture
# embedded social posts quote other people's posts; they are not the article's text
SOCIAL_EMBEDS = ("//blockquote[contains(@class, 'twitter-tweet') or contains(@class, 'instagram-media') "
                 "or contains(@class, 'tiktok-embed')]")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")
# a navigation label alone, or followed by ':' and a link text ("Read more: Other story")
_BOILERPLATE = re.compile(r"^\s*(?:read more|read also|also read|related|related articles?|see also|"
                          r"recommended|advertisement|more on this story|more from [^.!?]{1,40}|"
                          r"(?:most )?popular|most read|trending)\s*(?:[:|>»].*)?$", re.IGNORECASE)
# a link teaser under a shouted label ("ALSO READ | Other story", "WATCH: Other story"), no sentence
_TEASER = re.compile(r"^\W*[A-Z][A-Z ]{2,}[A-Z]\s*[|:]\s+\S.*(?<![.!?\"”])$")
# calls to action around an article: newsletter and app sign-ups, social follows, comment prompts
_CALL_TO_ACTION = re.compile(r"^\W*(?:sign up (?:for|to)|subscribe (?:to|for|now)|follow \S+(?: \S+)? on|"
                             r"click here to|join the conversation|download (?:our|the) \S+ app)\b", re.IGNORECASE)
FURNITURE_WORDS = 30  # longer lines that start like a teaser or a call to action are article text
_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"'})


def extract_text(tree: lxml.html.HtmlElement, url: str, article_body: str) -> tuple[str, str]:
    """(text, extractor name) for a parsed page; ``tree`` is left as it was."""
    recalled = run_trafilatura(tree, url, careful=False)
    lines = [line for line in recalled.splitlines() if line.strip()]
    size, body_size = sum(tokens(recalled).values()), sum(tokens(article_body).values())
    agrees = not body_size or body_size / BODY_GAIN <= size <= body_size * EXTRA_GAIN
    if size >= MIN_WORDS and prose_share(lines) >= FIRST_PROSE and agrees:
        return choose_text(recalled, "", article_body)
    return choose_text(run_trafilatura(tree, url, careful=True), recalled, article_body)


def run_trafilatura(tree: lxml.html.HtmlElement, url: str, *, careful: bool) -> str:
    """trafilatura's text, without its metadata pass (``meta.py`` reads the metadata).

    Not careful: ``favor_recall`` and no fallback extractors. Careful: ``favor_precision`` with
    the readability/jusText fallbacks. trafilatura works on its own copy of a tree it is given.
    """
    doc = trafilatura.bare_extraction(tree, url=url, with_metadata=False, include_comments=False,
                                      include_tables=True, deduplicate=False, prune_xpath=SOCIAL_EMBEDS,
                                      favor_precision=careful, favor_recall=not careful, fast=not careful)
    assert not isinstance(doc, dict), "bare_extraction returns a dict only when as_dict=True"
    return (doc.text or "").strip() if doc is not None else ""


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
    """Drop lines that repeat the headline or are page furniture ("Read more: ...", "Sign up for ...")."""
    heads = {_key(title) for title in titles} - {""}
    kept = [line for line in text.splitlines() if _key(line) not in heads and not is_furniture(line)]
    return "\n".join(kept).strip()


def is_furniture(line: str) -> bool:
    """A navigation label, a link teaser or a short call to action: page furniture, not article text."""
    if _BOILERPLATE.match(line) or is_doubled(line):
        return True
    short = len(line.split()) <= FURNITURE_WORDS  # a long line is the article's own ("DELHI: The court...")
    return short and bool(_TEASER.match(line.strip()) or _CALL_TO_ACTION.match(line))


def is_doubled(line: str) -> bool:
    """"Headline Headline": a link card that prints its title twice (image text and link text)."""
    words = line.split()
    half = len(words) // 2
    return 2 <= half <= FURNITURE_WORDS and len(words) % 2 == 0 and words[:half] == words[half:]


def tokens(text: str) -> Counter[str]:
    """Lower-case word tokens as a multiset (the measure the extraction bench uses)."""
    return Counter(re.findall(r"\w+", text.lower()))


def _key(line: str) -> str:
    return " ".join(re.findall(r"\w+", line.translate(_QUOTES).casefold()))
