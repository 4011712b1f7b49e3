"""Test helpers for crawl tests: config files, small fixture sites and a route server.

Everything listens on 127.0.0.1 only. Sites are directories served by newsmon's own
`serve_directory`; `serve_routes` covers what a directory cannot (bodies streamed without a
Content-Length, redirects, chosen status codes).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

import newsmon.demo

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_SITE = Path(newsmon.demo.__file__).parent / "site"
FEED_CORPORA = REPO_ROOT.parent / "shared" / "corpora" / "feeds"
DEMO_TITLES = sorted([
    "Putin Orders Twitter to Open Russian Office",
    "EU Fines Google €500 Million Over Advertising Practices",
    "Record Crowds Cheer Runners at the Riverside City Marathon",
    "Acme Health Breach Exposes 1.2 Million Patient Records",
    "Telegram Patches Vulnerability in New Software Update",
])


# -- configuration ------------------------------------------------------------------------------
def feed_source(name: str, url: str, **extra: Any) -> dict[str, Any]:
    """A feed source as tests need it: loopback allowed, no politeness delay."""
    return {"name": name, "kind": "feed", "url": url, "allow_private": True, "delay": 0,
            "concurrency_per_domain": 8, **extra}


def write_config(tmp_path: Path, sources: list[dict[str, Any]], database: str | None = None,
                 **crawl: Any) -> Path:
    """newsmon.yaml in tmp_path with an SQLite database there; `crawl` keys override defaults."""
    config = {"database": database or f"sqlite:///{tmp_path / 'newsmon.db'}",
              "crawl": {"delay": 0, "concurrency_per_domain": 8, "timeout": 10, "retries": 0, **crawl},
              "sources": sources}
    path = tmp_path / "newsmon.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


# -- fixture pages ------------------------------------------------------------------------------
def stored_titles(db_url: str) -> list[str]:
    """Sorted titles of the articles a crawl stored (status fetched)."""
    from newsmon.records import ArticleStatus
    from newsmon.storage.repository import open_repository

    repo = open_repository(db_url)
    try:
        return sorted(a.title or "" for a in repo.articles_by_status(ArticleStatus.FETCHED))
    finally:
        repo.close()


def article_html(title: str) -> str:
    """A plain news article with enough distinct text for extraction to accept it."""
    words = title.split()
    paragraphs = [f"{title}: reporters describe the {w.lower()} angle of the story in paragraph {i}. "
                  f"Officials said on Tuesday that the matter of {' '.join(words[:i + 1])} is under "
                  f"review, and residents were told to expect further updates in the coming weeks."
                  for i, w in enumerate(words)]
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"</head><body><article><h1>{escape(title)}</h1>{body}</article></body></html>")


def rss(items: list[tuple[str, str]], title: str = "Test feed") -> str:
    """An RSS 2.0 feed with (title, link) items."""
    entries = "".join(f"<item><title>{escape(t)}</title><link>{escape(link)}</link>"
                      f"<guid isPermaLink='true'>{escape(link)}</guid>"
                      f"<pubDate>Thu, 01 Jul 2021 12:00:00 +0000</pubDate></item>" for t, link in items)
    return (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>{escape(title)}"
            f"</title><link>{{{{BASE_URL}}}}/</link><description>tests</description>{entries}"
            f"</channel></rss>")


def make_site(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write `files` (path -> text or bytes) under root; text may use {{BASE_URL}}."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE rss [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<rss version="2.0"><channel><title>&lol3;</title><link>{{BASE_URL}}/</link><description>x</description>
<item><title>&lol3;</title><link>{{BASE_URL}}/articles/good.html</link></item></channel></rss>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE rss [ <!ENTITY secret SYSTEM "file:///etc/passwd"> ]>
<rss version="2.0"><channel><title>x</title><link>{{BASE_URL}}/</link><description>x</description>
<item><title>&secret;</title><link>{{BASE_URL}}/articles/good.html</link></item></channel></rss>
"""


# -- a server with programmable routes ------------------------------------------------------------
@dataclass(slots=True)
class Route:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunks: int = 1  # >1: stream the body in pieces without Content-Length (closed connection ends it)


@dataclass
class RouteServer:
    base_url: str
    requests: list[tuple[str, str, int]]

    def count(self, path: str) -> int:
        return sum(1 for _, p, _ in list(self.requests) if p == path)


@contextmanager
def serve_routes(routes: dict[str, Route | Callable[[str], Route]]) -> Iterator[RouteServer]:
    """Serve fixed routes on 127.0.0.1 (a callable route gets the server's base URL)."""
    log: list[tuple[str, str, int]] = []
    handler = type("RouteHandler", (_RouteHandler,), {"routes": routes, "log": log})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    handler.base_url = base_url  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield RouteServer(base_url, log)
    finally:
        server.shutdown()
        server.server_close()


class _RouteHandler(BaseHTTPRequestHandler):
    routes: dict[str, Route | Callable[[str], Route]]
    log: list[tuple[str, str, int]]
    base_url: str

    def do_GET(self) -> None:  # noqa: N802
        found = self.routes.get(self.path.split("?", 1)[0])
        route = found(self.base_url) if callable(found) else found
        route = route or Route(404, {"Content-Type": "text/plain"}, b"not found")
        self.log.append(("GET", self.path, route.status))
        self.send_response(route.status)
        for name, value in route.headers.items():
            self.send_header(name, value)
        if route.chunks <= 1:
            self.send_header("Content-Length", str(len(route.body)))
        self.end_headers()
        self._write(route)

    def _write(self, route: Route) -> None:
        size = max(1, len(route.body) // max(1, route.chunks))
        try:
            for start in range(0, len(route.body), size):
                self.wfile.write(route.body[start:start + size])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up (e.g. a size cap): that is the point of some tests

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


# -- sitemaps and site crawls (appended for tests/test_crawl_sitemaps.py and test_crawl_site.py) ----
def source_of(kind: str, name: str, url: str, **extra: Any) -> dict[str, Any]:
    """A sitemap or site source as tests need it: loopback allowed, no politeness delay."""
    return {**feed_source(name, url), "kind": kind, **extra}


def sitemap_index(sitemaps: list[tuple[str, str | None]]) -> str:
    """A sitemap index of (loc, lastmod or None)."""
    entries = "".join(f"<sitemap><loc>{escape(loc)}</loc>{_lastmod(lastmod)}</sitemap>" for loc, lastmod in sitemaps)
    return ("<?xml version='1.0' encoding='UTF-8'?>"
            f"<sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{entries}</sitemapindex>")


def urlset(urls: list[tuple[str, str | None]]) -> str:
    """A plain sitemap of (loc, lastmod or None)."""
    entries = "".join(f"<url><loc>{escape(loc)}</loc>{_lastmod(lastmod)}</url>" for loc, lastmod in urls)
    return ("<?xml version='1.0' encoding='UTF-8'?>"
            f"<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{entries}</urlset>")


def news_sitemap(urls: list[tuple[str, str, str]]) -> str:
    """A Google News sitemap of (loc, news:title, news:publication_date), with image titles as bait."""
    entries = "".join(
        f"<url><loc>{escape(loc)}</loc><image:image><image:loc>{escape(loc)}.jpg</image:loc>"
        f"<image:title>Photo</image:title></image:image><news:news><news:publication>"
        f"<news:name>Test News</news:name><news:language>en</news:language></news:publication>"
        f"<news:publication_date>{when}</news:publication_date><news:title>{escape(title)}</news:title>"
        f"</news:news></url>" for loc, title, when in urls)
    return ("<?xml version='1.0' encoding='UTF-8'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9' "
            "xmlns:news='http://www.google.com/schemas/sitemap-news/0.9' "
            f"xmlns:image='http://www.google.com/schemas/sitemap-image/1.1'>{entries}</urlset>")


def _lastmod(value: str | None) -> str:
    return f"<lastmod>{value}</lastmod>" if value else ""


def listing_html(title: str, links: list[tuple[str, str]], teaser: bool = True) -> str:
    """A home, section or tag page: a list of (text, href) links, each with a one-paragraph teaser."""
    items = "".join(f"<li><h2><a href='{escape(href)}'>{escape(text)}</a></h2>"
                    + (f"<p>{escape(text)}: a short teaser that tells readers what the story is about, "
                       f"written to be long enough to look like prose on its own.</p>" if teaser else "")
                    + "</li>" for text, href in links)
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<meta property='og:type' content='website'></head><body><nav><a href='/'>Home</a></nav>"
            f"<main><h1>{escape(title)}</h1><ul>{items}</ul></main></body></html>")
