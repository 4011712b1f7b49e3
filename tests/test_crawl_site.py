"""Real site crawls (kind: site), and one run over every kind of source (no internet)."""

from __future__ import annotations

from pathlib import Path

from newsmon.crawlers import crawl
from newsmon.demo.server import serve_directory
from tests.sites import (DEMO_SITE, DEMO_TITLES, article_html, feed_source, listing_html, make_site, source_of,
                         stored_titles, urlset, write_config)

STORED = {"home-story": "Harbour Authority Opens New Ferry Terminal",
          "news-1": "City Council Approves Budget for Libraries",
          "news-2": "Regional Rail Line Reopens After Repairs",
          "sport-1": "Riverside Rowing Club Wins National Title"}
NOT_FETCHED = {"private/secret": "Leaked Memo Describes Office Move",  # denied
               "articles/deep": "Deep Story Found Three Clicks Away",  # depth 3
               "articles/deeper": "Deeper Story Linked From An Article"}  # depth 3


def site_files() -> dict[str, str | bytes]:
    """Home (depth 0) -> sections, a tag page, about, one article (1) -> articles, a tag page (2) -> (3)."""
    files: dict[str, str | bytes] = {f"articles/{k}.html": article_html(t) for k, t in STORED.items()}
    files.update({f"{k}.html": article_html(t) for k, t in NOT_FETCHED.items()})
    files["articles/news-1.html"] = article_html(STORED["news-1"]).replace(
        "</article>", "<p><a href='/articles/deeper.html'>Read more</a></p></article>")
    files.update({
        "index.html": listing_html("Home", [("News", "/news/"), ("Sport", "sport/index.html"), ("Ports", "/tag/ports.html"),
                                            ("About us", "/about.html"), ("Ferry", "/articles/home-story.html"),
                                            ("Memo", "/private/secret.html"),
                                            ("Elsewhere", "http://localhost:9/articles/x.html"),
                                            ("Logo", "/static/logo.png")]),
        "news/index.html": listing_html("News", [("Libraries", "/articles/news-1.html"), ("Rail", "../articles/news-2.html")]),
        "sport/index.html": listing_html("Sport", [("Rowing", "/articles/sport-1.html"),
                                                   ("Rowing again", "/articles/sport-1.html?utm_source=home#top")]),
        "tag/ports.html": listing_html("Tag: ports", [("Ferry", "/articles/home-story.html"), ("Page 2", "/tag/page2.html")]),
        "tag/page2.html": listing_html("Tag: ports, page 2", [("Deep", "/articles/deep.html")]),
        "about.html": "<html><head><title>About</title></head><body><p>We are a small paper.</p></body></html>",
    })
    return files


def fetched(requests: list[tuple[str, str, int]]) -> list[str]:
    return sorted(path for _, path, _ in requests if path != "/robots.txt")


def test_site_crawl_stores_only_articles_within_depth_and_patterns(tmp_path: Path) -> None:
    root = make_site(tmp_path / "site", site_files())
    with serve_directory(root) as server:
        source = source_of("site", "paper", f"{server.base_url}/index.html", deny=[r"/private/"], max_depth=2)
        config = write_config(tmp_path, [source])
        first = crawl(str(config), None).sources[0]
        assert (first.ok, first.kind, first.feed_status, first.pages, first.new_links, first.stored,
                first.page_cap_reached) == (True, "site", 200, 11, 4, 4, False), first
        assert fetched(server.requests) == [
            "/", "/about.html", "/articles/home-story.html", "/articles/news-1.html", "/articles/news-2.html",
            "/articles/sport-1.html", "/index.html", "/news/", "/sport/index.html", "/tag/page2.html", "/tag/ports.html"]

        make_site(root, {"news/index.html": listing_html("News", [("Libraries", "/articles/news-1.html"),
                                                                  ("Rail", "/articles/news-2.html"),
                                                                  ("Pay", "/articles/news-3.html")]),
                         "articles/news-3.html": article_html("Port Workers Agree New Pay Deal After Talks")})
        server.requests.clear()
        second = crawl(str(config), None).sources[0]
    assert (second.ok, second.stored, second.new_links) == (True, 1, 1), second
    assert [p for p in fetched(server.requests) if p.startswith("/articles/")] == ["/articles/news-3.html"]
    assert stored_titles(f"sqlite:///{tmp_path / 'newsmon.db'}") == sorted(
        [*STORED.values(), "Port Workers Agree New Pay Deal After Talks"])


def test_site_crawl_stops_at_the_page_cap_and_depth_zero(tmp_path: Path) -> None:
    root = make_site(tmp_path / "site", site_files())
    with serve_directory(root) as server:
        capped = source_of("site", "capped", f"{server.base_url}/index.html", max_pages=3)
        home_only = source_of("site", "home-only", f"{server.base_url}/index.html", max_depth=0)
        report = crawl(str(write_config(tmp_path, [capped, home_only])), None)
    by_name = {s.name: s for s in report.sources}
    assert (by_name["capped"].pages, by_name["capped"].page_cap_reached) == (3, True)
    assert (by_name["home-only"].pages, by_name["home-only"].stored, by_name["home-only"].entries) == (1, 0, 0)


def test_one_run_crawls_every_kind_of_source(tmp_path: Path) -> None:
    """A feed, a sitemap and a site source in one child process, each with its own report."""
    root = make_site(tmp_path / "site", site_files())
    with serve_directory(DEMO_SITE) as demo, serve_directory(root) as paper:
        make_site(root, {"sitemap.xml": urlset([(f"{paper.base_url}/articles/news-2.html", None)])})
        config = write_config(tmp_path, [
            feed_source("demo", f"{demo.base_url}/feed.xml"),
            source_of("sitemap", "paper-map", f"{paper.base_url}/sitemap.xml"),
            source_of("site", "paper-site", f"{paper.base_url}/news/", max_depth=1)])
        report = crawl(str(config), None)
    summary = {s.name: (s.kind, s.ok, s.stored + s.duplicates) for s in report.sources}
    assert summary == {"demo": ("feed", True, 5), "paper-map": ("sitemap", True, 1), "paper-site": ("site", True, 2)}
    assert report.ok and report.stored == 7, report  # news-2 is found by both paper sources
    assert stored_titles(f"sqlite:///{tmp_path / 'newsmon.db'}") == sorted(
        [*DEMO_TITLES, STORED["news-1"], STORED["news-2"]])
