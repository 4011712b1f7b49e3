"""Real sitemap crawls: the runner's child process, Scrapy, and a loopback server (no internet)."""

from __future__ import annotations

import gzip
import logging
from datetime import datetime, timezone
from pathlib import Path

import pytest

from newsmon.crawlers import SourceReport, crawl
from newsmon.demo.server import serve_directory
from newsmon.records import ArticleStatus
from newsmon.storage.repository import open_repository
from tests.sites import (BILLION_LAUGHS, article_html, make_site, news_sitemap, sitemap_index, source_of, urlset,
                         write_config)

TITLES = {"a1": "Harbour Authority Opens New Ferry Terminal", "a2": "City Council Approves Budget for Libraries",
          "b1": "Regional Rail Line Reopens After Repairs", "b2": "Museum Returns Loaned Paintings to Lisbon",
          "new": "Port Workers Agree New Pay Deal After Talks"}
OLD = "2021-06-30T08:00:00+00:00"


def only(report: object) -> SourceReport:
    sources = report.sources  # type: ignore[attr-defined]
    assert len(sources) == 1, report
    return sources[0]


def stored(db: str) -> dict[str, tuple[str | None, datetime | None, str | None]]:
    """title -> (url path, published_at, date source) of every stored article."""
    repo = open_repository(db)
    try:
        return {a.title or "": (a.url.split("/", 3)[-1], a.published_at, a.date_source)
                for a in repo.articles_by_status(ArticleStatus.FETCHED)}
    finally:
        repo.close()


def articles(*keys: str) -> dict[str, str]:
    return {f"articles/{key}.html": article_html(TITLES[key]) for key in keys}


def write_gzip(path: Path, text: str) -> None:
    path.write_bytes(gzip.compress(text.encode("utf-8")))


def test_index_plain_and_gzip_sitemaps_then_only_what_is_new(tmp_path: Path) -> None:
    root = make_site(tmp_path / "site", articles("a1", "a2", "b1", "b2", "new"))
    with serve_directory(root) as server:
        base = server.base_url
        make_site(root, {"sitemap.xml": sitemap_index([(f"{base}/sitemap-a.xml", OLD), (f"{base}/sitemap-b.xml.gz", OLD)]),
                         "sitemap-a.xml": urlset([(f"{base}/articles/a1.html", OLD), (f"{base}/articles/a2.html", None)])})
        write_gzip(root / "sitemap-b.xml.gz", urlset([(f"{base}/articles/b1.html", OLD), (f"{base}/articles/b2.html", OLD)]))
        config = write_config(tmp_path, [source_of("sitemap", "maps", f"{base}/sitemap.xml")])
        first = only(crawl(str(config), None))
        assert (first.ok, first.kind, first.feed_status, first.sitemaps, first.entries, first.new_links,
                first.stored, first.old_links) == (True, "sitemap", 200, 3, 4, 4, 4, 0), first

        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        make_site(root, {"sitemap.xml": sitemap_index([(f"{base}/sitemap-a.xml", OLD), (f"{base}/sitemap-b.xml.gz", now)])})
        write_gzip(root / "sitemap-b.xml.gz", urlset([(f"{base}/articles/b1.html", OLD), (f"{base}/articles/b2.html", OLD),
                                                      (f"{base}/articles/new.html", now)]))
        server.requests.clear()
        second = only(crawl(str(config), None))
    assert (second.ok, second.sitemaps, second.entries, second.old_links, second.new_links, second.stored) == (
        True, 2, 3, 2, 1, 1), second
    fetched = sorted(path for method, path, _ in server.requests if path != "/robots.txt")
    assert fetched == ["/articles/new.html", "/sitemap-b.xml.gz", "/sitemap.xml"]  # not sitemap-a.xml
    assert sorted(stored(f"sqlite:///{tmp_path / 'newsmon.db'}")) == sorted(TITLES.values())


def test_google_news_sitemap_dates_fill_in_for_the_page(tmp_path: Path) -> None:
    """The page carries no date: the sitemap's news:publication_date is used; image:title is not."""
    root = make_site(tmp_path / "site", articles("a1", "b1"))
    with serve_directory(root) as server:
        base = server.base_url
        make_site(root, {"news.xml": news_sitemap([
            (f"{base}/articles/a1.html", TITLES["a1"], "2021-07-01T09:30:00+02:00"),
            (f"{base}/articles/b1.html", TITLES["b1"], "2021-07-02")])})
        config = write_config(tmp_path, [source_of("sitemap", "news", f"{base}/news.xml")])
        report = only(crawl(str(config), None))
    assert (report.ok, report.entries, report.stored) == (True, 2, 2), report
    assert stored(f"sqlite:///{tmp_path / 'newsmon.db'}") == {
        TITLES["a1"]: ("articles/a1.html", datetime(2021, 7, 1, 7, 30, tzinfo=timezone.utc), "feed"),
        TITLES["b1"]: ("articles/b1.html", datetime(2021, 7, 2, tzinfo=timezone.utc), "feed")}


def test_deny_and_allow_patterns_filter_sitemap_urls(tmp_path: Path) -> None:
    root = make_site(tmp_path / "site", articles("a1", "a2", "b1"))
    with serve_directory(root) as server:
        base = server.base_url
        make_site(root, {"sitemap.xml": urlset([(f"{base}/articles/{k}.html", OLD) for k in ("a1", "a2", "b1")])})
        source = source_of("sitemap", "maps", f"{base}/sitemap.xml", allow=[r"/articles/a\d"], deny=[r"a2\.html$"])
        report = only(crawl(str(write_config(tmp_path, [source])), None))
    assert (report.ok, report.entries, report.new_links, report.stored) == (True, 3, 1, 1)
    assert server.count("/articles/") == 1


@pytest.mark.parametrize(("files", "needles"), [
    ({"sitemap.xml": BILLION_LAUGHS.replace("rss", "urlset")}, ["refused", "DOCTYPE declares entity"]),
    ({"sitemap.xml": "<html><body>not here</body></html>"}, ["not a sitemap", "<html>"]),
], ids=["entities", "html"])
def test_unreadable_root_sitemap_fails_the_source(tmp_path: Path, files: dict[str, str], needles: list[str]) -> None:
    with serve_directory(make_site(tmp_path / "site", files)) as server:
        config = write_config(tmp_path, [source_of("sitemap", "maps", f"{server.base_url}/sitemap.xml")])
        report = only(crawl(str(config), None))
    assert not report.ok and report.stored == 0
    assert report.error and "\n" not in report.error
    assert all(needle in report.error for needle in needles), report.error
    state = open_repository(f"sqlite:///{tmp_path / 'newsmon.db'}").get_source_state("maps")
    assert (state.failures, state.last_success_at) == (1, None)


def test_gzip_bomb_child_is_cut_at_the_size_cap(tmp_path: Path) -> None:
    """A 40 kB gzip file that unzips past the cap fails alone; its sibling is still read."""
    root = make_site(tmp_path / "site", articles("a1"))
    with serve_directory(root) as server:
        base = server.base_url
        make_site(root, {"sitemap.xml": sitemap_index([(f"{base}/bomb.xml.gz", None), (f"{base}/ok.xml", None)]),
                         "ok.xml": urlset([(f"{base}/articles/a1.html", None)])})
        padding = "<url><loc>" + base + "/x</loc></url>"
        write_gzip(root / "bomb.xml.gz", urlset([]).replace("</urlset>", padding * 200_000 + "</urlset>"))
        config = write_config(tmp_path, [source_of("sitemap", "maps", f"{base}/sitemap.xml")], max_bytes=500_000)
        report = only(crawl(str(config), None))
    assert (report.ok, report.stored, report.failed_requests) == (True, 1, 1), report
    assert "500000-byte limit" in (report.last_request_error or "")


def test_feed_and_sitemap_sources_share_one_extraction_pool(tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """Each kind of source is its own Scrapy crawler in the crawl process; they share one pool
    of extraction workers (one pool each would put twice the workers, and memory, on the cores)."""
    from tests.sites import rss
    from tests.test_crawl_faults import crawl_with_log

    root = make_site(tmp_path / "site", {**articles("a1", "b1"),
                                         "feed.xml": rss([(TITLES["a1"], "{{BASE_URL}}/articles/a1.html")])})
    with serve_directory(root) as server:
        make_site(root, {"sitemap.xml": urlset([(f"{server.base_url}/articles/b1.html", None)])})
        config = write_config(tmp_path, [source_of("feed", "news-feed", f"{server.base_url}/feed.xml"),
                                         source_of("sitemap", "news-map", f"{server.base_url}/sitemap.xml")])
        with caplog.at_level(logging.INFO):  # the child logs at the parent's level
            report, log = crawl_with_log(config)
    assert [(s.name, s.ok, s.stored) for s in report.sources] == [("news-feed", True, 1), ("news-map", True, 1)]
    pools = [line for line in log.splitlines() if "extraction pool:" in line]
    assert len(pools) == 1 and "worker process(es) for this crawl" in pools[0], log[-3000:]
    assert set(stored(f"sqlite:///{tmp_path / 'newsmon.db'}")) == {TITLES["a1"], TITLES["b1"]}
