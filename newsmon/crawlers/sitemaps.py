"""Reading a sitemap: bytes in, `ParsedSitemap` out (pure functions, no network, no Scrapy).

Handles sitemap indexes, plain `<urlset>` sitemaps, Google News sitemaps (`news:title`,
`news:publication_date`), text sitemaps (one URL a line) and gzip'd files of each, whatever the
server says they are. The XML is untrusted: a document declaring entities is refused (the same
check as feeds), and lxml runs with resolve_entities=False, no_network=True, huge_tree=False.
Decompression stops at the size cap, so a small gzip bomb cannot fill the memory.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from lxml import etree

from newsmon.crawlers.feeds import find_entity_declaration, parse_rfc3339, resolve_link
from newsmon.records import FeedEntry

GZIP_MAGIC = b"\x1f\x8b"
NEWS_NAMESPACE = "sitemap-news"  # http://www.google.com/schemas/sitemap-news/0.9 (any version)
MAX_LINKS = 50_000  # the protocol's limit per file; more is a broken or hostile sitemap
# An absolute URL that needs no resolving or re-encoding (nearly every <loc>: the protocol asks
# for full, escaped URLs); checking this first makes a 50,000-URL sitemap ten times faster.
_PLAIN_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(?::\d{1,5})?(?:/[A-Za-z0-9\-._~%!$&'()*+,;=:@/?]*)?$")


class SitemapTooLarge(ValueError):
    """The decompressed sitemap exceeds the size cap."""


@dataclass(slots=True)
class SitemapLink:
    """One `<url>` (a page) or `<sitemap>` (a child sitemap) entry."""

    url: str
    lastmod: datetime | None = None
    title: str | None = None  # news:title
    published_at: datetime | None = None  # news:publication_date
    language: str | None = None  # news:language

    @property
    def changed_at(self) -> datetime | None:
        """The latest date the sitemap gives for this URL (None if it gives none)."""
        dates = [d for d in (self.lastmod, self.published_at) if d is not None]
        return max(dates) if dates else None

    def to_entry(self) -> FeedEntry:
        """What the sitemap says about the page: extraction's fallback for title and date."""
        return FeedEntry(link=self.url, title=self.title, published_at=self.published_at)


@dataclass(slots=True)
class ParsedSitemap:
    """What a sitemap holds; `error` (one line) is set when the body is refused or unreadable."""

    url: str
    kind: str = ""  # "sitemapindex", "urlset" or "text"
    links: list[SitemapLink] = field(default_factory=list)
    skipped: int = 0  # entries without a usable http(s) <loc>
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def is_index(self) -> bool:
        return self.kind == "sitemapindex"


def parse_sitemap(body: bytes, url: str, max_bytes: int) -> ParsedSitemap:
    """Parse a downloaded sitemap (gzip'd or not); never raises for bad input."""
    try:
        body = gunzip_capped(body, max_bytes) if body[:2] == GZIP_MAGIC else body
    except SitemapTooLarge:
        return ParsedSitemap(url, error=f"sitemap larger than the {max_bytes}-byte limit (crawl.max_bytes) once unzipped")
    except (zlib.error, EOFError) as exc:
        return ParsedSitemap(url, error=f"broken gzip data: {exc}")
    text = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text:
        return ParsedSitemap(url, error="empty sitemap")
    if not text.startswith(b"<"):
        return parse_text_sitemap(text, url)
    refusal = find_entity_declaration(body)
    if refusal:
        return ParsedSitemap(url, error=f"refused: the XML {refusal} (entity expansion / external entity risk)")
    return parse_xml_sitemap(body, url)


def gunzip_capped(body: bytes, max_bytes: int) -> bytes:
    """Decompress gzip data, raising SitemapTooLarge past `max_bytes` of output."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    data = inflater.decompress(body, max_bytes + 1)
    if len(data) > max_bytes:
        raise SitemapTooLarge(max_bytes)
    if not inflater.eof:
        raise EOFError("compressed data ended early")
    return data


def parse_xml_sitemap(body: bytes, url: str) -> ParsedSitemap:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=True,
                             remove_comments=True, remove_pis=True, load_dtd=False)
    try:
        root = etree.fromstring(body, parser=parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        return ParsedSitemap(url, error=f"not a sitemap: {' '.join(str(exc).split())[:200]}")
    kind = _local(root) if root is not None else ""
    if kind not in ("sitemapindex", "urlset"):
        return ParsedSitemap(url, error=f"not a sitemap: root element is <{kind or 'none'}>, not <urlset> or <sitemapindex>")
    child = "sitemap" if kind == "sitemapindex" else "url"
    entries = [e for e in root if _local(e) == child][:MAX_LINKS]
    links = [link for link in (parse_entry(e, url) for e in entries) if link is not None]
    return ParsedSitemap(url, kind, links, skipped=len(entries) - len(links))


def parse_entry(element: Any, base_url: str) -> SitemapLink | None:
    """One <url> or <sitemap> element; None without an http(s) <loc>."""
    values: dict[str, str] = {}
    for node in element.iter():
        name = _local(node)
        if name in ("title", "publication_date", "language") and NEWS_NAMESPACE not in _namespace(node):
            continue  # image:title, video:title... are not the article's
        if name in ("loc", "lastmod", "title", "publication_date", "language") and name not in values:
            values[name] = " ".join((node.text or "").split())
    loc = values.get("loc", "")
    link = loc if _PLAIN_URL.match(loc) else resolve_link(base_url, loc)
    if link is None:
        return None
    return SitemapLink(link, parse_w3c_date(values.get("lastmod")), values.get("title") or None,
                       parse_w3c_date(values.get("publication_date")), values.get("language") or None)


def parse_text_sitemap(body: bytes, url: str) -> ParsedSitemap:
    """A text sitemap: one absolute URL a line (UTF-8)."""
    lines = [line.strip() for line in body.decode("utf-8", "replace").splitlines() if line.strip()]
    absolute = [line for line in lines[:MAX_LINKS] if line.lower().startswith(("http://", "https://"))]
    links = [SitemapLink(link) for link in (resolve_link(url, line) for line in absolute) if link is not None]
    if not links:
        return ParsedSitemap(url, error="not a sitemap: neither XML nor a list of URLs")
    return ParsedSitemap(url, "text", links, skipped=len(lines[:MAX_LINKS]) - len(links))


def parse_w3c_date(value: str | None) -> datetime | None:
    """W3C datetime (2021-07-01, 2021-07-01T12:00Z, ...) as aware UTC; None if unreadable."""
    return parse_rfc3339(value) if value else None


def select_links(links: list[SitemapLink], since: datetime | None) -> tuple[list[SitemapLink], int]:
    """(links changed at or after `since`, newest first and undated last; how many were older)."""
    fresh = [link for link in links if since is None or link.changed_at is None or link.changed_at >= since]
    oldest = datetime.min.replace(tzinfo=timezone.utc)
    fresh.sort(key=lambda link: (link.changed_at is not None, link.changed_at or oldest), reverse=True)
    return fresh, len(links) - len(fresh)


def cutoff(last_success_at: datetime | None, margin: timedelta) -> datetime | None:
    """Only URLs changed since the last successful poll (less a margin for late sitemaps) are new."""
    return None if last_success_at is None else last_success_at - margin


def _local(node: Any) -> str:
    return node.tag.rpartition("}")[2] if isinstance(node.tag, str) else ""


def _namespace(node: Any) -> str:
    return node.tag.partition("}")[0] if isinstance(node.tag, str) and node.tag.startswith("{") else ""
