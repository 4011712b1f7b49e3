"""Scrapy settings for newsmon's crawlers (scrapy.cfg points here).

Static choices are written out below; politeness and safety limits come from newsmon's
configuration ($NEWSMON_CONFIG, else ./newsmon.yaml; `crawl:` section and per-source
overrides), never from Scrapy's defaults (180 s timeouts, 1 GiB bodies). The runner's child
process applies the same `crawler_settings()` again, with command-line overrides, at a higher
priority.
"""

from __future__ import annotations

import sys

from newsmon.config import load_config
from newsmon.crawlers.config import crawler_settings, default_config_file
from newsmon.errors import ConfigError

BOT_NAME = "newsmon"
SPIDER_MODULES = ["newsmon.crawlers.spiders"]
NEWSPIDER_MODULE = "newsmon.crawlers.spiders"

# Where components (spider, pipeline, middleware) re-read newsmon's configuration in from_crawler.
NEWSMON_CONFIG_FILE = default_config_file()
NEWSMON_CONFIG_OVERRIDES: dict[str, object] = {}

# Retry only what may heal by itself: server errors, rate limiting, request timeouts.
RETRY_ENABLED = True
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]

# 429/503 with Retry-After: wait that long (at most this many seconds) before the retry; a
# server asking for longer is not retried in this crawl (the next poll tries again).
NEWSMON_RETRY_AFTER_MAX = 60.0

DOWNLOADER_MIDDLEWARES = {
    # before RobotsTxtMiddleware (100): a refused request must not even fetch robots.txt
    "newsmon.crawlers.middlewares.PrivateAddressGuardMiddleware": 50,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "newsmon.crawlers.middlewares.RetryAfterMiddleware": 550,  # in RetryMiddleware's place
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "newsmon.crawlers.middlewares.GuardedRedirectMiddleware": 600,  # says why: loop, file: target
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "newsmon.crawlers.middlewares.HeadMetaRefreshMiddleware": 580,  # no whole-body decode per page
}
# The SSRF guard's connect-time half: refuses private DNS answers nobody approved (rebinding).
TWISTED_DNS_RESOLVER = "newsmon.crawlers.middlewares.GuardedResolver"
ITEM_PIPELINES = {"newsmon.crawlers.pipelines.StorePagePipeline": 300}

# Extraction runs in worker processes, off the reactor thread (newsmon.crawlers.extraction_pool).
# 0 = as many as this process may use CPUs; -1 = no pool, extract in the reactor thread.
NEWSMON_EXTRACT_WORKERS = 0
# Pages handed to the pool and not yet back; the rest wait (and Scrapy's scraper slot, below,
# stops new downloads), so memory stays flat however long the crawl.
NEWSMON_EXTRACT_MAX_PENDING = 0  # 0 = 4 per worker
# Fresh workers after this many pages (0 = never): what extraction leaves behind in a worker
# (caches, a fragmented heap) goes with it. Forking one from the fork server takes milliseconds.
NEWSMON_EXTRACT_RECYCLE_AFTER = 500
# Responses (by body size) waiting for the item pipeline before Scrapy stops starting downloads.
# Scrapy's 5 MB is about 15 news pages: too few to keep the workers busy while downloads refill.
SCRAPER_SLOT_MAX_ACTIVE_SIZE = 15_000_000

CONCURRENT_REQUESTS = 16
# Items and requests of one response handled side by side. Scrapy's 100 starts 100 asyncio tasks
# for every response; ours yield one page, or links (cheap to schedule) and at most one page.
CONCURRENT_ITEMS = 8
DOWNLOAD_DELAY_JITTER = 0.5
REDIRECT_MAX_TIMES = 5
HTTPCACHE_ENABLED = False
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False  # Scrapy 2.19's HTTP control server (it runs code): never
AUTOTHROTTLE_ENABLED = False
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
LOG_LEVEL = "INFO"  # `newsmon crawl/run` pass their own -v/-q level to the child

try:
    globals().update(crawler_settings(load_config(NEWSMON_CONFIG_FILE)))
except ConfigError as exc:  # `scrapy list`/`scrapy crawl` with a broken config: one line, exit 2
    print(f"Error: {exc}", file=sys.stderr)
    raise SystemExit(2) from None
