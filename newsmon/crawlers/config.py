"""newsmon configuration -> Scrapy settings, and back again inside Scrapy components.

Components never keep a global config: they rebuild it in `from_crawler` from the two settings
NEWSMON_CONFIG_FILE and NEWSMON_CONFIG_OVERRIDES, so `scrapy crawl` and the runner's child
process read exactly the same configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from newsmon.config import Config, Source, find_config_file, load_config
from newsmon.errors import ConfigError
from newsmon.records import SourceKind

if TYPE_CHECKING:  # keep this module importable without loading Scrapy (the runner's parent side)
    from scrapy.settings import BaseSettings


def crawler_settings(config: Config) -> dict[str, Any]:
    """The Scrapy settings that come from newsmon's `crawl:` section and per-source overrides."""
    crawl = config.crawl
    return {
        "USER_AGENT": crawl.user_agent,
        "ROBOTSTXT_OBEY": crawl.obey_robots,
        "DOWNLOAD_TIMEOUT": crawl.timeout,
        "DNS_TIMEOUT": crawl.timeout,
        "DOWNLOAD_MAXSIZE": crawl.max_bytes,
        "DOWNLOAD_WARNSIZE": max(1, crawl.max_bytes // 2),
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrency_per_domain,
        "DOWNLOAD_DELAY": crawl.delay,
        "RETRY_TIMES": crawl.retries,
        "DOWNLOAD_SLOTS": download_slots(config),
    }


def download_slots(config: Config) -> dict[str, dict[str, Any]]:
    """Per-host politeness for sources that override it (keyed like Scrapy's default slots).

    Article links usually live on the feed's host, so they share its slot. When several
    sources on one host disagree, the most polite values win.
    """
    slots: dict[str, dict[str, Any]] = {}
    for source in config.sources:
        if source.delay is None and source.concurrency_per_domain is None:
            continue
        host = urlsplit(source.url).hostname or ""
        wanted = _slot_for(config, source)
        current = slots.get(host)
        slots[host] = wanted if current is None else {
            "delay": max(current["delay"], wanted["delay"]),
            "concurrency": min(current["concurrency"], wanted["concurrency"])}
    return slots


def _slot_for(config: Config, source: Source) -> dict[str, Any]:
    delay = config.crawl.delay if source.delay is None else source.delay
    concurrency = source.concurrency_per_domain or config.crawl.concurrency_per_domain
    return {"delay": delay, "concurrency": concurrency}


def default_config_file() -> str | None:
    """$NEWSMON_CONFIG, else ./newsmon.yaml if present (what `scrapy crawl` uses)."""
    found = find_config_file(None)
    return str(found) if found else None


def config_from_settings(settings: BaseSettings) -> Config:
    """Rebuild the configuration a crawl was started with (file + overrides)."""
    overrides = settings.getdict("NEWSMON_CONFIG_OVERRIDES")
    return load_config(settings.get("NEWSMON_CONFIG_FILE"), overrides or None)


SPIDERS = {SourceKind.FEED: "feeds", SourceKind.SITEMAP: "sitemaps", SourceKind.SITE: "site"}


def select_sources(config: Config, names: list[str] | None, kind: SourceKind | None = None) -> list[Source]:
    """The named sources (all when `names` is None), of `kind` only when given.

    ConfigError if a name is unknown, a named source is of another kind, or a source's
    allow/deny pattern is no valid regular expression (so a crawl fails before it starts).
    """
    from newsmon.crawlers.discovery import LinkScope

    if names is None:
        sources = [s for s in config.sources if kind is None or s.kind == kind]
    else:
        sources = [config.source(name) for name in names]
    for source in sources:
        if kind is not None and source.kind != kind:
            raise ConfigError(f"source {source.name!r} is a {source.kind.value} source; "
                              f"the {SPIDERS[kind]} spider crawls {kind.value} sources only")
        LinkScope.for_source(source)
    return sources


def select_feed_sources(config: Config, names: list[str] | None) -> list[Source]:
    """The named sources (every feed source when `names` is None); ConfigError if one is no feed."""
    return select_sources(config, names, SourceKind.FEED)
