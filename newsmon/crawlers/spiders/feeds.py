"""The feed spider: poll each feed source, follow the entries not stored yet.

    scrapy crawl feeds                   # every source of kind feed
    scrapy crawl feeds -a source=NAME    # one source (or NAME1,NAME2)

It only talks to the network: feeds are read by `newsmon.crawlers.feeds.parse_feed`, pages are
handed on as `FetchedPage` items to the item pipeline, which extracts and stores them. The
repository is used for the crawl state only (validators, known URLs, per-source outcome).

A feed source's URL may also be a site's HTML page: the spider then follows the first feed the
page advertises (`<link rel="alternate" type="application/rss+xml" href=...>`), found again on
every run, and reports it as `discovered_feed`. Such a source is polled without conditional GET.

`SourceSpider`, the base of every newsmon spider (feeds, sitemaps, site), lives here too: one
source list per spider, per-source stats named after `runner.SourceReport`'s fields, and each
source's outcome recorded in the database when the spider closes.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, ClassVar

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure

from newsmon.config import Config, Source
from newsmon.crawlers.config import config_from_settings, select_sources
from newsmon.crawlers.discovery import LinkScope, find_feed_links, looks_like_html
from newsmon.crawlers.feeds import ParsedFeed, parse_feed
from newsmon.crawlers.stats import (
    CHANGED_META,
    DISCOVERED_META,
    ENTRY_META,
    SOURCE_META,
    describe_failure,
    is_transient,
    stat_key,
)
from newsmon.extract import canonical_url
from newsmon.records import FeedEntry, FetchedPage, SourceKind
from newsmon.storage.repository import Repository, open_repository

log = logging.getLogger(__name__)
FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, "
               "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5")


@dataclass(slots=True)
class SourceOutcome:
    """How one source's poll went, filled in as responses arrive."""

    name: str
    ok: bool = False
    error: str | None = None
    feed_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    transient_failures: int = 0  # downloads that may work next time (timeouts, 5xx...)
    discovered_feed: str | None = None  # the feed found on the source's HTML page

    def validators(self) -> tuple[str | None, str | None]:
        """ETag and Last-Modified to keep for the next conditional GET.

        Withheld (the previous ones stay) when articles failed for a passing reason: a 304 next
        time would otherwise hide those links until the feed changes. Cleared ("") when the
        source URL is an HTML page: its feed's validators must not be sent to the page.
        """
        if self.discovered_feed:
            return "", ""
        if self.transient_failures:
            return None, None
        return self.etag, self.last_modified


class SourceSpider(scrapy.Spider):
    """The base of newsmon's spiders: sources of one kind, their stats and recorded outcomes."""

    kind: ClassVar[SourceKind]

    def __init__(self, source: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source_names = [s.strip() for s in source.split(",") if s.strip()] if source else None
        self.config: Config
        self.sources: list[Source] = []
        self.scopes: dict[str, LinkScope] = {}
        self.repo: Repository | None = None
        self.outcomes: dict[str, SourceOutcome] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> SourceSpider:
        spider: SourceSpider = super().from_crawler(crawler, *args, **kwargs)
        spider.config = config_from_settings(crawler.settings)
        spider.sources = select_sources(spider.config, spider.source_names, cls.kind)  # fail before crawling
        crawler.signals.connect(spider.on_closed, signal=signals.spider_closed)
        return spider

    def open_sources(self) -> list[Source]:
        """Open the database and start an outcome for every source (call first in `start`)."""
        if not self.sources:
            log.warning("no %s sources configured", self.kind.value)
        self.repo = open_repository(self.config.database, upgrade=True)
        for source in self.sources:
            self.outcomes[source.name] = SourceOutcome(source.name)
            self.scopes[source.name] = LinkScope.for_source(source, same_site=self.kind == SourceKind.SITE)
            self.set_stat(source.name, "kind", self.kind.value)
        return self.sources

    def unknown(self, urls: list[str]) -> list[str]:
        """The URLs (in order) that led to no stored article, as given or canonical."""
        assert self.repo is not None
        canonical = {url: canonical_url(url) for url in urls}
        known = self.repo.known_urls([*canonical, *canonical.values()])
        return [url for url in dict.fromkeys(urls) if url not in known and canonical[url] not in known]

    def page_item(self, response: Response, entry: FeedEntry | None = None) -> FetchedPage:
        assert response.request is not None, "Scrapy hands a callback the response of its request"
        requested = (response.meta.get("redirect_urls") or [response.request.url])[0]
        return FetchedPage(url=requested, final_url=response.url, status=response.status,
                           headers=headers_as_dict(response), body=response.body,
                           fetched_at=datetime.now(timezone.utc), source=response.meta[SOURCE_META], entry=entry)

    def on_article_error(self, failure: Failure) -> None:
        request = failed_request(failure)
        source = request.meta[SOURCE_META]
        reason = self.describe(failure)
        log.warning("%s: %s not fetched: %s", source, request.url, reason)
        self.inc_stat(source, "failed_requests")
        if is_transient(failure):
            self.outcomes[source].transient_failures += 1
            self.on_transient_failure(source, request.meta.get(CHANGED_META))
        self.set_stat(source, "last_request_error", f"{request.url}: {reason}")

    def on_transient_failure(self, source: str, changed_at: datetime | None) -> None:
        """A hook: a download that may work next time failed (the sitemap spider remembers it)."""

    def fail_source(self, source: str, reason: str) -> None:
        log.error("%s: source failed: %s", source, reason)
        self.outcomes[source].ok, self.outcomes[source].error = False, reason
        self.set_stat(source, "error", reason)

    def describe(self, failure: Failure) -> str:
        return describe_failure(failure, self.config.crawl.max_bytes)

    def on_closed(self, spider: scrapy.Spider, reason: str) -> None:
        """Record each source's outcome (validators only on success) and let go of the database."""
        if self.repo is None:
            return
        try:
            for outcome in self.outcomes.values():
                error = outcome.error or (None if outcome.ok else f"crawl ended ({reason}) before the source was read")
                self.set_stat(outcome.name, "ok", outcome.ok)
                self.repo.record_source_result(outcome.name, outcome.ok, error, *outcome.validators(),
                                               when=self.success_time(outcome.name))
        finally:
            self.repo.close()

    def success_time(self, source: str) -> datetime | None:
        """When the source counts as read up to (None: now); the sitemap spider goes back in time."""
        return None

    def set_stat(self, source: str, name: str, value: Any) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.set_value(stat_key(source, name), value)

    def inc_stat(self, source: str, name: str, count: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(stat_key(source, name), count)


class FeedsSpider(SourceSpider):
    name = "feeds"
    kind = SourceKind.FEED

    async def start(self) -> AsyncIterator[Any]:
        for source in self.open_sources():
            yield self.feed_request(source)

    def feed_request(self, source: Source) -> scrapy.Request:
        """A conditional GET using the validators stored by the last successful poll."""
        assert self.repo is not None
        state = self.repo.get_source_state(source.name)
        headers = {"Accept": FEED_ACCEPT}
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
        return scrapy.Request(source.url, headers=headers, callback=self.parse_feed_response,
                              errback=self.on_feed_error, dont_filter=True,
                              meta={SOURCE_META: source.name, "handle_httpstatus_list": [304]})

    async def parse_feed_response(self, response: Response) -> AsyncIterator[scrapy.Request]:
        outcome = self.outcomes[response.meta[SOURCE_META]]
        outcome.feed_status = response.status
        outcome.etag = header_text(response, "ETag") or None
        outcome.last_modified = header_text(response, "Last-Modified") or None
        self.set_stat(outcome.name, "feed_status", response.status)
        if response.status == 304:
            outcome.ok = True  # nothing changed since the last poll
            return
        if not response.meta.get(DISCOVERED_META) and looks_like_html(response.body):
            request = self.discovered_feed_request(outcome, response)
            if request is not None:
                yield request
            return
        # feedparser is slow on big feeds: keep the reactor free for downloads meanwhile
        feed = await maybe_deferred_to_future(deferToThread(
            parse_feed, response.body, response.url, headers_as_dict(response)))
        if not feed.ok:
            self.fail_source(outcome.name, feed.error or "unreadable feed")
            return
        outcome.ok = True
        for entry in self.new_entries(outcome.name, feed):
            yield scrapy.Request(entry.link, callback=self.parse_article, errback=self.on_article_error,
                                 meta={SOURCE_META: outcome.name, ENTRY_META: entry})

    def discovered_feed_request(self, outcome: SourceOutcome, response: Response) -> scrapy.Request | None:
        """The source URL is an HTML page: poll the first feed it advertises (unconditionally)."""
        feeds = find_feed_links(response.body, response.url)
        if not feeds:
            self.fail_source(outcome.name, f"not a feed: {response.url} is an HTML page that names no feed "
                                           "(no <link rel=\"alternate\" type=\"application/rss+xml\">)")
            return None
        outcome.discovered_feed = feeds[0]
        self.set_stat(outcome.name, "discovered_feed", feeds[0])
        log.info("%s: %s is an HTML page; reading its feed %s", outcome.name, response.url, feeds[0])
        return scrapy.Request(feeds[0], headers={"Accept": FEED_ACCEPT}, callback=self.parse_feed_response,
                              errback=self.on_feed_error, dont_filter=True,
                              meta={SOURCE_META: outcome.name, DISCOVERED_META: True})

    def new_entries(self, source: str, feed: ParsedFeed) -> list[FeedEntry]:
        """In-scope entries whose link led to no stored article, up to the cap."""
        scope = self.scopes[source]
        by_link = {entry.link: entry for entry in feed.entries if scope.allows(entry.link)}
        fresh = [by_link[link] for link in self.unknown(list(by_link))]
        limit = self.config.crawl.max_articles_per_source
        self.set_stat(source, "entries", len(feed.entries))
        self.set_stat(source, "new_links", min(len(fresh), limit))
        if feed.bozo:
            log.info("%s: feed read despite: %s", source, feed.bozo)
        return fresh[:limit]

    def parse_article(self, response: Response) -> Iterator[FetchedPage]:
        yield self.page_item(response, response.meta.get(ENTRY_META))

    def on_feed_error(self, failure: Failure) -> None:
        request = failed_request(failure)
        source = request.meta[SOURCE_META]
        self.outcomes[source].feed_status = status_of(failure)
        self.set_stat(source, "feed_status", self.outcomes[source].feed_status)
        self.fail_source(source, f"feed {request.url}: {self.describe(failure)}")


def headers_as_dict(response: Response) -> dict[str, str]:
    """Response headers as a plain str dict (repeated headers joined with ', ')."""
    return {key.decode("latin-1"): b", ".join(values).decode("latin-1")
            for key, values in response.headers.items()}


def header_text(response: Response, name: str, default: str = "") -> str:
    """A header's (last) value as text, `default` when the response does not have it (or, as
    Scrapy's types allow, has it stored without any value)."""
    value = response.headers.get(name)
    return value.decode("latin-1") if value is not None else default


def failed_request(failure: Failure) -> scrapy.Request:
    """The request an errback's failure is about: Scrapy sets `failure.request` at run time."""
    request: scrapy.Request = getattr(failure, "request")  # noqa: B009  (not in twisted's types)
    return request


def status_of(failure: Failure) -> int | None:
    response = getattr(failure.value, "response", None)
    return getattr(response, "status", None)
