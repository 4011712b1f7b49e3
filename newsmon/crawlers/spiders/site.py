"""The site spider: for sites with neither feed nor sitemap, follow links and keep the articles.

    scrapy crawl site                   # every source of kind site
    scrapy crawl site -a source=NAME    # one source (or NAME1,NAME2)

From the source's URL (depth 0) it follows `<a href>` links on the same site (host with or
without `www.`, same port) that match the source's `allow` patterns (any, when none are given)
and none of its `deny` patterns, up to `max_depth` hops and `max_pages` requests per run,
shallow pages first. Links to URLs already stored are not fetched again. A page is handed on
for storing only when `newsmon.crawlers.articles.looks_like_article` says it is an article
(JSON-LD article type, og:type article, or enough prose in one block), at most
`crawl.max_articles_per_source` per run; home, section and tag pages are only read for links.

The source fails when its own URL cannot be fetched; other pages count as failed requests.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import HtmlResponse, Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure

from newsmon.config import Source
from newsmon.crawlers.articles import looks_like_article
from newsmon.crawlers.discovery import extract_links
from newsmon.crawlers.spiders.feeds import SourceSpider, failed_request, header_text, status_of
from newsmon.crawlers.stats import DEPTH_META, SOURCE_META
from newsmon.extract import canonical_url
from newsmon.records import FetchedPage, SourceKind

log = logging.getLogger(__name__)


class SiteSpider(SourceSpider):
    name = "site"
    kind = SourceKind.SITE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.by_name: dict[str, Source] = {}
        self.seen: dict[str, set[str]] = {}  # per source: canonical URLs requested this run
        self.stored: dict[str, int] = {}  # per source: article pages handed on this run

    async def start(self) -> AsyncIterator[Any]:
        for source in self.open_sources():
            self.by_name[source.name] = source
            self.seen[source.name] = {canonical_url(source.url)}
            self.stored[source.name] = 0
            yield self.page_request(source.name, source.url, depth=0)

    def page_request(self, source: str, url: str, depth: int) -> scrapy.Request:
        # each source keeps its own `seen` set, so Scrapy's duplicate filter is not needed
        return scrapy.Request(url, callback=self.parse_page, errback=self.on_page_error, dont_filter=True,
                              priority=-depth, meta={SOURCE_META: source, DEPTH_META: depth})

    async def parse_page(self, response: Response) -> AsyncIterator[FetchedPage | scrapy.Request]:
        source, depth = response.meta[SOURCE_META], response.meta[DEPTH_META]
        if depth == 0:
            self.outcomes[source].ok, self.outcomes[source].feed_status = True, response.status
            self.set_stat(source, "feed_status", response.status)
        self.inc_stat(source, "pages")
        if not isinstance(response, HtmlResponse):
            log.info("%s: %s is no HTML page (%s)", source, response.url,
                     header_text(response, "Content-Type", "?"))
            return
        is_article, reason = await maybe_deferred_to_future(deferToThread(
            looks_like_article, response.body, response.url))
        log.debug("%s: %s: %s (%s)", source, response.url, "article" if is_article else "not an article", reason)
        if is_article and self.keep_article(source, response.url):
            yield self.page_item(response)
        if depth < self.by_name[source].max_depth and self.scopes[source].on_site(response.url):
            links = await maybe_deferred_to_future(deferToThread(extract_links, response.body, response.url))
            for request in self.link_requests(source, links, depth + 1):
                yield request

    def keep_article(self, source: str, url: str) -> bool:
        """Hand the page on unless it is stored already or the per-run article cap is reached."""
        if self.stored[source] >= self.config.crawl.max_articles_per_source or not self.unknown([url]):
            return False
        self.stored[source] += 1
        self.inc_stat(source, "new_links")
        return True

    def link_requests(self, source: str, links: list[str], depth: int) -> Iterator[scrapy.Request]:
        """Requests for in-scope links not seen this run and not stored, within the page cap."""
        seen = self.seen[source]
        in_scope = [url for url in links if self.scopes[source].allows(url) and canonical_url(url) not in seen]
        self.inc_stat(source, "entries", len(in_scope))
        for url in self.unknown(in_scope):
            if canonical_url(url) in seen:  # another spelling of a link on this page
                continue
            if len(seen) >= self.by_name[source].max_pages:
                self.set_stat(source, "page_cap_reached", True)
                return
            seen.add(canonical_url(url))
            yield self.page_request(source, url, depth)

    def on_page_error(self, failure: Failure) -> None:
        request = failed_request(failure)
        source = request.meta[SOURCE_META]
        if request.meta[DEPTH_META] == 0:
            self.outcomes[source].feed_status = status_of(failure)
            self.set_stat(source, "feed_status", status_of(failure))
            self.fail_source(source, f"page {request.url}: {self.describe(failure)}")
            return
        self.on_article_error(failure)
