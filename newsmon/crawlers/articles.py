"""Does a page look like a news article? (a pure function: bytes in, verdict and reason out)

The site crawler follows home, section and tag pages to find articles but must store only the
articles. The verdict, first signal that decides:

  1. JSON-LD whose top-level object (or an `@graph` member) is an article type
     (`NewsArticle`, `Article`, `ReportageNewsArticle`, `BlogPosting`, ...): article;
     `CollectionPage`, `ItemList`, ... without an article type: not an article;
  2. `<meta property="og:type" content="article">`: article;
  3. text density: article if one element holds at least `MIN_PARAGRAPHS` sibling paragraphs of
     mostly unlinked text (`MIN_PARAGRAPH_CHARS` each, `MIN_BLOCK_CHARS` together). Listing pages
     put each teaser paragraph in its own card, so no single block gets there.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import lxml.html
from lxml import etree

ARTICLE_TYPES = frozenset({
    "Article", "NewsArticle", "ReportageNewsArticle", "AnalysisNewsArticle", "BackgroundNewsArticle",
    "OpinionNewsArticle", "ReviewNewsArticle", "BlogPosting", "LiveBlogPosting", "Report",
})
LISTING_TYPES = frozenset({"CollectionPage", "ItemList", "SearchResultsPage", "ProfilePage"})
MIN_PARAGRAPHS = 3
MIN_PARAGRAPH_CHARS = 80
MIN_BLOCK_CHARS = 500
MAX_LINK_SHARE = 0.3  # a paragraph that is mostly link text is navigation, not prose
_SKIPPED = ("nav", "header", "footer", "aside", "form")


def looks_like_article(html: bytes | str, url: str) -> tuple[bool, str]:
    """(True, why) when the page looks like one article; (False, why not) otherwise."""
    tree = _parse(html, url)
    if tree is None:
        return False, "not HTML"
    types = find_json_ld_types(tree)
    article = sorted(types & ARTICLE_TYPES)
    if article:
        return True, f"JSON-LD {article[0]}"
    listing = sorted(types & LISTING_TYPES)
    if listing:
        return False, f"JSON-LD {listing[0]}"
    if _og_type(tree) == "article":
        return True, "og:type article"
    paragraphs, chars = measure_prose(tree)
    if paragraphs >= MIN_PARAGRAPHS and chars >= MIN_BLOCK_CHARS:
        return True, f"text: {paragraphs} paragraphs, {chars} characters in one block"
    return False, f"no article markup and too little prose ({paragraphs} paragraphs, {chars} characters)"


def _parse(html: bytes | str, url: str) -> Any:
    if not html or not html.strip():
        return None
    try:
        return lxml.html.document_fromstring(html, base_url=url)
    except (etree.ParserError, ValueError):
        return None


def find_json_ld_types(tree: Any) -> set[str]:
    """Schema.org types of the top-level JSON-LD objects and their `@graph` members."""
    found: set[str] = set()
    for script in tree.xpath('//script[contains(translate(@type, "JSONLD", "jsonld"), "ld+json")]'):
        try:
            data = json.loads(script.text_content() or "null")
        except ValueError:
            continue
        for item in _top_level(data):
            found.update(_types_of(item))
    return found


def _top_level(data: Any) -> list[dict[str, Any]]:
    items = data if isinstance(data, list) else [data]
    objects = [i for i in items if isinstance(i, dict)]
    graph = [g for o in objects for g in o.get("@graph") or [] if isinstance(g, dict)]
    return objects + graph


def _types_of(item: dict[str, Any]) -> set[str]:
    raw = item.get("@type")
    names = raw if isinstance(raw, list) else [raw]
    # "NewsArticle", "schema:NewsArticle" and "https://schema.org/NewsArticle" are one type
    return {str(n).rsplit("/", 1)[-1].rsplit(":", 1)[-1] for n in names if n}


def _og_type(tree: Any) -> str:
    for meta in tree.iter("meta"):
        if (meta.get("property") or meta.get("name") or "").strip().lower() == "og:type":
            return (meta.get("content") or "").strip().lower()
    return ""


def measure_prose(tree: Any) -> tuple[int, int]:
    """(paragraphs, characters) of unlinked prose in the element holding the most of it."""
    counts: Counter[Any] = Counter()
    chars: Counter[Any] = Counter()
    for p in tree.iter("p"):
        if any(a.tag in _SKIPPED for a in p.iterancestors()):
            continue
        text = " ".join(p.text_content().split())
        linked = sum(len(" ".join(a.text_content().split())) for a in p.iter("a"))
        prose = len(text) - linked
        if prose >= MIN_PARAGRAPH_CHARS and linked <= MAX_LINK_SHARE * len(text):
            counts[p.getparent()] += 1
            chars[p.getparent()] += prose
    if not chars:
        return 0, 0
    block, most = chars.most_common(1)[0]
    return counts[block], most
