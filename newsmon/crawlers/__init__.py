"""newsmon's Scrapy project (thin adapters: spiders fetch, the item pipeline calls the store stage).

Public API (imported lazily, so `python -m newsmon.crawlers.runner` and `scrapy` start clean):
  crawl(config_path, source_names, overrides) -> CrawlReport   run a crawl in a child process
  parse_feed(body, url, headers) -> ParsedFeed                   read feed bytes (pure function)
"""

from __future__ import annotations

from typing import Any

__all__ = ["CrawlReport", "ParsedFeed", "SourceReport", "crawl", "parse_feed"]
_HOMES = {"CrawlReport": "runner", "SourceReport": "runner", "crawl": "runner",
          "ParsedFeed": "feeds", "parse_feed": "feeds"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"newsmon.crawlers.{_HOMES[name]}"), name)
