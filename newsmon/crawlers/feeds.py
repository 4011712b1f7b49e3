"""Reading a feed: bytes in, `ParsedFeed` out (a pure function, no network, no Scrapy).

feedparser is only ever given the downloaded bytes wrapped in a stream: given a plain `bytes` or
`str` it may treat the value as a file name or URL and read the disk or the network.
"""

from __future__ import annotations

import io
import json
import re
import xml.parsers.expat as expat
from calendar import timegm
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
from w3lib.url import safe_url_string

from newsmon.records import FeedEntry

_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_HTTP = re.compile(r"^https?://", re.IGNORECASE)
_ROOT_END = re.compile(rb"</(?:[\w.-]+:)?(?:rss|feed|rdf|channel)\s*>", re.IGNORECASE)
# the document element: the first start tag that is no declaration, comment or instruction
_ROOT_START = re.compile(rb"<([A-Za-z_][\w.:-]*)[\s/>]")
_PROLOG_ITEM = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>)", re.DOTALL | re.IGNORECASE)


@dataclass(slots=True)
class ParsedFeed:
    """What a feed holds; `error` (one line) is set when the body is refused or is no feed."""

    url: str
    entries: list[FeedEntry] = field(default_factory=list)
    title: str | None = None
    version: str = ""
    bozo: str | None = None  # feedparser's complaint about a feed it still read
    skipped: int = 0  # entries without an http(s) link
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def parse_feed(body: bytes, url: str, headers: dict[str, str]) -> ParsedFeed:
    """Parse a downloaded feed; never raises for bad input (see `ParsedFeed.error`)."""
    if not body.strip():
        return ParsedFeed(url, error="empty response body")
    if body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
        return parse_json_feed(body, url)
    refusal = find_entity_declaration(body)
    if refusal:
        return ParsedFeed(url, error=f"refused: the XML {refusal} (entity expansion / external entity risk)")
    try:
        parsed = feedparser.parse(io.BytesIO(body), response_headers=_feed_headers(url, headers))
    except Exception as exc:  # noqa: BLE001 - a parser bug must cost one source, not the crawl
        return ParsedFeed(url, error=f"feed parser failed: {_one_line(exc)}")
    feed = _to_parsed_feed(parsed, url)
    if feed.ok and feed.bozo and is_cut_off(body, feed.version):
        feed.error = f"feed is cut off (no closing root tag): {feed.bozo}"
    return feed


def _feed_headers(url: str, headers: dict[str, str]) -> dict[str, str]:
    # feedparser resolves relative links against Content-Location.
    lowered = {k.lower(): v for k, v in headers.items()}
    lowered.setdefault("content-location", url)
    return lowered


def _to_parsed_feed(parsed: Any, url: str) -> ParsedFeed:
    bozo = _one_line(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    raw_entries = parsed.get("entries") or []
    version = parsed.get("version") or ""
    if not raw_entries and (bozo or not version):
        return ParsedFeed(url, version=version, bozo=bozo, error=f"not a feed: {bozo or _no_feed_reason(parsed)}")
    entries = [entry for entry in (parse_entry(e, url) for e in raw_entries) if entry is not None]
    title = parsed.get("feed", {}).get("title")
    return ParsedFeed(url, entries, title, version, bozo, skipped=len(raw_entries) - len(entries))


def is_cut_off(body: bytes, version: str) -> bool:
    """An XML feed without its closing root tag: a broken download, not a sloppy publisher.

    Ill-formed but complete feeds (a stray '&', junk after the root) are common and still read;
    a truncated one may have lost entries and fields, so it counts as a failed poll.
    """
    if version.startswith("json"):
        return False
    text = body.replace(b"\x00", b"")  # UTF-16 read as bytes
    root = _root_name(text)
    if root is None:
        return _ROOT_END.search(text) is None
    # the root's own end tag (RSS 1.0 closes <channel> before its items, inside <rdf:RDF>); one
    # that lacks only its '>' at the very end has lost nothing
    return re.search(rb"</" + re.escape(root) + rb"\s*(?:>|\Z)", text) is None


def _root_name(text: bytes) -> bytes | None:
    position = 0
    text = text.lstrip(b"\xef\xbb\xbf\xff\xfe")
    while (item := _PROLOG_ITEM.match(text, position)) is not None and item.end() > position:
        position = item.end()
    match = _ROOT_START.match(text, position + len(text[position:]) - len(text[position:].lstrip()))
    return match.group(1) if match else None


def parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    """JSON Feed 1.0/1.1 (https://jsonfeed.org), which feedparser 6.0 does not read."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return ParsedFeed(url, error=f"not a feed: invalid JSON: {_one_line(exc)}")
    if not isinstance(data, dict) or "jsonfeed.org" not in str(data.get("version", "")):
        return ParsedFeed(url, error="not a feed: JSON without a jsonfeed.org version")
    items = [i for i in data.get("items") or [] if isinstance(i, dict)]
    entries = [e for e in (_json_entry(i, url) for i in items) if e is not None]
    return ParsedFeed(url, entries, _clean(data.get("title")), "json1", skipped=len(items) - len(entries))


def _json_entry(item: dict[str, Any], base_url: str) -> FeedEntry | None:
    link = resolve_link(base_url, str(item.get("url") or item.get("external_url") or "").strip())
    if link is None:
        return None
    authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
    names = [str(a.get("name")).strip() for a in authors if isinstance(a, dict) and a.get("name")]
    when = parse_rfc3339(item.get("date_published") or item.get("date_modified"))
    return FeedEntry(link=link, title=_clean(item.get("title")), entry_id=_clean(item.get("id")),
                     published_at=when, authors=names, summary=_clean(item.get("summary")))


def parse_rfc3339(value: Any) -> datetime | None:
    """JSON Feed's RFC 3339 dates as aware UTC (a date without offset is taken as UTC)."""
    try:
        when = datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    if when is None:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def _no_feed_reason(parsed: Any) -> str:
    content_type = (parsed.get("headers") or {}).get("content-type", "")
    return f"no RSS, Atom or JSON feed found (Content-Type {content_type or 'unknown'})"


def parse_entry(entry: Any, base_url: str) -> FeedEntry | None:
    """One feedparser entry as a FeedEntry; None without an http(s) link."""
    link = (entry.get("link") or "").strip()
    if not link and _HTTP.match(entry.get("id") or ""):
        link = entry["id"].strip()
    link = resolve_link(base_url, link)
    if link is None:
        return None
    return FeedEntry(link=link, title=_clean(entry.get("title")), entry_id=_clean(entry.get("id")),
                     published_at=parse_entry_date(entry), authors=parse_authors(entry),
                     summary=_clean(entry.get("summary")))


def resolve_link(base_url: str, link: str) -> str | None:
    """`link` made absolute and safely encoded (spaces as %20, as browsers do); None unless it is
    an http(s) URL with a host."""
    try:
        absolute = safe_url_string(urljoin(base_url, link)) if link else ""
        usable = bool(_HTTP.match(absolute)) and bool(urlsplit(absolute).hostname)
    except ValueError:  # e.g. a broken IPv6 literal or port
        return None
    return absolute if usable else None


def parse_entry_date(entry: Any) -> datetime | None:
    """Published (else updated) time as an aware UTC datetime; feedparser gives UTC struct_time."""
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                return datetime.fromtimestamp(timegm(value), tz=timezone.utc)
            except (OverflowError, ValueError, OSError, TypeError):
                continue
    return None


def parse_authors(entry: Any) -> list[str]:
    names = [(a.get("name") or "").strip() for a in entry.get("authors") or [] if isinstance(a, dict)]
    names = [n for n in names if n]
    if not names and entry.get("author"):
        names = [str(entry["author"]).strip()]
    return list(dict.fromkeys(names))


def _clean(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _one_line(exc: Any) -> str:
    text = " ".join(str(exc).split()) if exc is not None else ""
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


class _Stop(Exception):
    """Raised from expat handlers to stop reading once the verdict is known."""

    def __init__(self, verdict: str | None) -> None:
        super().__init__(verdict)
        self.verdict = verdict


def find_entity_declaration(body: bytes) -> str | None:
    """Why the document type declares entities (billion laughs, XXE), or None if it does not.

    Only documents that contain `<!ENTITY` at all are inspected with expat, which stops at the
    first element: a DOCTYPE with entity declarations is refused, one without is fine (RSS 0.91
    feeds carry one), and `<!ENTITY` quoted inside the content is no declaration.
    """
    if not _ENTITY_DECL.search(body.replace(b"\x00", b"")):
        return None
    parser = expat.ParserCreate()
    parser.EntityDeclHandler = _on_entity
    parser.UnparsedEntityDeclHandler = _on_unparsed_entity
    parser.StartElementHandler = _on_first_element
    try:
        parser.Parse(body, True)
    except _Stop as stop:
        return stop.verdict
    except (expat.ExpatError, ValueError, LookupError):
        # cannot tell where <!ENTITY sits in a prolog expat cannot read: refuse, to be safe
        return "declares or may declare entities in a DOCTYPE it could not check"
    return None


def _on_entity(name: str, is_parameter: bool, *_: Any) -> None:
    kind = "parameter entity" if is_parameter else "entity"
    raise _Stop(f"DOCTYPE declares {kind} {name!r}")


def _on_unparsed_entity(name: str, *_: Any) -> None:
    raise _Stop(f"DOCTYPE declares unparsed entity {name!r}")


def _on_first_element(*_: Any) -> None:
    raise _Stop(None)
