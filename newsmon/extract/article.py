"""FetchedPage -> Article: refuse what is not an HTML page, then main text and metadata.

trafilatura finds the main text; a small metadata pass of our own picks the canonical URL
and the publication date from the most explicit source on the page (JSON-LD, then meta
tags, then ``<time datetime>``), then the feed entry's date, and only then trafilatura's
htmldate guess.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import lxml.html
import trafilatura
from lxml.etree import ParserError
from w3lib.encoding import html_to_unicode

from newsmon.errors import NewsmonError
from newsmon.extract.urls import canonical_url, content_hash
from newsmon.records import Article, FeedEntry, FetchedPage

EXTRACTOR = "trafilatura"
DEFAULT_MAX_BYTES = 5 * 1024 * 1024  # same cap as CrawlSettings.max_bytes
HTML_TYPES = ("text/html", "application/xhtml+xml")
UNTYPED = ("", "application/octet-stream", "binary/octet-stream")  # servers that did not say
_MAGIC = (b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"%PDF", b"PK\x03\x04", b"\x1f\x8b", b"RIFF", b"OggS",
          b"ID3", b"fLaC", b"\x7fELF", b"BZh", b"7z\xbc\xaf", b"\x00\x00\x01\x00", b"\x00asm", b"wOF")
_MARKUP = re.compile(rb"<(!doctype html|html|head|body|meta|title|div|p|article)[\s>/]", re.IGNORECASE)
_FEED = re.compile(rb"<(rss|feed|rdf:RDF)[\s>]")
_HTML_ROOT = re.compile(rb"<(!doctype html|html|body)[\s>]", re.IGNORECASE)
_CONTROL = set(range(0, 9)) | {11, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 28, 29, 30, 31}
_META_DATE_KEYS = ("article:published_time", "og:article:published_time", "datepublished",
                   "publishdate", "publish-date", "pubdate", "dc.date.issued", "dcterms.issued",
                   "dc.date", "dcterms.created", "parsely-pub-date", "sailthru.date", "date")
_TIME_XPATHS = ("//time[@itemprop='datePublished'][@datetime]", "//time[@pubdate][@datetime]",
                "//article//time[@datetime]", "//time[@datetime]")


class ExtractionError(NewsmonError):
    """A page that holds no article; ``reason`` is a short code for logs and the database.

    Reasons: "not-html", "binary", "too-large", "empty", "unparsable".
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(slots=True)
class PageMeta:
    """What our own metadata pass found in the page's markup."""

    canonical: str | None = None
    language: str | None = None
    dates: tuple[tuple[str, str], ...] = ()  # (source, raw value), best source first


def extract_article(page: FetchedPage, min_text_chars: int = 200, *,
                    max_bytes: int = DEFAULT_MAX_BYTES) -> Article:
    """Extract the article in ``page``; raise ExtractionError when there is none."""
    check_page(page, max_bytes)
    tree = parse_html(page)
    meta = parse_page_meta(tree)
    doc = _run_trafilatura(tree, page)
    text = _drop_title_line((doc.text or "") if doc is not None else "", doc.title if doc else None)
    if len(text) < min_text_chars:
        raise ExtractionError("empty", f"{page.final_url}: no article text found "
                                       f"({len(text)} characters, need {min_text_chars})")
    return _build_article(page, meta, doc, text)


def _build_article(page: FetchedPage, meta: PageMeta, doc: Any, text: str) -> Article:
    entry = page.entry
    published_at, date_source = pick_published_at(meta, doc.date, entry, page.fetched_at)
    url = _article_url(page, meta)
    authors = clean_authors(_split_author_field(doc.author)) or clean_authors(entry.authors if entry else [])
    return Article(
        url=url, source=page.source, title=_title(doc, entry, url), text=text,
        fetched_at=page.fetched_at, authors=authors, published_at=published_at,
        date_source=date_source, language=_language(doc.language) or meta.language,
        site_name=doc.sitename or None, summary=doc.description or (entry.summary if entry else None),
        content_hash=content_hash(text), extractor=EXTRACTOR, urls=_all_urls(page, url),
    )


def _drop_title_line(text: str, title: str | None) -> str:
    """Many pages put the <h1> inside <article>; the title is kept apart, not in the text."""
    first, _, rest = text.strip().partition("\n")
    if title and " ".join(first.split()).casefold() == " ".join(title.split()).casefold():
        return rest.strip()
    return text.strip()


def check_page(page: FetchedPage, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Refuse bodies that are not an HTML page, before any parsing."""
    where = page.final_url or page.url
    if not page.body.strip():
        raise ExtractionError("empty", f"{where}: empty response body")
    if len(page.body) > max_bytes:
        raise ExtractionError("too-large", f"{where}: body of {len(page.body)} bytes exceeds {max_bytes}")
    if looks_binary(page.body):
        raise ExtractionError("binary", f"{where}: body is binary data, not an HTML page")
    ctype = _header(page.headers, "content-type").split(";")[0].strip().lower()
    if ctype not in HTML_TYPES and (ctype not in UNTYPED or not _MARKUP.search(page.body[:4096])):
        raise ExtractionError("not-html", f"{where}: content type {ctype or 'unknown'!r} is not HTML")
    if _FEED.search(page.body[:2048]) and not _HTML_ROOT.search(page.body[:4096]):
        raise ExtractionError("not-html", f"{where}: body is a feed, not an HTML page")


def looks_binary(body: bytes) -> bool:
    """True for known file signatures or control bytes in the first kilobyte (UTF-16 excepted)."""
    head = body[:1024]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    if head.startswith(_MAGIC):
        return True
    controls = sum(1 for byte in head if byte in _CONTROL)
    return controls > max(2, len(head) // 50)


def parse_html(page: FetchedPage) -> lxml.html.HtmlElement:
    """Decode with the header's charset, else a BOM or <meta charset>, else UTF-8/cp1252; parse."""
    _, text = html_to_unicode(_header(page.headers, "content-type") or None, page.body)
    # lxml refuses str input that still carries an XML encoding declaration
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    try:
        return lxml.html.document_fromstring(text)
    except (ParserError, ValueError) as exc:
        raise ExtractionError("unparsable", f"{page.final_url}: cannot parse HTML: {exc}") from None


def _run_trafilatura(tree: lxml.html.HtmlElement, page: FetchedPage) -> Any:
    # trafilatura prunes the tree it is given; our own metadata pass has already run
    params = {"extensive_search": True, "original_date": True,
              "max_date": _as_aware(page.fetched_at).strftime("%Y-%m-%d")}
    return trafilatura.bare_extraction(
        tree, url=page.final_url or page.url, with_metadata=True, include_comments=False,
        favor_precision=True, include_tables=True, deduplicate=False, date_extraction_params=params)


# -- our own metadata pass ---------------------------------------------------------------------

def parse_page_meta(tree: lxml.html.HtmlElement) -> PageMeta:
    """Canonical link, <html lang> and publication dates in order of how explicit they are."""
    canonical = _first(tree.xpath("//link[@href][contains(concat(' ', normalize-space(translate("
                                  "@rel, 'CANONIL', 'canonil')), ' '), ' canonical ')]/@href"))
    dates = [("json-ld", value) for value in _jsonld_dates(tree)]
    dates += [("meta", value) for value in _meta_dates(tree)]
    dates += [("time-element", value) for value in _time_dates(tree)]
    return PageMeta(canonical=canonical, language=_language(_first(tree.xpath("/html/@lang"))),
                    dates=tuple(dates))


def _jsonld_dates(tree: lxml.html.HtmlElement) -> list[str]:
    articles, others = [], []
    for node in _jsonld_objects(tree):
        value = node.get("datePublished") or node.get("dateCreated")
        if isinstance(value, str):
            (articles if _is_article_type(node.get("@type")) else others).append(value)
    return articles + others


def _jsonld_objects(tree: lxml.html.HtmlElement) -> Iterator[dict[str, Any]]:
    for script in tree.xpath("//script[contains(translate(@type, 'LDJSON', 'ldjson'), 'ld+json')]"):
        try:
            data = json.loads(script.text or "", strict=False)
        except ValueError:
            continue  # broken JSON-LD is common; other sources remain
        yield from _walk_jsonld(data)


def _walk_jsonld(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _walk_jsonld(item)
    elif isinstance(data, dict):
        yield data
        yield from _walk_jsonld(data.get("@graph"))


def _is_article_type(value: Any) -> bool:
    types = value if isinstance(value, list) else [value]
    return any(isinstance(t, str) and (t.endswith("Article") or t.endswith("BlogPosting")) for t in types)


def _meta_dates(tree: lxml.html.HtmlElement) -> list[str]:
    found: dict[str, str] = {}
    for node in tree.xpath("//meta[@content]"):
        key = (node.get("property") or node.get("name") or node.get("itemprop") or "").strip().lower()
        if key in _META_DATE_KEYS and key not in found:
            found[key] = node.get("content")
    return [found[key] for key in _META_DATE_KEYS if key in found]


def _time_dates(tree: lxml.html.HtmlElement) -> list[str]:
    return [value for xpath in _TIME_XPATHS for value in tree.xpath(f"{xpath}/@datetime")[:1]]


# -- choosing values ---------------------------------------------------------------------------

def pick_published_at(meta: PageMeta, trafilatura_date: str | None, entry: FeedEntry | None,
                      fetched_at: datetime) -> tuple[datetime | None, str]:
    """The first parseable date not later than the fetch, with where it came from.

    The feed's date ranks below the page's explicit markup but above htmldate, whose
    heuristics fall back on guesses such as a copyright year.
    """
    feed_date = entry.published_at.isoformat() if entry and entry.published_at else ""
    candidates = list(meta.dates) + [("feed", feed_date), ("htmldate", trafilatura_date or "")]
    limit = _as_aware(fetched_at)
    for source, raw in candidates:
        value = parse_date(raw)
        if value is not None and value <= limit:
            return value, source
    return None, "none"


def parse_date(raw: str | None) -> datetime | None:
    """ISO 8601 or RFC 2822 text -> aware datetime (UTC when the text has no offset)."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return _as_aware(datetime.fromisoformat(raw))
    except ValueError:
        pass
    try:
        return _as_aware(parsedate_to_datetime(raw))
    except (TypeError, ValueError, IndexError):
        return None


def _as_aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _article_url(page: FetchedPage, meta: PageMeta) -> str:
    """<link rel=canonical> unless it is missing, not HTTP, or points a deep page at a home page."""
    final = canonical_url(page.final_url or page.url)
    if not meta.canonical:
        return final
    canonical = canonical_url(meta.canonical, base=final)
    home = re.match(r"^https?://[^/]+/?$", canonical) and not re.match(r"^https?://[^/]+/?$", final)
    return canonical if canonical.startswith(("http://", "https://")) and not home else final


_TITLE_SEP = re.compile(r"\s+(?:\||-|–|—|::|·)\s+")


def _title(doc: Any, entry: FeedEntry | None, url: str) -> str | None:
    """Page title without a trailing " | Site Name"; the feed's title if the page has none."""
    title = doc.title or (entry.title if entry else None)
    if not title:
        return None
    host = re.sub(r"^www\.", "", urlsplit(url).hostname or "")
    site_keys = {_alnum(doc.sitename or ""), _alnum(host), _alnum(host.rsplit(".", 1)[0])} - {""}
    head, tail = _split_title_tail(title)
    while head and any(key in _alnum(tail) or _alnum(tail) in key for key in site_keys if _alnum(tail)):
        title = head
        head, tail = _split_title_tail(title)
    return title


def _split_title_tail(title: str) -> tuple[str, str]:
    pieces = _TITLE_SEP.split(title)
    if len(pieces) < 2:
        return "", title
    last = list(_TITLE_SEP.finditer(title))[-1]
    return title[:last.start()].strip(), title[last.end():].strip()


def _alnum(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _all_urls(page: FetchedPage, url: str) -> list[str]:
    """Every URL that led to the article, canonicalised, the article's own URL first."""
    raw = [url, page.url, page.final_url, page.entry.link if page.entry else ""]
    seen: dict[str, None] = {}
    for value in raw:
        if value:
            seen.setdefault(canonical_url(value), None)
    return list(seen)


def _language(value: str | None) -> str | None:
    """'en-GB' -> 'en'; None for empty or malformed values."""
    match = re.match(r"^\s*([A-Za-z]{2,3})(?:[-_]|\s*$)", value or "")
    return match.group(1).lower() if match else None


# -- authors -----------------------------------------------------------------------------------

_BY = re.compile(r"^\s*(?:by|from|von|por|par|door|di|av|af)\b[:\s]*", re.IGNORECASE)
_ROLE = re.compile(r"\b(?:correspondent|reporter|editor|staff|writer|journalist|contributor|columnist|desk|"
                   r"team|news|agency|updated|published|photograph\w*|analyst|producer)\b", re.IGNORECASE)
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATE_TAIL = re.compile(r"[\s,|–—-]*\b(?:\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\d{1,2}:\d{2}|"
                        r"(?:on\s+)?(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+\d|"
                        rf"{_MONTH}\s+\d|\d{{1,2}}\.?\s+{_MONTH}\b).*$", re.IGNORECASE)
_WEB = re.compile(r"\b(?:https?|www)\b|://|\.(?:com|org|net)\b", re.IGNORECASE)
_SPLIT = re.compile(r"\s*(?:;|\||/|\band\b|\bund\b|\by\b|\bet\b|&)\s*", re.IGNORECASE)


def clean_authors(raw: list[str]) -> list[str]:
    """Person names only: no leading "By", no roles or dates, "A and B" and "Last, First" handled."""
    names: dict[str, str] = {}
    for value in raw:
        for name in _split_names(value):
            names.setdefault(_alnum(name), name)  # "Jane-Doe" and "JANE DOE" are "Jane Doe"
    return list(names.values())


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
    if not part or len(part) > 60 or "@" in part or _ROLE.search(part) or _WEB.search(part):
        return False
    return any(ch.isalpha() for ch in part) and not any(ch.isdigit() for ch in part)


def _split_author_field(value: str | None) -> list[str]:
    """trafilatura joins authors with '; '."""
    return [part for part in (value or "").split(";") if part.strip()]


# -- helpers -----------------------------------------------------------------------------------

def _header(headers: dict[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""


def _first(values: list[Any]) -> str | None:
    for value in values:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def extract_file(path: str | Path, url: str | None = None, *, source: str = "file",
                 min_text_chars: int = 200) -> Article:
    """Extract a saved page (``newsmon extract page.html --url URL``); URL defaults to file://."""
    file = Path(path)
    try:
        body = file.read_bytes()
    except OSError as exc:
        raise NewsmonError(f"{file}: cannot read: {exc.strerror}") from None
    headers = {"Content-Type": "text/html"} if file.suffix.lower() in (".html", ".htm", ".xhtml") else {}
    address = url or file.resolve().as_uri()
    page = FetchedPage(url=address, final_url=address, status=200, headers=headers, body=body,
                       fetched_at=datetime.now(UTC), source=source)
    return extract_article(page, min_text_chars)
