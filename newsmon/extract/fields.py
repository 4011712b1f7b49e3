"""Choosing the title and the authors from what the metadata pass found.

Title: the article's declared headline (JSON-LD ``headline``), else the visible headline (an
``<h1>`` that agrees with the page's metadata titles), else ``og:title``, ``twitter:title``,
``<title>``; the site name is cut off the end. Authors: the first source that yields person
names after clean-up (JSON-LD ``author`` with ``@id`` references resolved, author meta tags, the
visible byline, the feed, a byline line at the top of the text), without the site's own name;
when no source credits a person, the organisation that is credited (a JSON-LD Organization
author, or the site's own name in a byline).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from newsmon.extract.meta import PageMeta
from newsmon.records import FeedEntry

HEADLINE_AGREEMENT = 0.5  # token Jaccard between an <h1> and a metadata title to call it the headline
_TITLE_SEP = re.compile(r"\s+(?:\||-|–|—|::|·|\*|/)\s+")
_BYLINE_TAIL = re.compile(r"^by\s+\S", re.IGNORECASE)
_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "′": "'", "“": '"', "”": '"', "„": '"', "″": '"'})


# -- title -------------------------------------------------------------------------------------

def choose_title(meta: PageMeta, entry: FeedEntry | None, url: str,
                 publishers: Iterable[str] = ()) -> str | None:
    """The article's declared headline (JSON-LD), else the visible one, else other metadata.

    The headline is spelled as most of the page's sources spell it (quotes and spaces differ
    between them: markup splits an <h1> into pieces and typesets its quotes, metadata may be
    retyped); ties go to ``og:title``, then JSON-LD, ``twitter:title``, ``<title>``, ``<h1>``.
    """
    keys = _site_keys(url, publishers)
    candidates = [(source, strip_site_name(value, keys)) for source, value in meta.titles]
    titles = {source: value for source, value in reversed(candidates)}
    ordered = [titles[key] for key in ("og:title", "twitter:title", "json-ld", "title") if key in titles]
    headings = [text for text in meta.headings if _alnum(text) not in keys]  # a logo is no headline
    heading = visible_headline(headings, ordered)
    best = titles.get("json-ld") or heading or (ordered[0] if ordered else None)
    if best:
        return spell_as_most_do(best, candidates + ([("h1", heading)] if heading else []))
    return entry.title if entry and entry.title else None


_SPELLING_ORDER = ("og:title", "json-ld", "twitter:title", "title", "h1")


def spell_as_most_do(title: str, candidates: list[tuple[str, str]]) -> str:
    """The most common spelling of ``title`` among (source, text) ``candidates``."""
    key = _title_key(title)
    same = [(source, " ".join(value.split())) for source, value in candidates if _title_key(value) == key]
    counts = Counter(value for _, value in same)
    if not counts:
        return title
    return max(counts, key=lambda value: (counts[value], -min(
        _SPELLING_ORDER.index(source) for source, spelled in same if spelled == value)))


def _title_key(text: str) -> str:
    """The typography of quotes and the spaces do not make another headline; other characters do."""
    return re.sub(r"\s+", "", text.translate(_QUOTES))


def visible_headline(headings: Iterable[str], titles: list[str]) -> str | None:
    """The <h1> most like a metadata title; pages carry other <h1>s (logo, section name)."""
    scored = [(max((_jaccard(heading, title) for title in titles), default=0.0), heading)
              for heading in headings]
    best = max(scored, default=(0.0, None), key=lambda pair: pair[0])
    return best[1] if best[0] >= HEADLINE_AGREEMENT else None


def title_candidates(meta: PageMeta) -> list[str]:
    """Every spelling of the title the page carries: lines equal to one are not body text."""
    return [value for _, value in meta.titles] + list(meta.headings)


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

_BY = re.compile(r"^\s*(?:written by|by|from|von|por|par|door|di|av|af|authors?|autor(?:in|en)?)\b[:\s]*",
                 re.IGNORECASE)
_ROLE = re.compile(r"\b(?:correspondent|reporter|editor|staff|writer|journalist|contributor|columnist|desk|"
                   r"team|news|agency|updated|published|photo\w*|images?|pictures?|analyst|producer)\b",
                   re.IGNORECASE)
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATE_TAIL = re.compile(r"[\s,|–—-]*\b(?:\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\d{1,2}:\d{2}|"
                        r"(?:on\s+)?(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+\d|"
                        rf"{_MONTH}\s+\d|\d{{1,2}}\.?\s+{_MONTH}\b).*$", re.IGNORECASE)
_WEB = re.compile(r"\b(?:https?|www)\b|://|\.(?:com|org|net)\b", re.IGNORECASE)
BYLINE_LINES = 4  # a byline sits among the first lines of the text, after a standfirst
_INITIALS = re.compile(r"\s*\([^()]*\)$")  # "Jane Doe (jd)": the desk's short form after a name
_SPLIT = re.compile(r"\s*(?:;|\||/|\band\b|\bund\b|\by\b|\bet\b|&)\s*", re.IGNORECASE)


def choose_authors(meta: PageMeta, entry: FeedEntry | None, publishers: Iterable[str] = (),
                   text: str = "", byline: Callable[[], list[str]] = list) -> list[str]:
    """The people credited by the first source that names any, most explicit source first.

    Sources: JSON-LD, author meta tags, the page's visible ``byline`` (looked up only when those
    name nobody), the feed, and last a byline line at the top of the article text ("Jane Doe/John
    Roe"), for sites whose markup credits only themselves. When no source credits a person,
    the organisation credited instead is the author: a JSON-LD author typed as an Organization,
    or a byline that is the site's own name ("BBC News", "Associated Press" on apnews.com).
    Where people are credited, the site's own name is dropped from among them. A JSON-LD
    author's name is the page's own structured statement: a desk or team named there ("Gear
    Team", "Guardian staff reporter") is credited, where a role glued to a byline is not.
    """
    publishers = list(publishers)
    sources = [(source, list(names)) for source, names in meta.authors]
    for source, raw in sources:
        names = clean_authors(raw, publishers=publishers, structured=source == "json-ld")
        if names:
            return names
    sources += [("byline", byline()), ("feed", list(entry.authors) if entry else [])]
    for _, raw in [*sources[-2:], ("text", text_byline(text))]:
        names = clean_authors(raw, publishers=publishers)
        if names:
            return names
    for _, raw in sources:
        organisations = credited_organisations(raw, [*publishers, *meta.author_organisations])
        if organisations:
            return organisations
    return []


def credited_organisations(raw: Iterable[str], organisations: Iterable[str]) -> list[str]:
    """The values of ``raw`` that name one of ``organisations``, as the byline spells them."""
    known = {_publisher_key(name) for name in organisations} - {""}
    names: dict[str, str] = {}
    for value in raw:
        name = _DATE_TAIL.sub("", _BY.sub("", " ".join(value.split()))).strip(" .:-–—|,")
        if _publisher_key(name) in known:
            names.setdefault(_publisher_key(name), name)
    return list(names.values())


def text_byline(text: str, lines: int = BYLINE_LINES) -> list[str]:
    """A line among the first few of ``text`` that holds only names, each of 2-4 capitalised words."""
    for line in [line.strip() for line in text.splitlines() if line.strip()][:lines]:
        if all(_looks_like_name(part) for part in _SPLIT.split(line)):
            return [line]
    return []


def drop_byline_lines(text: str, authors: Iterable[str], lines: int = BYLINE_LINES) -> str:
    """Drop, among the first lines of ``text``, a line that names only the credited authors."""
    credited = {_alnum(name) for name in authors}
    kept, seen = [], 0
    for line in text.splitlines():
        seen += bool(line.strip())
        names = {_alnum(name) for name in clean_authors(text_byline(line))} if seen <= lines else set()
        if not (names and names <= credited):
            kept.append(line)
    return "\n".join(kept).strip()


def _looks_like_name(part: str) -> bool:
    """2-4 words, each starting with a capital letter, no digits and no sentence punctuation."""
    words = part.split()
    return 2 <= len(words) <= 4 and all(word[0].isupper() for word in words) \
        and not any(ch.isdigit() or ch in ",;:!?()\"" for ch in part) and not part.endswith(".")


def clean_authors(raw: Iterable[str], *, publishers: Iterable[str] = (), structured: bool = False) -> list[str]:
    """Person names only: no leading "By", no roles, dates, handles, slugs or the site's own name.

    "A and B" and "Last, First" are handled; duplicates differing in case or hyphens are dropped.
    ``structured`` values (JSON-LD names) that hold one name keep role words: "Gear Team".
    """
    own = {_publisher_key(name) for name in publishers} - {""}
    names: dict[str, str] = {}
    for value in raw:
        for name in _split_names(value, structured):
            if _publisher_key(name) not in own:
                names.setdefault(_alnum(name), name)  # "Jane-Doe" and "JANE DOE" are "Jane Doe"
    return list(names.values())


def _publisher_key(name: str) -> str:
    return re.sub(r"^the", "", _alnum(name))


def _split_names(value: str, structured: bool = False) -> list[str]:
    value = _DATE_TAIL.sub("", _BY.sub("", " ".join(value.split())))
    parts = [_swap_last_first(part) for part in _SPLIT.split(value)]
    parts = [_BY.sub("", piece).strip(" .:-–—") for part in parts for piece in part.split(",")]
    parts = [_INITIALS.sub("", part) for part in parts if part]
    return [part for part in parts if _is_name(part, desk=structured and len(parts) == 1)]


def _swap_last_first(part: str) -> str:
    """'Doe, Jane' -> 'Jane Doe' (one comma between two single words)."""
    last, comma, first = part.partition(",")
    if comma and last.strip() and first.strip() and " " not in last.strip() and " " not in first.strip() \
            and "," not in first:
        return f"{first.strip()} {last.strip()}"
    return part


def _is_name(part: str, desk: bool = False) -> bool:
    """A person's name; with ``desk``, also a desk's or team's ("Gear Team", "MND Staff")."""
    if not part or len(part) > 60 or any(ch in part for ch in "@()[]") or (_ROLE.search(part) and not desk) \
            or _WEB.search(part):
        return False
    if " " not in part and part.isascii() and part == part.lower():  # a slug or a login ("jane-doe")
        return False
    return any(ch.isalpha() for ch in part) and not any(ch.isdigit() for ch in part)
