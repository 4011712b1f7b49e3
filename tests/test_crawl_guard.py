"""The SSRF guard (downloader middleware) on its own, with a fake resolver: no network."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector

from newsmon.config import Config
from newsmon.crawlers.middlewares import PrivateAddressGuardMiddleware, classify_address

DNS = {"news.example": ["93.184.216.34"], "sneaky.example": ["93.184.216.34", "10.1.2.3"],
       "metadata.example": ["169.254.169.254"], "v6.example": ["::1"]}


async def fake_resolve(host: str) -> list[str]:
    if host not in DNS:
        raise OSError(f"cannot resolve {host}")
    return DNS[host]


def guard() -> PrivateAddressGuardMiddleware:
    config = Config.model_validate({"sources": [
        {"name": "public", "url": "https://news.example/feed.xml"},
        {"name": "intranet", "url": "http://10.0.0.5/feed.xml", "allow_private": True}]})
    crawler = SimpleNamespace(stats=MemoryStatsCollector(SimpleNamespace(settings=Settings())))
    return PrivateAddressGuardMiddleware(crawler, config, resolve=fake_resolve)  # type: ignore[arg-type]


@pytest.mark.parametrize(("url", "source", "expected"), [
    ("https://news.example/a.html", "public", None),
    ("http://93.184.216.34/a.html", "public", None),
    ("http://unresolvable.example/a.html", "public", None),  # the download fails with a DNS error
    ("http://10.0.0.5/feed.xml", "intranet", None),
    ("http://127.0.0.1:8080/", "intranet", None),
    ("http://10.0.0.5/feed.xml", "public", "is private address 10.0.0.5"),
    ("http://127.0.0.1:8080/", "public", "is loopback address 127.0.0.1"),
    ("http://[::1]/", "public", "is loopback address ::1"),
    ("http://[::ffff:192.168.0.1]/", "public", "is private address ::ffff:192.168.0.1"),
    ("http://0.0.0.0/", "public", "is unspecified address 0.0.0.0"),
    ("http://224.0.0.1/", "public", "is multicast address 224.0.0.1"),
    ("http://240.0.0.1/", "public", "is reserved address 240.0.0.1"),
    ("http://100.64.0.1/", "public", "is private address 100.64.0.1"),  # carrier-grade NAT: not global
    ("http://169.254.169.254/latest/meta-data/", "public", "is link-local address 169.254.169.254"),
    ("http://metadata.example/", "public", "resolves to link-local address 169.254.169.254"),
    ("http://sneaky.example/", "public", "resolves to private address 10.1.2.3"),
    ("http://v6.example/", "public", "resolves to loopback address ::1"),
    ("http://127.0.0.1/", None, "is loopback address 127.0.0.1"),  # no source: never private
    ("http://127.0.0.1/", "unknown-source", "is loopback address 127.0.0.1"),
    ("file:///etc/passwd", "intranet", "scheme 'file' is not http(s)"),
    ("ftp://news.example/", "public", "scheme 'ftp' is not http(s)"),
])
def test_refusal_reason(url: str, source: str | None, expected: str | None) -> None:
    reason = asyncio.run(guard().refusal_reason(url, source))
    if expected is None:
        assert reason is None
    else:
        assert reason is not None and expected in reason, reason


def test_every_redirect_hop_is_checked() -> None:
    """RedirectMiddleware sends each hop back through process_request with the same meta."""
    middleware = guard()
    hop = Request("http://metadata.example/latest/meta-data/",
                  meta={"newsmon_source": "public", "redirect_urls": ["https://news.example/a.html"]})
    with pytest.raises(IgnoreRequest, match="refused: host metadata.example resolves to link-local address 169.254.169.254"):
        asyncio.run(middleware.process_request(hop))
    assert middleware.crawler.stats.get_value("newsmon/refused_private") == 1


def test_robots_txt_follows_the_approval_of_its_host() -> None:
    """robots.txt requests carry no source: allowed only where a source was allowed to go."""
    middleware = guard()

    async def scenario() -> list[str | None]:
        before = await middleware.refusal_reason("http://10.0.0.5/robots.txt", None)
        await middleware.refusal_reason("http://10.0.0.5/feed.xml", "intranet")
        after = await middleware.refusal_reason("http://10.0.0.5/robots.txt", None)
        return [before, after]

    before, after = asyncio.run(scenario())
    assert before and "private" in before and after is None


@pytest.mark.parametrize(("address", "kind"), [("8.8.8.8", None), ("2001:4860:4860::8888", None),
                                               ("192.168.1.1", "private"), ("fe80::1", "link-local"),
                                               ("fd00::1", "private"), ("ff02::1", "multicast")])
def test_classify_address(address: str, kind: str | None) -> None:
    assert classify_address(address) == kind
