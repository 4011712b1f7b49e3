"""Scrapy settings derived from newsmon's configuration (pure functions and the settings module)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from newsmon.config import Config
from newsmon.crawlers.config import crawler_settings, download_slots, select_feed_sources
from newsmon.errors import ConfigError
from tests.sites import feed_source, write_config


def config(**crawl: object) -> Config:
    return Config.model_validate({"crawl": crawl, "sources": [
        {"name": "a", "url": "https://news.example/a.xml", "delay": 2.0},
        {"name": "b", "url": "https://news.example/b.xml", "concurrency_per_domain": 4, "delay": 1.0},
        {"name": "c", "url": "https://other.example/c.xml", "concurrency_per_domain": 1},
        {"name": "d", "url": "https://plain.example/d.xml"},
        {"name": "s", "kind": "sitemap", "url": "https://plain.example/sitemap.xml"}]})


def test_crawler_settings_come_from_the_config() -> None:
    settings = crawler_settings(config(timeout=7, max_bytes=1000, delay=0.25, concurrency_per_domain=3,
                                       retries=1, user_agent="probe/1 (+https://probe.example)"))
    assert {k: settings[k] for k in ("USER_AGENT", "DOWNLOAD_TIMEOUT", "DOWNLOAD_MAXSIZE", "DOWNLOAD_WARNSIZE",
                                     "DOWNLOAD_DELAY", "CONCURRENT_REQUESTS_PER_DOMAIN", "RETRY_TIMES")} == {
        "USER_AGENT": "probe/1 (+https://probe.example)", "DOWNLOAD_TIMEOUT": 7, "DOWNLOAD_MAXSIZE": 1000,
        "DOWNLOAD_WARNSIZE": 500, "DOWNLOAD_DELAY": 0.25, "CONCURRENT_REQUESTS_PER_DOMAIN": 3, "RETRY_TIMES": 1}


def test_download_slots_take_the_most_polite_override_per_host() -> None:
    assert download_slots(config(delay=0.5, concurrency_per_domain=2)) == {
        "news.example": {"delay": 2.0, "concurrency": 2},  # a: delay 2 + default 2; b: delay 1, 4
        "other.example": {"delay": 0.5, "concurrency": 1},
    }


@pytest.mark.parametrize(("names", "expected"), [(None, ["a", "b", "c", "d"]), (["c"], ["c"])])
def test_select_feed_sources(names: list[str] | None, expected: list[str]) -> None:
    assert [s.name for s in select_feed_sources(config(), names)] == expected


@pytest.mark.parametrize(("names", "message"), [(["zz"], "unknown source 'zz'"), (["s"], "sitemap source")])
def test_select_feed_sources_refuses(names: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        select_feed_sources(config(), names)


def test_settings_module_reads_newsmon_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path, [feed_source("x", "http://127.0.0.1:9/f.xml", delay=0)], timeout=3,
                        max_bytes=4096, user_agent="probe/2")
    monkeypatch.setenv("NEWSMON_CONFIG", str(path))
    import newsmon.crawlers.settings as module

    settings = importlib.reload(module)
    assert (settings.NEWSMON_CONFIG_FILE, settings.USER_AGENT, settings.DOWNLOAD_TIMEOUT,
            settings.DOWNLOAD_MAXSIZE, settings.DOWNLOAD_SLOTS) == (
        str(path), "probe/2", 3, 4096, {"127.0.0.1": {"delay": 0, "concurrency": 8}})
    assert (settings.COOKIES_ENABLED, settings.TELNETCONSOLE_ENABLED, settings.HTTPCACHE_ENABLED,
            settings.AUTOTHROTTLE_ENABLED, settings.REMOTE_CONTROL_ENABLED, settings.ROBOTSTXT_OBEY) == (
        False, False, False, False, False, True)
    assert all(code >= 500 or code in (408, 429) for code in settings.RETRY_HTTP_CODES)
