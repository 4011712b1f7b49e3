"""Item pipeline: hand each fetched page to `newsmon.pipeline.store_page` (extract + store).

No extraction or SQL here: this class only opens the repository, calls the stage function and
counts what happened (per source, in the crawler stats). Extraction refuses pages that are no
HTML article (binary, feeds, empty) and says why; error statuses never reach it.
"""

from __future__ import annotations

import logging

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from newsmon.config import Config
from newsmon.crawlers.config import config_from_settings
from newsmon.crawlers.stats import stat_key
from newsmon.pipeline import store_page
from newsmon.records import FetchedPage
from newsmon.storage.repository import Repository, open_repository

log = logging.getLogger(__name__)


class StorePagePipeline:
    def __init__(self, crawler: Crawler, config: Config) -> None:
        self.crawler = crawler
        self.config = config
        self.repo: Repository | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePagePipeline:
        return cls(crawler, config_from_settings(crawler.settings))

    def open_spider(self) -> None:
        self.repo = open_repository(self.config.database, upgrade=True)

    def close_spider(self) -> None:
        if self.repo is not None:
            self.repo.close()
            self.repo = None

    def process_item(self, item: object) -> object:
        if not isinstance(item, FetchedPage):
            return item
        if not 200 <= item.status < 300:
            self.count(item.source, "not_articles")
            raise DropItem(f"{item.final_url}: HTTP {item.status}, not stored")
        assert self.repo is not None
        try:
            saved = store_page(self.repo, item)
        except Exception:
            self.count(item.source, "store_errors")  # the runner reports them; Scrapy logs the traceback
            raise
        if saved is None:
            self.count(item.source, "not_articles")
        else:
            self.count(item.source, "stored" if saved.created else "duplicates")
        return item

    def count(self, source: str, name: str) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(stat_key(source, name))
        self.crawler.stats.inc_value(f"newsmon/{name}")
