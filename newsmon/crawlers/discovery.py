"""Finding what to fetch next in a page (pure functions, no network, no Scrapy).

- `looks_like_html` / `find_feed_links`: a feed source whose URL is a site's home page rather
  than a feed; the page names its feeds in `<link rel="alternate" type="application/rss+xml">`.
- `extract_links` / `LinkScope`: the site crawler's links, and which of them it may follow.

A source's `allow` and `deny` are Python regular expressions matched with `re.search` against the
absolute URL: a URL is in scope when it matches at least one `allow` pattern (any URL when there
are none) and no `deny` pattern. The site crawler also stays on the source's host (`www.` or not,
same port).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urldefrag, urljoin, urlsplit

import lxml.html
from lxml import etree
from w3lib.url import safe_url_string

from newsmon.config import Source
from newsmon.errors import ConfigError

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json")
# links to files that are never an article page (a subset of Scrapy's IGNORED_EXTENSIONS)
SKIPPED_EXTENSIONS = frozenset({
    "7z", "avi", "bmp", "css", "csv", "doc", "docx", "exe", "gif", "gz", "ico", "jpeg", "jpg", "js",
    "m4a", "mov", "mp3", "mp4", "ogg", "pdf", "png", "ppt", "pptx", "rar", "rss", "svg", "tar",
    "tif", "tiff", "wav", "webm", "webp", "xls", "xlsx", "xml", "zip",
})
_HTML_START = re.compile(rb"<(?:!doctype\s+html|html[\s>]|head[\s>]|body[\s>])", re.IGNORECASE)
_FEED_START = re.compile(rb"<(?:[\w.-]+:)?(?:rss|feed|rdf)[\s>]", re.IGNORECASE)


def looks_like_html(body: bytes) -> bool:
    """Is this body an HTML page (judged by content, not by the Content-Type it came with)?"""
    head = body[:2048]
    html, feed = _HTML_START.search(head), _FEED_START.search(head)
    return html is not None and (feed is None or html.start() < feed.start())


def find_feed_links(body: bytes, base_url: str) -> list[str]:
    """Absolute URLs of the feeds an HTML page advertises, in page order (RSS, Atom, JSON Feed)."""
    tree = _parse_html(body, base_url)
    if tree is None:
        return []
    found = []
    for link in tree.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        if "alternate" in rel and kind in FEED_TYPES and link.get("href"):
            found.append(_absolute(_base_of(tree, base_url), link.get("href") or ""))
    return list(dict.fromkeys(url for url in found if url))


def extract_links(body: bytes, base_url: str) -> list[str]:
    """Absolute http(s) URLs of the page's `<a href>` links (no fragments, no nofollow, no files)."""
    tree = _parse_html(body, base_url)
    if tree is None:
        return []
    base = _base_of(tree, base_url)
    urls = []
    for anchor in tree.iter("a"):
        if "nofollow" in (anchor.get("rel") or "").lower().split():
            continue
        url = _absolute(base, anchor.get("href") or "")
        if url and not _is_file(url):
            urls.append(url)
    return list(dict.fromkeys(urls))


def _parse_html(body: bytes, base_url: str) -> lxml.html.HtmlElement | None:
    if not body.strip():
        return None
    try:
        return lxml.html.document_fromstring(body, base_url=base_url)
    except (etree.ParserError, ValueError):
        return None


def _base_of(tree: lxml.html.HtmlElement, page_url: str) -> str:
    """The page's `<base href>` if it has one (resolved against the page URL)."""
    for base in tree.iter("base"):
        if base.get("href"):
            return urljoin(page_url, base.get("href", "").strip())
    return page_url


def _absolute(base: str, href: str) -> str | None:
    href = href.strip()
    if not href or href.lower().startswith(("javascript:", "mailto:", "tel:", "data:")):
        return None
    try:
        url = safe_url_string(urldefrag(urljoin(base, href))[0])
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # a broken IPv6 literal or port
        return None
    return url if usable else None


def _is_file(url: str) -> bool:
    path = urlsplit(url).path
    return "." in path.rsplit("/", 1)[-1] and path.rsplit(".", 1)[-1].lower() in SKIPPED_EXTENSIONS


@dataclass(slots=True)
class LinkScope:
    """Which URLs a source may follow: its allow/deny patterns and, for site crawls, its host."""

    allow: tuple[re.Pattern[str], ...] = ()
    deny: tuple[re.Pattern[str], ...] = ()
    site: tuple[str, int | None] | None = None  # (host without www., port) when held to one site

    @classmethod
    def for_source(cls, source: Source, same_site: bool = False) -> LinkScope:
        """The source's scope; ConfigError naming the source if a pattern is no valid regex."""
        allow = compile_patterns(source.allow, f"source {source.name!r}: allow")
        deny = compile_patterns(source.deny, f"source {source.name!r}: deny")
        return cls(allow, deny, site_of(source.url) if same_site else None)

    def on_site(self, url: str) -> bool:
        """Is `url` on the source's site (always true when the scope is not held to one site)?"""
        return self.site is None or site_of(url) == self.site

    def allows(self, url: str) -> bool:
        if not self.on_site(url):
            return False
        if self.allow and not any(p.search(url) for p in self.allow):
            return False
        return not any(p.search(url) for p in self.deny)


def compile_patterns(patterns: list[str], where: str) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise ConfigError(f"{where}: invalid regular expression {pattern!r}: {exc}") from None
    return tuple(compiled)


def site_of(url: str) -> tuple[str, int | None] | None:
    """(host without a leading 'www.', explicit port) identifying one site; None if unreadable."""
    try:
        parts = urlsplit(url)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return None
    if port == {"http": 80, "https": 443}.get(parts.scheme.lower()):
        port = None
    return host.removeprefix("www."), port
