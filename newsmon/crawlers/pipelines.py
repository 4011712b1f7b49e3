"""Item pipeline: extract each fetched page in the extraction pool, store it in this process.

No extraction code or SQL here: the pool's workers run `newsmon.extract.extract_article` (what
`newsmon.pipeline.store_page` runs, off the reactor thread and on every core), this class stores
the result with `Repository.save_article` and counts what happened (per source, in the crawler
stats). Extraction refuses pages that are no HTML article (binary, feeds, empty) and says why;
error statuses never reach it. NEWSMON_EXTRACT_WORKERS / NEWSMON_EXTRACT_MAX_PENDING size the pool,
NEWSMON_EXTRACT_RECYCLE_AFTER renews its workers.
"""

from __future__ import annotations

import logging

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.defer import maybe_deferred_to_future

from newsmon.config import Config
from newsmon.crawlers.config import config_from_settings
from newsmon.crawlers.extraction_pool import ExtractionPool, Refusal, release_pool, shared_pool
from newsmon.crawlers.stats import stat_key
from newsmon.records import Article, FetchedPage
from newsmon.storage.repository import Repository, open_repository

log = logging.getLogger(__name__)


class StorePagePipeline:
    def __init__(self, crawler: Crawler, config: Config) -> None:
        self.crawler = crawler
        self.config = config
        self.repo: Repository | None = None
        self.pool: ExtractionPool | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePagePipeline:
        return cls(crawler, config_from_settings(crawler.settings))

    def open_spider(self) -> None:
        self.repo = open_repository(self.config.database, upgrade=True)
        self.pool = shared_pool(self.crawler.settings, self.config.crawl.max_bytes)  # one per process

    def close_spider(self) -> None:
        if self.pool is not None:
            release_pool(self.pool)
            self.pool = None
        if self.repo is not None:
            self.repo.close()
            self.repo = None

    async def process_item(self, item: object) -> object:
        if not isinstance(item, FetchedPage):
            return item
        if not 200 <= item.status < 300:
            self.count(item.source, "not_articles")
            raise DropItem(f"{item.final_url}: HTTP {item.status}, not stored")
        assert self.pool is not None
        try:
            outcome = await maybe_deferred_to_future(self.pool.extract(item))
            if isinstance(outcome, Refusal):
                log.warning("%s: not stored: %s", item.final_url, outcome.message)
                self.count(item.source, "not_articles")
                return item
            for note in outcome.notes:  # stored, but the page needed a repair: say which
                log.warning("%s: %s", item.final_url, note)
            self.save(outcome)
        except Exception:
            self.count(item.source, "store_errors")  # the runner reports them; Scrapy logs the traceback
            raise
        return item

    def save(self, article: Article) -> None:
        assert self.repo is not None
        saved = self.repo.save_article(article)
        self.count(article.source, "stored" if saved.created else "duplicates")

    def count(self, source: str, name: str) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(stat_key(source, name))
        self.crawler.stats.inc_value(f"newsmon/{name}")
