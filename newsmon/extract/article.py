"""FetchedPage -> Article: refuse what is not an HTML page, then main text and metadata.

The text comes from trafilatura run twice (favor_precision and favor_recall) with the page's
JSON-LD ``articleBody`` as a third opinion (``text.py``). Title and authors come from our own
metadata pass (``meta.py``, chosen in ``fields.py``). The publication date is the most explicit
one on the page (JSON-LD, then meta tags, then ``<time datetime>``), then the feed entry's
date, and only then trafilatura's htmldate guess; never one later than the fetch.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import lxml.html
import trafilatura
from lxml.etree import ParserError
from w3lib.encoding import html_to_unicode

from newsmon.errors import NewsmonError
from newsmon.dedupe import text_signature
from newsmon.extract.fields import choose_authors, choose_title, drop_byline_lines, title_candidates
from newsmon.extract.meta import PageMeta, parse_page_meta
from newsmon.extract.text import choose_text, drop_boilerplate_lines
from newsmon.extract.urls import canonical_url, content_hash
from newsmon.records import Article, FeedEntry, FetchedPage

DEFAULT_MAX_BYTES = 5 * 1024 * 1024  # same cap as CrawlSettings.max_bytes
HTML_TYPES = ("text/html", "application/xhtml+xml")
UNTYPED = ("", "application/octet-stream", "binary/octet-stream")  # servers that did not say
_MAGIC = (b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"%PDF", b"PK\x03\x04", b"\x1f\x8b", b"RIFF", b"OggS",
          b"ID3", b"fLaC", b"\x7fELF", b"BZh", b"7z\xbc\xaf", b"\x00\x00\x01\x00", b"\x00asm", b"wOF")
_MARKUP = re.compile(rb"<(!doctype html|html|head|body|meta|title|div|p|article)[\s>/]", re.IGNORECASE)
_FEED = re.compile(rb"<(rss|feed|rdf:RDF)[\s>]")
_HTML_ROOT = re.compile(rb"<(!doctype html|html|body)[\s>]", re.IGNORECASE)
_CONTROL = set(range(0, 9)) | {11, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 28, 29, 30, 31}


class ExtractionError(NewsmonError):
    """A page that holds no article; ``reason`` is a short code for logs and the database.

    Reasons: "not-html", "binary", "too-large", "empty", "unparsable".
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def extract_article(page: FetchedPage, min_text_chars: int = 200, *,
                    max_bytes: int = DEFAULT_MAX_BYTES) -> Article:
    """Extract the article in ``page``; raise ExtractionError when there is none."""
    check_page(page, max_bytes)
    tree = parse_html(page)
    meta = parse_page_meta(tree)
    precise, recalled = _run_trafilatura(tree, page)
    text, extractor = choose_text(_text(precise), _text(recalled), meta.article_body)
    text = drop_boilerplate_lines(text, title_candidates(meta, precise.title if precise else None))
    if precise is None or len(text) < min_text_chars:
        raise ExtractionError("empty", f"{page.final_url}: no article text found "
                                       f"({len(text)} characters, need {min_text_chars})")
    return _build_article(page, meta, precise, text, extractor)


def _build_article(page: FetchedPage, meta: PageMeta, doc: Any, text: str, extractor: str) -> Article:
    entry = page.entry
    published_at, date_source = pick_published_at(meta, doc.date, entry, page.fetched_at)
    url = _article_url(page, meta)
    publishers = list(meta.publishers) + ([doc.sitename] if doc.sitename else [])
    authors = choose_authors(meta, doc.author, entry, publishers, text)
    text = drop_byline_lines(text, authors)
    return Article(
        url=url, source=page.source, title=choose_title(meta, doc.title, entry, url, publishers), text=text,
        fetched_at=page.fetched_at, authors=authors,
        published_at=published_at, date_source=date_source,
        language=_language(doc.language) or _language(meta.language),
        site_name=doc.sitename or (meta.publishers[0] if meta.publishers else None),
        summary=doc.description or (entry.summary if entry else None),
        content_hash=content_hash(text), extractor=extractor, urls=_all_urls(page, url),
        signature=text_signature(text),
    )


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


_SOCIAL_EMBEDS = ("//blockquote[contains(@class, 'twitter-tweet') or contains(@class, 'instagram-media') "
                  "or contains(@class, 'tiktok-embed')]")


def _run_trafilatura(tree: lxml.html.HtmlElement, page: FetchedPage) -> tuple[Any, Any]:
    """Two runs over copies of the tree: favor_precision (with metadata) and favor_recall.

    trafilatura prunes the tree it is given, so each run gets its own copy; embedded social
    posts are quotations of other people's posts, not the article's text.
    """
    params = {"extensive_search": True, "original_date": True,
              "max_date": _as_aware(page.fetched_at).strftime("%Y-%m-%d")}
    common = {"url": page.final_url or page.url, "include_comments": False, "include_tables": True,
              "deduplicate": False, "prune_xpath": _SOCIAL_EMBEDS}
    precise = trafilatura.bare_extraction(copy.deepcopy(tree), with_metadata=True, favor_precision=True,
                                          date_extraction_params=params, **common)
    recalled = trafilatura.bare_extraction(tree, favor_recall=True, **common)
    return precise, recalled


def _text(doc: Any) -> str:
    return (doc.text or "").strip() if doc is not None else ""


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


# -- helpers -----------------------------------------------------------------------------------

def _header(headers: dict[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""


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
