"""Choosing the title and the authors from what the metadata pass and trafilatura found.

Title: the visible headline (an ``<h1>`` that agrees with the page's metadata titles) over the
metadata titles (JSON-LD ``headline``, ``og:title``, ``twitter:title``, ``<title>``), with the
site name cut off the end. Authors: the first source that yields person names after clean-up
(JSON-LD ``author`` with ``@id`` references resolved, then author meta tags, then trafilatura,
then the feed), never the site's own name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from newsmon.extract.meta import PageMeta
from newsmon.records import FeedEntry

HEADLINE_AGREEMENT = 0.5  # token Jaccard between an <h1> and a metadata title to call it the headline
_TITLE_SEP = re.compile(r"\s+(?:\||-|–|—|::|·|\*|/)\s+")
_BYLINE_TAIL = re.compile(r"^by\s+\S", re.IGNORECASE)
_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "′": "'", "“": '"', "”": '"', "„": '"', "″": '"'})


# -- title -------------------------------------------------------------------------------------

def choose_title(meta: PageMeta, fallback: str | None, entry: FeedEntry | None, url: str,
                 publishers: Iterable[str] = ()) -> str | None:
    """The article's declared headline (JSON-LD), else the visible one, else other metadata.

    Metadata spelling wins over the <h1>'s when both are the same headline: markup splits an
    <h1> into pieces (lost spaces) and typesets its quotes, metadata carries the typed text.
    """
    keys = _site_keys(url, publishers)
    titles = {source: strip_site_name(value, keys) for source, value in reversed(meta.titles)}
    ordered = [titles[key] for key in ("og:title", "twitter:title", "json-ld", "title") if key in titles]
    headings = [text for text in meta.headings if _alnum(text) not in keys]  # a logo is no headline
    heading = visible_headline(headings, ordered)
    if heading:
        heading = next((title for title in ordered if _same_text(title, heading)), heading)
    declared = titles.get("json-ld")
    best = declared or heading or (ordered[0] if ordered else None)
    if declared and heading and _same_text(declared, heading):
        best = heading
    best = best or (strip_site_name(fallback, keys) if fallback else None)
    return best or (entry.title if entry and entry.title else None)


def _same_text(a: str, b: str) -> bool:
    """Equal but for whitespace and the typography of quotes."""
    return re.sub(r"\s+", "", a.translate(_QUOTES)) == re.sub(r"\s+", "", b.translate(_QUOTES))


def visible_headline(headings: Iterable[str], titles: list[str]) -> str | None:
    """The <h1> most like a metadata title; pages carry other <h1>s (logo, section name)."""
    scored = [(max((_jaccard(heading, title) for title in titles), default=0.0), heading)
              for heading in headings]
    best = max(scored, default=(0.0, None), key=lambda pair: pair[0])
    return best[1] if best[0] >= HEADLINE_AGREEMENT else None


def title_candidates(meta: PageMeta, fallback: str | None) -> list[str]:
    """Every spelling of the title the page carries: lines equal to one are not body text."""
    return [value for _, value in meta.titles] + list(meta.headings) + ([fallback] if fallback else [])


def strip_site_name(title: str, site_keys: set[str]) -> str:
    """'Story - Section | Site' -> 'Story - Section': cut tails naming the site or a byline."""
    title = " ".join(title.split())
    head, tail = _split_title_tail(title)
    while head and (_names_site(tail, site_keys) or _BYLINE_TAIL.match(tail)):
        title = head
        head, tail = _split_title_tail(title)
    return title


def _names_site(tail: str, site_keys: set[str]) -> bool:
    key = _alnum(tail)
    return len(key) >= 3 and any(site in key or key in site for site in site_keys)


def _site_keys(url: str, publishers: Iterable[str]) -> set[str]:
    host = re.sub(r"^www\.", "", urlsplit(url).hostname or "")
    labels = [label for label in host.split(".")[:-1] if len(label) > 3]
    keys = {_alnum(host), _alnum(host.rsplit(".", 1)[0]), *map(_alnum, labels), *map(_alnum, publishers)}
    return keys - {""}


def _split_title_tail(title: str) -> tuple[str, str]:
    separators = list(_TITLE_SEP.finditer(title))
    if not separators:
        return "", title
    last = separators[-1]
    return title[:last.start()].strip(), title[last.end():].strip()


def _jaccard(a: str, b: str) -> float:
    left, right = set(_words(a)), set(_words(b))
    return len(left & right) / len(left | right) if left and right else 0.0


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.translate(_QUOTES).casefold())


def _alnum(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


# -- authors -----------------------------------------------------------------------------------

_BY = re.compile(r"^\s*(?:by|from|von|por|par|door|di|av|af)\b[:\s]*", re.IGNORECASE)
_ROLE = re.compile(r"\b(?:correspondent|reporter|editor|staff|writer|journalist|contributor|columnist|desk|"
                   r"team|news|agency|updated|published|photo\w*|images?|pictures?|analyst|producer)\b",
                   re.IGNORECASE)
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATE_TAIL = re.compile(r"[\s,|–—-]*\b(?:\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\d{1,2}:\d{2}|"
                        r"(?:on\s+)?(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+\d|"
                        rf"{_MONTH}\s+\d|\d{{1,2}}\.?\s+{_MONTH}\b).*$", re.IGNORECASE)
_WEB = re.compile(r"\b(?:https?|www)\b|://|\.(?:com|org|net)\b", re.IGNORECASE)
_SPLIT = re.compile(r"\s*(?:;|\||/|\band\b|\bund\b|\by\b|\bet\b|&)\s*", re.IGNORECASE)


def choose_authors(meta: PageMeta, trafilatura_author: str | None, entry: FeedEntry | None,
                   publishers: Iterable[str] = ()) -> list[str]:
    """Names from the first source that has any after clean-up, most explicit source first."""
    sources = [list(names) for _, names in meta.authors]
    sources += [split_author_field(trafilatura_author), list(entry.authors) if entry else []]
    publishers = list(publishers)
    for raw in sources:
        names = clean_authors(raw, publishers=publishers)
        if names:
            return names
    return []


def clean_authors(raw: Iterable[str], *, publishers: Iterable[str] = ()) -> list[str]:
    """Person names only: no leading "By", no roles, dates, handles, slugs or the site's own name.

    "A and B" and "Last, First" are handled; duplicates differing in case or hyphens are dropped.
    """
    own = {_publisher_key(name) for name in publishers} - {""}
    names: dict[str, str] = {}
    for value in raw:
        for name in _split_names(value):
            if _publisher_key(name) not in own:
                names.setdefault(_alnum(name), name)  # "Jane-Doe" and "JANE DOE" are "Jane Doe"
    return list(names.values())


def _publisher_key(name: str) -> str:
    return re.sub(r"^the", "", _alnum(name))


def _split_names(value: str) -> list[str]:
    value = _DATE_TAIL.sub("", _BY.sub("", " ".join(value.split())))
    parts = [_swap_last_first(part) for part in _SPLIT.split(value)]
    parts = [_BY.sub("", piece).strip(" .:-–—") for part in parts for piece in part.split(",")]
    return [part for part in parts if _is_name(part)]


def _swap_last_first(part: str) -> str:
    """'Doe, Jane' -> 'Jane Doe' (one comma between two single words)."""
    last, comma, first = part.partition(",")
    if comma and last.strip() and first.strip() and " " not in last.strip() and " " not in first.strip() \
            and "," not in first:
        return f"{first.strip()} {last.strip()}"
    return part


def _is_name(part: str) -> bool:
    if not part or len(part) > 60 or any(ch in part for ch in "@()[]") or _ROLE.search(part) \
            or _WEB.search(part):
        return False
    if " " not in part and part == part.lower():  # a URL slug or a login ("jane-doe", "jdoe")
        return False
    return any(ch.isalpha() for ch in part) and not any(ch.isdigit() for ch in part)


def split_author_field(value: str | None) -> list[str]:
    """trafilatura joins authors with '; '."""
    return [part for part in (value or "").split(";") if part.strip()]
