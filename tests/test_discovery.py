"""Pure functions of the crawlers (article check, links, feed links, sitemaps) and feed discovery."""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from newsmon.config import Source
from newsmon.crawlers import crawl
from newsmon.crawlers.articles import looks_like_article
from newsmon.crawlers.discovery import LinkScope, extract_links, find_feed_links, looks_like_html
from newsmon.crawlers.sitemaps import ParsedSitemap, SitemapLink, parse_sitemap, select_links
from newsmon.demo.server import serve_directory
from newsmon.errors import ConfigError
from newsmon.records import ArticleStatus
from newsmon.storage.repository import open_repository
from tests.sites import (BILLION_LAUGHS, DEMO_SITE, DEMO_TITLES, article_html, feed_source, listing_html,
                         news_sitemap, sitemap_index, urlset, write_config)

UTC = timezone.utc
LD = "<script type='application/ld+json'>{}</script>"


@pytest.mark.parametrize(("html", "expected"), [
    (article_html("Harbour Authority Opens New Ferry Terminal"), (True, "text: 6 paragraphs")),
    (LD.format('{"@context": "https://schema.org", "@type": "ReportageNewsArticle"}'), (True, "JSON-LD ReportageNewsArticle")),
    (LD.format('{"@graph": [{"@type": "WebPage"}, {"@type": ["schema:BlogPosting"]}]}'), (True, "JSON-LD BlogPosting")),
    (LD.format('{"@type": "CollectionPage"}') + "<meta property='og:type' content='article'>", (False, "JSON-LD CollectionPage")),
    ("<html><head><meta property='og:type' content='article'></head><body><p>x</p></body></html>", (True, "og:type article")),
    (listing_html("Tag: ports", [(f"Story {i} about the harbour and the ferries", f"/a{i}.html") for i in range(20)]),
     (False, "no article markup")),
    ((DEMO_SITE / "index.html").read_text(), (False, "no article markup")),
    ("", (False, "not HTML")),
], ids=["prose", "json-ld", "json-ld-graph", "listing-json-ld", "og-type", "tag-page", "demo-home", "empty"])
def test_looks_like_article(html: str, expected: tuple[bool, str]) -> None:
    verdict, reason = looks_like_article(html, "https://news.example/x")
    assert (verdict, reason.startswith(expected[1])) == (expected[0], True), reason


def test_demo_articles_look_like_articles() -> None:
    verdicts = [looks_like_article(p.read_bytes(), p.name)[0] for p in (DEMO_SITE / "articles").glob("*.html")]
    assert verdicts == [True] * 5


@pytest.mark.parametrize(("body", "expected"), [
    (b"\xef\xbb\xbf  <!DOCTYPE html><html><body></body></html>", True),
    (b"<?xml version='1.0'?><!DOCTYPE html PUBLIC '-//W3C//DTD XHTML 1.0//EN'><html>", True),
    (b"<html lang='en'><head>", True),
    ((DEMO_SITE / "feed.xml").read_bytes(), False),
    (b"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><content type='html'><![CDATA[<html>]]>", False),
    (b'{"version": "https://jsonfeed.org/version/1.1"}', False),
])
def test_looks_like_html(body: bytes, expected: bool) -> None:
    assert looks_like_html(body) is expected


def test_find_feed_links() -> None:
    page = (b"<html><head><base href='/sub/'><link rel='stylesheet' href='a.css'>"
            b"<link rel='alternate' type='application/atom+xml' href='atom.xml'>"
            b"<link rel='Alternate' type='application/rss+xml; charset=utf-8' href='https://feeds.example/rss'>"
            b"<link rel='alternate' type='application/feed+json' href='feed.json'>"
            b"<link rel='alternate' hreflang='fr' href='/fr/'></head></html>")
    assert find_feed_links(page, "https://news.example/index.html") == [
        "https://news.example/sub/atom.xml", "https://feeds.example/rss", "https://news.example/sub/feed.json"]
    assert find_feed_links(b"", "https://news.example/") == []


def test_extract_links() -> None:
    page = (b"<a href='/a.html#top'>a</a><a href='/a.html'>again</a><a href='b c.html'>b</a>"
            b"<a href='mailto:x@y'>m</a><a href='javascript:void(0)'>j</a><a href='/p.pdf'>pdf</a>"
            b"<a rel='nofollow' href='/login'>login</a><a href='ftp://x/y'>ftp</a><a href='//other.example/z'>z</a>")
    assert extract_links(page, "https://news.example/dir/") == [
        "https://news.example/a.html", "https://news.example/dir/b%20c.html", "https://other.example/z"]


@pytest.mark.parametrize(("url", "allowed"), [
    ("https://news.example/2021/07/story.html", True),
    ("https://www.news.example/2021/07/story.html", True),  # www. or not: one site
    ("https://news.example:8443/2021/07/story.html", False),  # another port
    ("https://other.example/2021/07/story.html", False),
    ("https://news.example/about.html", False),  # no allow pattern matches
    ("https://news.example/2021/07/tag/ports.html", False),  # denied
])
def test_link_scope(url: str, allowed: bool) -> None:
    source = Source(name="s", kind="site", url="https://news.example/", allow=[r"/\d{4}/\d\d/"], deny=["/tag/"])
    assert LinkScope.for_source(source, same_site=True).allows(url) is allowed


def test_invalid_pattern_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"source 's': deny: invalid regular expression '\(\?P<'"):
        LinkScope.for_source(Source(name="s", url="https://news.example/", deny=["(?P<"]))


# -- sitemaps -----------------------------------------------------------------------------------------
URL = "https://news.example/sitemap.xml"


@pytest.mark.parametrize(("body", "expected"), [
    (sitemap_index([("/s1.xml", "2021-07-01"), ("https://news.example/s2.xml.gz", None), ("ftp://x/y", None)]).encode(),
     ParsedSitemap(URL, "sitemapindex", [SitemapLink("https://news.example/s1.xml", datetime(2021, 7, 1, tzinfo=UTC)),
                                         SitemapLink("https://news.example/s2.xml.gz")], skipped=1)),
    (gzip.compress(urlset([("https://news.example/a", "2021-07-01T12:00Z")]).encode()),
     ParsedSitemap(URL, "urlset", [SitemapLink("https://news.example/a", datetime(2021, 7, 1, 12, tzinfo=UTC))])),
    (news_sitemap([("https://news.example/n", "Title & more", "2021-07-01T09:30:00+02:00")]).encode(),
     ParsedSitemap(URL, "urlset", [SitemapLink("https://news.example/n", None, "Title & more",
                                               datetime(2021, 7, 1, 7, 30, tzinfo=UTC), "en")])),
    (b"https://news.example/t1\n\nhttps://news.example/t2\nnot a url\n",
     ParsedSitemap(URL, "text", [SitemapLink("https://news.example/t1"), SitemapLink("https://news.example/t2")], skipped=1)),
    (BILLION_LAUGHS.replace("rss", "urlset").encode(),
     ParsedSitemap(URL, error="refused: the XML DOCTYPE declares entity 'lol' (entity expansion / external entity risk)")),
    (b"<rss version='2.0'><channel></channel></rss>",
     ParsedSitemap(URL, error="not a sitemap: root element is <rss>, not <urlset> or <sitemapindex>")),
    (b"  ", ParsedSitemap(URL, error="empty sitemap")),
    (gzip.compress(b"x" * 2000), ParsedSitemap(URL, error="sitemap larger than the 1000-byte limit (crawl.max_bytes) once unzipped")),
    (gzip.compress(b"<urlset/>")[:12], ParsedSitemap(URL, error="broken gzip data: compressed data ended early")),
], ids=["index", "gzip", "news", "text", "entities", "rss", "empty", "gzip-bomb", "gzip-cut"])
def test_parse_sitemap(body: bytes, expected: ParsedSitemap) -> None:
    assert parse_sitemap(body, URL, max_bytes=1000) == expected


def test_select_links_keeps_recent_and_undated_newest_first() -> None:
    day = datetime(2021, 7, 1, tzinfo=UTC)
    links = [SitemapLink("old", day - timedelta(days=2)), SitemapLink("undated"), SitemapLink("new", day),
             SitemapLink("newer", None, published_at=day + timedelta(hours=1))]
    fresh, old = select_links(links, since=day - timedelta(hours=1))
    assert ([link.url for link in fresh], old) == (["newer", "new", "undated"], 1)
    assert [link.url for link in select_links(links, None)[0]] == ["newer", "new", "old", "undated"]


# -- feed discovery, a real crawl ---------------------------------------------------------------------
def test_feed_source_pointing_at_a_home_page_finds_its_feed(tmp_path: Path) -> None:
    with serve_directory(DEMO_SITE) as site:
        config = write_config(tmp_path, [feed_source("demo", f"{site.base_url}/index.html")])
        first = crawl(str(config), None).sources[0]
        second = crawl(str(config), None).sources[0]
    assert (first.ok, first.discovered_feed, first.entries, first.stored) == (True, f"{site.base_url}/feed.xml", 5, 5)
    assert (second.ok, second.feed_status, second.new_links, second.stored) == (True, 200, 0, 0)
    # the feed's validators are not sent to the home page, nor kept for it
    assert [(p, s) for _, p, s in site.requests if p in ("/index.html", "/feed.xml")] == [
        ("/index.html", 200), ("/feed.xml", 200)] * 2
    repo = open_repository(f"sqlite:///{tmp_path / 'newsmon.db'}")
    assert (repo.get_source_state("demo").etag, len(repo.known_urls([]))) == ("", 0)
    assert sorted(a.title or "" for a in repo.articles_by_status(ArticleStatus.FETCHED)) == DEMO_TITLES
    repo.close()
