"""Items: the spiders yield newsmon's own records (Scrapy accepts dataclass items)."""

from __future__ import annotations

from newsmon.records import FeedEntry, FetchedPage

__all__ = ["FeedEntry", "FetchedPage"]
