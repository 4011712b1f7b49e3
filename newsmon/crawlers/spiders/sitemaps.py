"""The sitemap spider: read each sitemap source, follow the page URLs that are new.

    scrapy crawl sitemaps                   # every source of kind sitemap
    scrapy crawl sitemaps -a source=NAME    # one source (or NAME1,NAME2)

A source's URL is a sitemap index, a plain or Google News sitemap, or a text sitemap, gzip'd or
not (read by `newsmon.crawlers.sitemaps.parse_sitemap`). A cron run looks only at what changed
since the source's last successful poll, less `lastmod_margin`: child sitemaps and URLs whose
lastmod (or news:publication_date) is older are not fetched, URLs without a date always are
candidates, and URLs already stored are skipped. At most `crawl.max_articles_per_source` pages
are fetched per source and run, newest first within each sitemap. News-sitemap titles and dates
travel with the page as its `FeedEntry`, extraction's fallback.

The source fails when its own sitemap cannot be read; a child sitemap that cannot be read
counts as a failed request. When a download failed for a passing reason, the source is recorded
as read only up to that URL's lastmod, so the next run looks at it again.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import scrapy
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure

from newsmon.config import Source, parse_duration
from newsmon.crawlers.sitemaps import ParsedSitemap, SitemapLink, cutoff, parse_sitemap, select_links
from newsmon.crawlers.spiders.feeds import SourceSpider, failed_request, status_of
from newsmon.crawlers.stats import CHANGED_META, DEPTH_META, ENTRY_META, SOURCE_META
from newsmon.records import FetchedPage, SourceKind

log = logging.getLogger(__name__)
MAX_NESTING = 3  # an index may list indexes; deeper than this is a loop or a trap
SITEMAP_ACCEPT = "application/xml, text/xml;q=0.9, application/gzip;q=0.8, */*;q=0.5"


class SitemapsSpider(SourceSpider):
    name = "sitemaps"
    kind = SourceKind.SITEMAP

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.since: dict[str, datetime | None] = {}  # per source: URLs changed before this are old
        self.previous_success: dict[str, datetime | None] = {}
        self.read_until: dict[str, datetime] = {}  # per source: the success time to record
        self.budget: dict[str, int] = {}  # per source: page requests still allowed this run

    async def start(self) -> AsyncIterator[Any]:
        started = datetime.now(timezone.utc)
        for source in self.open_sources():
            self.plan(source, started)
            yield self.sitemap_request(source.name, source.url, depth=0)

    def plan(self, source: Source, started: datetime) -> None:
        assert self.repo is not None
        last = self.repo.get_source_state(source.name).last_success_at
        self.previous_success[source.name] = last
        self.since[source.name] = cutoff(last, timedelta(seconds=parse_duration(source.lastmod_margin)))
        self.read_until[source.name] = started  # what changes while we read is seen next time
        self.budget[source.name] = self.config.crawl.max_articles_per_source

    def sitemap_request(self, source: str, url: str, depth: int, changed_at: datetime | None = None) -> scrapy.Request:
        return scrapy.Request(url, headers={"Accept": SITEMAP_ACCEPT}, callback=self.parse_sitemap_response,
                              errback=self.on_sitemap_error, dont_filter=depth == 0,
                              meta={SOURCE_META: source, DEPTH_META: depth, CHANGED_META: changed_at})

    async def parse_sitemap_response(self, response: Response) -> AsyncIterator[scrapy.Request]:
        source, depth = response.meta[SOURCE_META], response.meta[DEPTH_META]
        if depth == 0:
            self.outcomes[source].feed_status = response.status
            self.set_stat(source, "feed_status", response.status)
        sitemap = await maybe_deferred_to_future(deferToThread(
            parse_sitemap, response.body, response.url, self.config.crawl.max_bytes))
        self.inc_stat(source, "sitemaps")
        if not sitemap.ok:
            self.sitemap_unreadable(source, depth, f"sitemap {response.url}: {sitemap.error}")
            return
        if depth == 0:
            self.outcomes[source].ok = True
        requests = self.child_requests(source, sitemap, depth) if sitemap.is_index else self.page_requests(source, sitemap)
        for request in requests:
            yield request

    def child_requests(self, source: str, sitemap: ParsedSitemap, depth: int) -> list[scrapy.Request]:
        if depth + 1 > MAX_NESTING:
            self.sitemap_unreadable(source, depth, f"sitemap {sitemap.url}: indexes nested deeper than {MAX_NESTING}")
            return []
        fresh, old = select_links(sitemap.links, self.since[source])
        log.info("%s: index %s: %d sitemaps, %d unchanged", source, sitemap.url, len(fresh), old)
        return [self.sitemap_request(source, link.url, depth + 1, link.changed_at) for link in fresh]

    def page_requests(self, source: str, sitemap: ParsedSitemap) -> list[scrapy.Request]:
        """Requests for the sitemap's in-scope URLs that changed recently and are not stored."""
        scope = self.scopes[source]
        fresh, old = select_links([link for link in sitemap.links if scope.allows(link.url)], self.since[source])
        by_url = {link.url: link for link in fresh}
        new = [by_url[url] for url in self.unknown(list(by_url))][:max(0, self.budget[source])]
        self.budget[source] -= len(new)
        self.inc_stat(source, "entries", len(sitemap.links))
        self.inc_stat(source, "old_links", old)
        self.inc_stat(source, "new_links", len(new))
        return [self.page_request(source, link) for link in new]

    def page_request(self, source: str, link: SitemapLink) -> scrapy.Request:
        return scrapy.Request(link.url, callback=self.parse_page, errback=self.on_article_error,
                              meta={SOURCE_META: source, ENTRY_META: link.to_entry(), CHANGED_META: link.changed_at})

    def parse_page(self, response: Response) -> FetchedPage:
        return self.page_item(response, response.meta.get(ENTRY_META))

    def on_sitemap_error(self, failure: Failure) -> None:
        request = failed_request(failure)
        source, depth = request.meta[SOURCE_META], request.meta[DEPTH_META]
        if depth == 0:
            self.outcomes[source].feed_status = status_of(failure)
            self.set_stat(source, "feed_status", status_of(failure))
            self.fail_source(source, f"sitemap {request.url}: {self.describe(failure)}")
            return
        self.on_article_error(failure)

    def sitemap_unreadable(self, source: str, depth: int, reason: str) -> None:
        if depth == 0:
            self.fail_source(source, reason)
            return
        log.warning("%s: %s", source, reason)
        self.inc_stat(source, "failed_requests")
        self.set_stat(source, "last_request_error", reason)

    def on_transient_failure(self, source: str, changed_at: datetime | None) -> None:
        """Read the source again from this URL's date next time (an undated one: from the last cutoff)."""
        back_to = changed_at or self.previous_success.get(source)
        if back_to is not None:
            self.read_until[source] = min(self.read_until[source], back_to)

    def success_time(self, source: str) -> datetime | None:
        return self.read_until.get(source)
