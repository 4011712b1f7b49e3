"""FetchedPage -> Article: refuse what is not an HTML page, then main text and metadata.

The page is parsed once; that tree feeds our metadata pass (``meta.py``: title, authors, dates,
publisher, description, JSON-LD ``articleBody``) and trafilatura's text extraction (``text.py``:
one cheap run, a second only when its text looks wrong). The publication date is the most
explicit one on the page (JSON-LD, then meta tags, then ``<time datetime>``), then the feed
entry's date, and only when there is none htmldate's guess; never one later than the fetch.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import htmldate
import lxml.html
from lxml.etree import ElementDefaultClassLookup, ParserError, strip_elements
from w3lib.encoding import html_body_declared_encoding, html_to_unicode, http_content_type_encoding

from newsmon.dedupe import text_signature
from newsmon.errors import NewsmonError
from newsmon.extract.fields import choose_authors, choose_title, drop_byline_lines, title_candidates
from newsmon.extract.meta import PageMeta, bylines, parse_page_meta
from newsmon.extract.text import drop_boilerplate_lines, extract_text
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
# comments dropped while parsing keep the text around them; removed later, they can take it along
# ("the government's <!-- --><a>borrowing costs</a> are determined..." lost its end)
_PARSER = lxml.html.HTMLParser(remove_comments=True)
# Every element is an HtmlElement (what trafilatura and htmldate expect), chosen in C: lxml.html's
# own lookup calls Python for each element proxy to pick form classes no extractor uses (2,300
# calls per trafilatura run, 5% of extraction time).
_PARSER.set_element_class_lookup(ElementDefaultClassLookup(
    element=lxml.html.HtmlElement, comment=lxml.html.HtmlComment, pi=lxml.html.HtmlProcessingInstruction,
    entity=lxml.html.HtmlEntity))
CODE_TAGS = ("script", "style", "svg", "noscript", "template", "iframe")
_CONTROL = set(range(9)) | {11, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 28, 29, 30, 31}


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
    html, note = decode_html(page)
    tree = parse_html(page, html)
    meta = parse_page_meta(tree)
    drop_page_code(tree)
    text, extractor = extract_text(tree, page.final_url or page.url, meta.article_body)
    text = drop_boilerplate_lines(text, title_candidates(meta))
    if len(text) < min_text_chars:
        raise ExtractionError("empty", f"{page.final_url}: no article text found "
                                       f"({len(text)} characters, need {min_text_chars})")
    article = _build_article(page, meta, tree, text, extractor)
    if note:
        article.notes.append(note)
    return article


def _build_article(page: FetchedPage, meta: PageMeta, tree: lxml.html.HtmlElement, text: str,
                   extractor: str) -> Article:
    entry = page.entry
    published_at, date_source = pick_published_at(meta, entry, page.fetched_at,
                                                  lambda: guess_date(tree, page))
    url = _article_url(page, meta)
    authors = choose_authors(meta, entry, meta.publishers, text, lambda: bylines(tree))
    text = drop_byline_lines(text, authors)
    return Article(
        url=url, source=page.source, title=choose_title(meta, entry, url, meta.publishers), text=text,
        fetched_at=page.fetched_at, authors=authors,
        published_at=published_at, date_source=date_source, language=_language(meta.language),
        site_name=meta.publishers[0] if meta.publishers else None,
        summary=meta.description or (entry.summary if entry else None),
        content_hash=content_hash(text), extractor=extractor, urls=_all_urls(page, url),
        signature=text_signature(text),
    )


def drop_page_code(tree: lxml.html.HtmlElement) -> None:
    """Remove scripts, styles and drawings once the metadata is read: every extractor pass that
    walks the tree would otherwise walk them too, and none holds article text."""
    strip_elements(tree, *CODE_TAGS, with_tail=False)


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


def decode_html(page: FetchedPage) -> tuple[str, str | None]:
    """The page's text, and a note when the charset it was said to have was wrong.

    A BOM, else the header's charset, else ``<meta charset>``, else UTF-8/cp1252 (w3lib). When
    the body does not decode in the charset so chosen, the page's own ``<meta charset>``, UTF-8
    and windows-1252 are tried in that order; undecodable bytes are replaced only when none of
    them reads the whole body.
    """
    content_type = _header(page.headers, "content-type") or None
    encoding, text = html_to_unicode(content_type, page.body)
    if "\ufffd" not in text:
        return text, None
    try:
        page.body.decode(encoding)
        return text, None  # the page spells U+FFFD itself
    except (LookupError, UnicodeDecodeError) as exc:
        position = exc.start if isinstance(exc, UnicodeDecodeError) else 0
    in_meta = html_body_declared_encoding(page.body)
    encoding = codecs.lookup(encoding).name  # "utf-8", whichever way it was spelled
    said = _charset_origin(encoding, http_content_type_encoding(content_type or ""), in_meta)
    for candidate, origin in ((in_meta, "its <meta charset>"), ("utf-8", "UTF-8"), ("cp1252", "windows-1252")):
        try:
            if candidate is None or codecs.lookup(candidate).name == encoding:
                continue
            fixed = page.body.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
        return fixed, f"charset: {said} but byte {position} is not {encoding}; decoded as {candidate} ({origin})"
    return text, (f"charset: {said} but byte {position} is not {encoding}, nor is the body UTF-8 or "
                  f"windows-1252; undecodable bytes replaced with U+FFFD")


def _charset_origin(used: str, in_header: str | None, in_meta: str | None) -> str:
    """Who said the body was in ``used`` (a codec's canonical name): the header, <meta>, or w3lib's guess."""
    def same(name: str | None) -> bool:
        return name is not None and codecs.lookup(name).name == used
    if same(in_header):
        return f"the header says {in_header}"
    if same(in_meta):
        return f"its <meta charset> says {in_meta}"
    return f"no charset is declared, {used} was guessed"


def parse_html(page: FetchedPage, text: str | None = None) -> lxml.html.HtmlElement:
    """Parse the page (decoded by ``decode_html`` unless ``text`` is given)."""
    if text is None:
        text, _ = decode_html(page)
    # lxml refuses str input that still carries an XML encoding declaration
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    try:
        return lxml.html.document_fromstring(text, parser=_PARSER)
    except (ParserError, ValueError) as exc:
        raise ExtractionError("unparsable", f"{page.final_url}: cannot parse HTML: {exc}") from None


# -- choosing values ---------------------------------------------------------------------------

def pick_published_at(meta: PageMeta, entry: FeedEntry | None, fetched_at: datetime,
                      guess: Callable[[], str | None]) -> tuple[datetime | None, str]:
    """The first parseable date not later than the fetch, with where it came from.

    The feed's date ranks below the page's explicit markup but above htmldate, whose
    heuristics fall back on guesses such as a copyright year; ``guess`` runs only when
    nothing better was found.
    """
    feed_date = entry.published_at.isoformat() if entry and entry.published_at else ""
    limit = _as_aware(fetched_at)
    for source, raw in [*meta.dates, ("feed", feed_date)]:
        value = parse_date(raw)
        if value is not None and value <= limit:
            return value, source
    value = parse_date(guess())
    return (value, "htmldate") if value is not None and value <= limit else (None, "none")


def guess_date(tree: lxml.html.HtmlElement, page: FetchedPage) -> str | None:
    """htmldate's guess from the URL and the markup, never after the fetch."""
    latest = _as_aware(page.fetched_at).strftime("%Y-%m-%d")
    return htmldate.find_date(tree, url=page.final_url or page.url, extensive_search=True,
                              original_date=True, max_date=latest)


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
