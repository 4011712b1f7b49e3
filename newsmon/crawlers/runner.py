"""Run a crawl in a child process and get a `CrawlReport` back.

Twisted's reactor cannot be restarted inside one process, and `newsmon run --every 15m` and the
tests crawl many times, so every crawl gets a fresh interpreter:

    report = crawl("newsmon.yaml", ["demo-daily"], {"database": "sqlite:///other.db"})

The child runs one spider per kind of source selected (feeds, sitemaps, site) side by side in
one CrawlerProcess, and reports every source the same way (`SourceReport`).

The child is `python -m newsmon.crawlers.runner --report FILE [--config FILE] [--source NAME]...
[--overrides JSON]`. It writes the report (or a one-line error) as JSON to FILE and exits with
  0  the crawl ran; each source's outcome is in the report (a failed source is not a crash)
  1  the crawl could not run (database unreachable, crash); the report holds the reason
  2  configuration or usage error; the report holds the reason
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsmon.config import Config, load_config
from newsmon.errors import ConfigError, NewsmonError

if TYPE_CHECKING:  # the parent side never imports Scrapy
    from scrapy.settings import Settings

log = logging.getLogger(__name__)
EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


@dataclass(slots=True)
class SourceReport:
    """One source's poll: the answer to its URL and what became of the links found.

    Per kind: `entries` are a feed's entries, the URLs listed in the sitemaps read, or the
    in-scope links a site crawl found; `new_links` are the pages handed on for storing (not
    stored before, up to the per-source cap; for a site crawl, those that looked like articles).
    """

    name: str
    ok: bool
    error: str | None = None
    feed_status: int | None = None  # the source URL's answer: 200, 304, 404 ... None if no answer
    entries: int = 0
    new_links: int = 0
    stored: int = 0  # new articles
    duplicates: int = 0  # pages that turned out to be an article already stored
    not_articles: int = 0  # pages refused by extraction (binary, not HTML, empty)
    failed_requests: int = 0  # article downloads that failed (HTTP error, timeout, size cap...)
    store_errors: int = 0  # pages whose storing raised (database trouble)
    last_request_error: str | None = None
    kind: str = "feed"  # feed, sitemap or site
    discovered_feed: str | None = None  # feed: the feed found on the source URL's HTML page
    sitemaps: int = 0  # sitemap: sitemap files read (index and children)
    old_links: int = 0  # sitemap: URLs skipped as unchanged since the last successful poll
    pages: int = 0  # site: pages fetched (home, sections, tags, articles)
    page_cap_reached: bool = False  # site: links were left unfollowed at the source's max_pages


@dataclass(slots=True)
class CrawlReport:
    sources: list[SourceReport] = field(default_factory=list)
    finish_reason: str = "finished"
    requests: int = 0  # HTTP requests sent, robots.txt and retries included
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(s.ok and not s.store_errors for s in self.sources)

    @property
    def failed_sources(self) -> list[str]:
        return [s.name for s in self.sources if not s.ok]

    def total(self, counter: str) -> int:
        """Sum of one SourceReport counter over all sources, e.g. total("stored")."""
        return sum(int(getattr(s, counter)) for s in self.sources)

    @property
    def stored(self) -> int:
        return self.total("stored")

    @property
    def duplicates(self) -> int:
        return self.total("duplicates")

    def to_dict(self) -> dict[str, Any]:
        totals = {name: self.total(name) for name in _COUNTERS}
        return {**asdict(self), "ok": self.ok, "failures": len(self.failed_sources), "totals": totals}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CrawlReport:
        known = {f.name for f in fields(SourceReport)}
        sources = [SourceReport(**{k: v for k, v in s.items() if k in known}) for s in data["sources"]]
        return cls(sources, data["finish_reason"], data["requests"], data["seconds"])


_COUNTERS = ("entries", "new_links", "stored", "duplicates", "not_articles", "failed_requests", "store_errors",
             "sitemaps", "old_links", "pages")


# -- parent side --------------------------------------------------------------------------------
def crawl(config_path: str | None, source_names: list[str] | None = None,
          overrides: dict[str, Any] | None = None, timeout: float | None = None) -> CrawlReport:
    """Crawl the named sources (every source if None), of every kind, in a fresh child process."""
    from newsmon.crawlers.config import select_sources

    config = load_config(config_path, overrides)  # fail fast, in this process, on a bad config
    select_sources(config, source_names)
    with tempfile.TemporaryDirectory(prefix="newsmon-crawl-") as tmp:
        report_file = Path(tmp) / "report.json"
        code = _run_child(child_command(config, source_names, overrides, report_file), timeout)
        return _read_report(report_file, code)


def child_command(config: Config, source_names: list[str] | None, overrides: dict[str, Any] | None,
                  report_file: Path) -> list[str]:
    # the child logs at the parent's level (newsmon -v / -q), so cron stays quiet
    level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
    command = [sys.executable, "-m", "newsmon.crawlers.runner", "--report", str(report_file),
               "--log-level", level]
    if config.path:
        command += ["--config", str(Path(config.path).resolve())]
    for name in source_names or []:
        command += ["--source", name]
    if overrides:
        command += ["--overrides", json.dumps(overrides)]
    return command


def _run_child(command: list[str], timeout: float | None) -> int:
    try:
        return subprocess.run(command, stdin=subprocess.DEVNULL, timeout=timeout, check=False).returncode
    except subprocess.TimeoutExpired:
        raise NewsmonError(f"crawl did not finish within {timeout:g} s and was stopped") from None
    except OSError as exc:
        raise NewsmonError(f"cannot start the crawl process: {exc}") from None


def _read_report(report_file: Path, code: int) -> CrawlReport:
    try:
        data = json.loads(report_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        raise NewsmonError(f"the crawl process {how} without a report (see its log above)") from None
    if "error" in data:
        error = ConfigError if data.get("exit_code") == EXIT_CONFIG else NewsmonError
        raise error(data["error"])
    return CrawlReport.from_dict(data)


# -- child side ---------------------------------------------------------------------------------
def run_crawl(config: Config, source_names: list[str] | None,
              overrides: dict[str, Any] | None, log_level: str | None = None) -> CrawlReport:
    """Run one spider per kind of selected source in this process (once: the reactor cannot be
    restarted); every spider shares the reactor, the settings and the politeness slots."""
    from scrapy.crawler import CrawlerProcess

    from newsmon.crawlers.config import select_sources
    from newsmon.storage.repository import open_repository

    sources = select_sources(config, source_names)
    open_repository(config.database, upgrade=True).close()  # a database problem is one clear line
    started = time.monotonic()
    settings = project_settings(config, overrides)
    if log_level:
        settings.set("LOG_LEVEL", log_level, priority="cmdline")
    process = CrawlerProcess(settings)
    crawlers = []
    for spider_class in spider_classes():
        names = [s.name for s in sources if s.kind == spider_class.kind]
        if names:
            crawlers.append(process.create_crawler(spider_class))
            process.crawl(crawlers[-1], source=",".join(names))
    if crawlers:
        process.start()
    stats = merge_stats([c.stats.get_stats() for c in crawlers if c.stats is not None])
    return build_report([s.name for s in sources], stats, time.monotonic() - started)


def spider_classes() -> list[Any]:
    """The spider for each kind of source (feeds, sitemaps, site)."""
    from newsmon.crawlers.spiders.feeds import FeedsSpider
    from newsmon.crawlers.spiders.site import SiteSpider
    from newsmon.crawlers.spiders.sitemaps import SitemapsSpider

    return [FeedsSpider, SitemapsSpider, SiteSpider]


def merge_stats(per_spider: list[dict[str, Any]]) -> dict[str, Any]:
    """One stats dict for the report: per-source keys are disjoint, request counts add up, and the
    first finish reason other than "finished" wins."""
    merged: dict[str, Any] = {"finish_reason": "finished", "downloader/request_count": 0}
    for stats in per_spider:
        merged.update({k: v for k, v in stats.items() if k not in merged})
        merged["downloader/request_count"] += int(stats.get("downloader/request_count", 0))
        if stats.get("finish_reason", "finished") != "finished" and merged["finish_reason"] == "finished":
            merged["finish_reason"] = stats["finish_reason"]
    return merged


def project_settings(config: Config, overrides: dict[str, Any] | None) -> Settings:
    """newsmon.crawlers.settings, then the configuration (with overrides) on top."""
    from scrapy.settings import Settings

    from newsmon.crawlers.config import crawler_settings

    if config.path:  # so the settings module reads the same file, not ./newsmon.yaml
        os.environ["NEWSMON_CONFIG"] = str(config.path)
    settings = Settings()
    settings.setmodule("newsmon.crawlers.settings", priority="project")
    settings.setdict({**crawler_settings(config), "NEWSMON_CONFIG_FILE": config.path,
                      "NEWSMON_CONFIG_OVERRIDES": overrides or {}}, priority="cmdline")
    return settings


def build_report(names: list[str], stats: dict[str, Any], seconds: float) -> CrawlReport:
    from newsmon.crawlers.stats import stat_key

    sources = []
    for name in names:
        values = {f.name: stats.get(stat_key(name, f.name)) for f in fields(SourceReport) if f.name != "name"}
        report = SourceReport(name, ok=bool(values.pop("ok")),
                              **{k: v for k, v in values.items() if v is not None})
        if not report.ok and not report.error:
            report.error = f"the {report.kind} source was not read (see the crawl log)"
        sources.append(report)
    return CrawlReport(sources, str(stats.get("finish_reason", "unknown")),
                       int(stats.get("downloader/request_count", 0)), round(seconds, 3))


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        overrides = json.loads(args.overrides) if args.overrides else None
        config = load_config(args.config, overrides)
        result: dict[str, Any] = run_crawl(config, args.source or None, overrides, args.log_level).to_dict()
        code = EXIT_OK
    except NewsmonError as exc:
        result, code = {"error": str(exc), "exit_code": exc.exit_code}, exc.exit_code
    except Exception as exc:  # noqa: BLE001 - the parent gets one line; the traceback goes to the log
        log.exception("crawl crashed")
        result, code = {"error": f"crawl crashed: {type(exc).__name__}: {exc}", "exit_code": EXIT_FAILED}, EXIT_FAILED
    Path(args.report).write_text(json.dumps(result, default=str), encoding="utf-8")
    return code


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m newsmon.crawlers.runner",
                                     description="Run one newsmon crawl (the child of newsmon.crawlers.runner.crawl).")
    parser.add_argument("--report", required=True, help="write the JSON report here")
    parser.add_argument("--config", help="configuration file (default: $NEWSMON_CONFIG, ./newsmon.yaml)")
    parser.add_argument("--source", action="append", help="a source to crawl (repeatable; default all)")
    parser.add_argument("--log-level", help="Scrapy LOG_LEVEL for this crawl (default INFO)")
    parser.add_argument("--overrides", help="JSON object of dotted config keys, e.g. {\"database\": \"...\"}")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
