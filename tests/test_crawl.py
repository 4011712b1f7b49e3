"""Real crawls: the runner's child process, Scrapy, and loopback HTTP servers (no internet)."""

from __future__ import annotations

import json

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsmon.crawlers import CrawlReport, SourceReport, crawl
from newsmon.demo.server import LocalSite, serve_directory
from newsmon.storage.repository import open_repository
from tests.sites import (BILLION_LAUGHS, DEMO_SITE, DEMO_TITLES, EXTERNAL_ENTITY, REPO_ROOT, Route,
                   article_html, feed_source, make_site, rss, serve_routes, stored_titles, write_config)

GOOD_TITLE = "Harbour Authority Opens New Ferry Terminal"


@pytest.fixture
def demo_site() -> Iterator[LocalSite]:
    with serve_directory(DEMO_SITE) as site:
        yield site


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database holding the demo site's five articles (crawled once per module)."""
    tmp = tmp_path_factory.mktemp("seed")
    with serve_directory(DEMO_SITE) as site:
        report = crawl(str(write_config(tmp, [feed_source("demo", f"{site.base_url}/feed.xml")])), None)
    assert report.stored == 5, report
    return tmp / "newsmon.db"


@pytest.fixture
def db_url(seeded_db: Path, tmp_path: Path) -> str:
    """A private copy of the seeded database for one test."""
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{seeded_db}{suffix}").exists():
            shutil.copy(f"{seeded_db}{suffix}", tmp_path / f"seeded.db{suffix}")
    return f"sqlite:///{tmp_path / 'seeded.db'}"


def only(report: CrawlReport) -> SourceReport:
    assert len(report.sources) == 1, report
    return report.sources[0]


def assert_one_line(reason: str | None, *needles: str) -> None:
    assert reason and "\n" not in reason, reason
    for needle in needles:
        assert needle in reason, reason


# -- the demo site --------------------------------------------------------------------------------
def test_demo_feed_is_stored_then_polled_conditionally(tmp_path: Path, demo_site: LocalSite) -> None:
    config = write_config(tmp_path, [feed_source("demo", f"{demo_site.base_url}/feed.xml")])
    first = only(crawl(str(config), ["demo"]))
    assert (first.ok, first.feed_status, first.entries, first.new_links, first.stored) == (True, 200, 5, 5, 5)
    assert stored_titles(f"sqlite:///{tmp_path / 'newsmon.db'}") == DEMO_TITLES
    article_fetches = demo_site.count("/articles/")

    second = only(crawl(str(config), ["demo"]))
    assert (second.ok, second.feed_status, second.stored, second.new_links) == (True, 304, 0, 0)
    assert demo_site.count("/articles/") == article_fetches == 5  # nothing fetched again
    assert [r for r in demo_site.requests if r[1] == "/feed.xml"] == [("GET", "/feed.xml", 200),
                                                                       ("GET", "/feed.xml", 304)]


def test_changed_feed_fetches_only_new_articles(tmp_path: Path, db_url: str, demo_site: LocalSite) -> None:
    """Links already stored (from another host spelling here) are skipped by canonical URL."""
    site = make_site(tmp_path / "site", {"feed.xml": rss([(GOOD_TITLE, "{{BASE_URL}}/articles/good.html")]),
                                         "articles/good.html": article_html(GOOD_TITLE)})
    with serve_directory(site) as server:
        config = write_config(tmp_path, [feed_source("local", f"{server.base_url}/feed.xml")], database=db_url)
        assert only(crawl(str(config), None)).stored == 1
        (site / "feed.xml").write_text(rss([(GOOD_TITLE, "{{BASE_URL}}/articles/good.html?utm_source=x")]))
        again = only(crawl(str(config), None))
    assert (again.feed_status, again.entries, again.new_links) == (200, 1, 0)
    assert server.count("/articles/") == 1


def test_overrides_reach_the_child(tmp_path: Path, demo_site: LocalSite) -> None:
    config = write_config(tmp_path, [feed_source("demo", f"{demo_site.base_url}/feed.xml")])
    other = f"sqlite:///{tmp_path / 'other.db'}"
    report = crawl(str(config), ["demo"], {"database": other, "crawl.max_articles_per_source": 2})
    assert (only(report).new_links, only(report).stored) == (2, 2)
    assert len(stored_titles(other)) == 2
    assert not (tmp_path / "newsmon.db").exists()


# -- scrapy's own command line --------------------------------------------------------------------
def run_scrapy(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NEWSMON_CONFIG": str(config)}
    return subprocess.run([sys.executable, "-m", "scrapy", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_scrapy_list_and_crawl(tmp_path: Path, demo_site: LocalSite) -> None:
    config = write_config(tmp_path, [feed_source("demo", f"{demo_site.base_url}/feed.xml")])
    listed = run_scrapy(config, "list")
    assert (listed.returncode, listed.stdout.split()) == (0, ["feeds", "site", "sitemaps"]), listed.stderr
    crawled = run_scrapy(config, "crawl", "feeds", "-a", "source=demo")
    assert crawled.returncode == 0, crawled.stderr[-3000:]
    assert stored_titles(f"sqlite:///{tmp_path / 'newsmon.db'}") == DEMO_TITLES
    assert "USER_AGENT': 'newsmon/" in crawled.stderr  # settings came from newsmon's config


def test_replaced_extraction_workers_lose_no_page(tmp_path: Path, demo_site: LocalSite) -> None:
    """One worker replaced every 2 pages: the 5 demo pages take three generations, all stored."""
    config = write_config(tmp_path, [feed_source("demo", f"{demo_site.base_url}/feed.xml")])
    crawled = run_scrapy(config, "crawl", "feeds", "-a", "source=demo", "-s", "LOG_LEVEL=DEBUG",
                         "-s", "NEWSMON_EXTRACT_WORKERS=1", "-s", "NEWSMON_EXTRACT_RECYCLE_AFTER=2")
    assert crawled.returncode == 0, crawled.stderr[-3000:]
    assert stored_titles(f"sqlite:///{tmp_path / 'newsmon.db'}") == DEMO_TITLES
    assert crawled.stderr.count("extraction workers replaced after 2 pages") == 2, crawled.stderr[-3000:]


def test_scrapy_with_a_broken_config_says_so_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "newsmon.yaml"
    config.write_text("crawl: {timeout: -1}\n")
    listed = run_scrapy(config, "list")
    assert listed.returncode == 2
    assert listed.stderr.strip().splitlines() == [f"Error: {config}: crawl.timeout: Input should be greater than 0"]


# -- bad input: nothing stored is lost, a one-line reason is recorded ------------------------------
def crawl_site(tmp_path: Path, db_url: str, files: dict[str, str | bytes], feed: str = "feed.xml",
               **crawl_settings: object) -> tuple[SourceReport, LocalSite]:
    site = make_site(tmp_path / "site", files)
    with serve_directory(site) as server:
        config = write_config(tmp_path, [feed_source("bad", f"{server.base_url}/{feed}")],
                              database=db_url, **crawl_settings)
        return only(crawl(str(config), ["bad"])), server


def test_malformed_feed_is_a_source_failure(tmp_path: Path, db_url: str) -> None:
    broken = (DEMO_SITE / "broken" / "malformed-feed.xml").read_text()
    report, server = crawl_site(tmp_path, db_url, {"feed.xml": broken})
    assert not report.ok and report.stored == 0
    assert_one_line(report.error, "feed is cut off", "not well-formed")
    state = open_repository(db_url).get_source_state("bad")
    assert (state.failures, state.last_error, state.etag) == (1, report.error, None)
    assert server.count("/articles/") == 0
    assert stored_titles(db_url) == DEMO_TITLES


def test_html_served_as_feed_is_a_source_failure(tmp_path: Path, db_url: str) -> None:
    report, _ = crawl_site(tmp_path, db_url, {"feed.xml": article_html(GOOD_TITLE)})
    assert not report.ok
    assert_one_line(report.error, "not a feed")
    assert stored_titles(db_url) == DEMO_TITLES


def test_missing_and_binary_articles_are_not_stored(tmp_path: Path, db_url: str) -> None:
    files = {"feed.xml": rss([(GOOD_TITLE, "{{BASE_URL}}/articles/good.html"),
                              ("Gone", "{{BASE_URL}}/articles/gone.html"),
                              ("Picture", "{{BASE_URL}}/broken/binary.html")]),
             "articles/good.html": article_html(GOOD_TITLE),
             "broken/binary.html": (DEMO_SITE / "broken" / "binary.html").read_bytes()}
    report, server = crawl_site(tmp_path, db_url, files)
    assert (report.ok, report.entries, report.stored, report.failed_requests, report.not_articles) == (
        True, 3, 1, 1, 1)
    assert_one_line(report.last_request_error, "gone.html", "HTTP 404")
    assert server.requests.count(("GET", "/articles/gone.html", 404)) == 1  # 404 is not retried
    assert stored_titles(db_url) == sorted([*DEMO_TITLES, GOOD_TITLE])


@pytest.mark.parametrize("kind", ["json-feed", "rdf"])
def test_json_feed_and_rss_1_0_are_crawled(tmp_path: Path, db_url: str, kind: str) -> None:
    """The feed formats besides RSS 2.0 and Atom, in a real crawl: every linked article stored."""
    titles = [GOOD_TITLE, "Harbour Ferry Returns After Winter Break"]
    links = ["{{BASE_URL}}/articles/good.html", "{{BASE_URL}}/articles/ferry.html"]
    if kind == "json-feed":
        feed, body = "feed.json", json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "J",
                                              "items": [{"id": link, "url": link, "title": title}
                                                        for title, link in zip(titles, links)]})
    else:
        items = "".join(f"<item rdf:about='{link}'><title>{title}</title><link>{link}</link></item>"
                        for title, link in zip(titles, links))
        feed, body = "feed-rdf.xml", ("<?xml version='1.0'?><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'"
                                  " xmlns='http://purl.org/rss/1.0/'><channel rdf:about='{{BASE_URL}}/'><title>R</title>"
                                  f"<link>{{{{BASE_URL}}}}/</link><description>d</description></channel>{items}</rdf:RDF>")
    files = {feed: body, "articles/good.html": article_html(titles[0]), "articles/ferry.html": article_html(titles[1])}
    report, _ = crawl_site(tmp_path, db_url, files, feed=feed)
    assert (report.ok, report.entries, report.stored, report.failed_requests) == (True, 2, 2, 0), report
    assert stored_titles(db_url) == sorted([*DEMO_TITLES, *titles])


def test_meta_refresh_leads_to_the_article(tmp_path: Path, db_url: str) -> None:
    """A page whose <meta http-equiv=refresh> points at the article: the article is stored."""
    refresh = ("<html><head><meta http-equiv='Refresh' content='0; url={{BASE_URL}}/articles/good.html'>"
               "</head><body>Moved</body></html>")
    files = {"feed.xml": rss([(GOOD_TITLE, "{{BASE_URL}}/old/good.html")]),
             "old/good.html": refresh, "articles/good.html": article_html(GOOD_TITLE)}
    report, server = crawl_site(tmp_path, db_url, files)
    assert (report.ok, report.stored, report.failed_requests, report.not_articles) == (True, 1, 0, 0)
    assert ("GET", "/articles/good.html", 200) in server.requests
    assert stored_titles(db_url) == sorted([*DEMO_TITLES, GOOD_TITLE])


@pytest.mark.parametrize("chunks", [1, 64], ids=["content-length", "streamed"])
def test_oversized_page_is_cut_off(tmp_path: Path, db_url: str, chunks: int) -> None:
    big = article_html("Huge").replace("</article>", "<p>" + "x" * 1_000_000 + "</p></article>").encode()
    routes = {"/big.html": Route(200, {"Content-Type": "text/html; charset=utf-8"}, big, chunks)}
    with serve_routes(routes) as pages:
        files = {"feed.xml": rss([(GOOD_TITLE, "{{BASE_URL}}/articles/good.html"),
                                  ("Huge", f"{pages.base_url}/big.html")]),
                 "articles/good.html": article_html(GOOD_TITLE)}
        report, _ = crawl_site(tmp_path, db_url, files, max_bytes=200_000)
    assert (report.ok, report.stored, report.failed_requests) == (True, 1, 1)
    assert_one_line(report.last_request_error, "big.html", "200000-byte limit")
    assert stored_titles(db_url) == sorted([*DEMO_TITLES, GOOD_TITLE])


@pytest.mark.parametrize("feed", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"])
def test_feed_declaring_entities_is_refused(tmp_path: Path, db_url: str, feed: str) -> None:
    files = {"feed.xml": feed, "articles/good.html": article_html(GOOD_TITLE)}
    report, server = crawl_site(tmp_path, db_url, files)
    assert not report.ok and report.entries == 0
    assert_one_line(report.error, "refused", "DOCTYPE declares entity")
    assert server.count("/articles/") == 0
    assert stored_titles(db_url) == DEMO_TITLES


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_private_address_is_refused_without_allow_private(tmp_path: Path, db_url: str,
                                                          demo_site: LocalSite, host: str) -> None:
    url = demo_site.base_url.replace("127.0.0.1", host) + "/feed.xml"
    source = {**feed_source("outside", url), "allow_private": False}
    report = only(crawl(str(write_config(tmp_path, [source], database=db_url)), None))
    assert not report.ok
    assert_one_line(report.error, "refused", "loopback address 127.0.0.1", "allow_private")
    assert demo_site.requests == []  # not even robots.txt
    assert open_repository(db_url).get_source_state("outside").failures == 1
    assert stored_titles(db_url) == DEMO_TITLES


def test_unknown_source_is_a_config_error(tmp_path: Path) -> None:
    from newsmon.errors import ConfigError

    config = write_config(tmp_path, [feed_source("demo", "http://127.0.0.1:9/feed.xml")])
    with pytest.raises(ConfigError, match="unknown source 'nope'"):
        crawl(str(config), ["nope"])


def test_unreachable_feed_is_a_source_failure(tmp_path: Path) -> None:
    config = write_config(tmp_path, [feed_source("down", "http://127.0.0.1:9/feed.xml")])
    report = only(crawl(str(config), None))
    assert not report.ok
    assert_one_line(report.error, "127.0.0.1:9/feed.xml", "connection refused")


def test_transient_article_failure_keeps_the_feed_unconditional(tmp_path: Path, db_url: str) -> None:
    """A 503 article must be retried next poll: the feed's new validators are not kept."""
    routes = {"/flaky.html": Route(503, {"Content-Type": "text/html"}, b"busy")}
    with serve_routes(routes) as pages:
        site = make_site(tmp_path / "site", {"feed.xml": rss([("Flaky", f"{pages.base_url}/flaky.html")])})
        with serve_directory(site) as server:
            config = write_config(tmp_path, [feed_source("flaky", f"{server.base_url}/feed.xml")], database=db_url)
            first, second = only(crawl(str(config), None)), only(crawl(str(config), None))
    assert (first.ok, first.failed_requests, second.feed_status, second.failed_requests) == (True, 1, 200, 1)
    assert pages.count("/flaky.html") == 2
    assert_one_line(second.last_request_error, "HTTP 503")


def test_source_politeness_overrides_the_default(tmp_path: Path, demo_site: LocalSite) -> None:
    """crawl.delay is 3 s; the source's own delay 0 and concurrency 8 win for its host (DOWNLOAD_SLOTS),
    checked on the settings the crawl runs with, not by timing it."""
    from newsmon.config import load_config
    from newsmon.crawlers.config import crawler_settings

    config = write_config(tmp_path, [feed_source("demo", f"{demo_site.base_url}/feed.xml")], delay=3)
    settings = crawler_settings(load_config(config))
    assert settings["DOWNLOAD_DELAY"] == 3
    assert settings["DOWNLOAD_SLOTS"]["127.0.0.1"] == {"concurrency": 8, "delay": 0}
    assert crawl(str(config), None).stored == 5


def test_database_trouble_is_one_line_from_the_child(tmp_path: Path) -> None:
    from newsmon.errors import NewsmonError

    config = write_config(tmp_path, [feed_source("demo", "http://127.0.0.1:9/feed.xml")],
                          database=f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    with pytest.raises(NewsmonError) as caught:
        crawl(str(config), None)
    assert str(caught.value).startswith("cannot connect to database sqlite:///")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("content", "code", "message"), [
    (None, -9, "the crawl process was killed by signal 9 without a report"),
    (None, 1, "the crawl process exited with code 1 without a report"),
    ('{"error": "crawl crashed: KeyError: x", "exit_code": 1}', 1, "crawl crashed: KeyError: x"),
])
def test_child_failures_become_one_line_errors(tmp_path: Path, content: str | None, code: int,
                                               message: str) -> None:
    from newsmon.crawlers.runner import _read_report
    from newsmon.errors import NewsmonError

    report_file = tmp_path / "report.json"
    if content is not None:
        report_file.write_text(content)
    with pytest.raises(NewsmonError, match=message):
        _read_report(report_file, code)
