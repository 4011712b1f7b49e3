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

DOWNLOADER_MIDDLEWARES = {
    # before RobotsTxtMiddleware (100): a refused request must not even fetch robots.txt
    "newsmon.crawlers.middlewares.PrivateAddressGuardMiddleware": 50,
}
ITEM_PIPELINES = {"newsmon.crawlers.pipelines.StorePagePipeline": 300}

CONCURRENT_REQUESTS = 16
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
