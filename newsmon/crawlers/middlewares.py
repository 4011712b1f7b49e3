"""Downloader middleware: refuse requests to private networks (SSRF guard).

A feed is untrusted input: its links, and every redirect, could point at the host's own
services (127.0.0.1, 10.0.0.0/8, 169.254.169.254 cloud metadata...). Each request, including
every redirect hop (redirects come back through `process_request`), is checked against its
source's `allow_private` flag, after resolving the host name.

Known limit: the name is resolved here and again by the downloader, so a DNS answer that
changes in between (DNS rebinding) is not caught.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest

from newsmon.config import Config
from newsmon.crawlers.config import config_from_settings
from newsmon.crawlers.stats import SOURCE_META, stat_key

log = logging.getLogger(__name__)
Resolver = Callable[[str], Awaitable[list[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class PrivateAddressGuardMiddleware:
    def __init__(self, crawler: Crawler, config: Config, resolve: Resolver | None = None) -> None:
        self.crawler = crawler
        self.allow_private = {s.name: s.allow_private for s in config.sources}
        self.timeout = config.crawl.timeout
        self.resolve = resolve or resolve_host
        self._cache: dict[str, list[str]] = {}
        self._approved_netlocs: set[str] = set()  # private hosts a source was allowed to reach

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PrivateAddressGuardMiddleware:
        return cls(crawler, config_from_settings(crawler.settings))

    async def process_request(self, request: Request) -> None:
        source = request.meta.get(SOURCE_META)
        reason = await self.refusal_reason(request.url, source)
        if reason is None:
            return
        log.warning("refused %s (source %s): %s", request.url, source or "none", reason)
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value("newsmon/refused_private")
            if source:
                self.crawler.stats.set_value(stat_key(source, "refused"), reason)
        raise IgnoreRequest(f"refused: {reason}")

    async def refusal_reason(self, url: str, source: str | None) -> str | None:
        """Why `url` may not be fetched for `source`, or None if it may."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return f"scheme {parts.scheme or 'none'!r} is not http(s)"
        host = parts.hostname or ""
        if not host:
            return "no host in URL"
        if source is None and parts.netloc in self._approved_netlocs:
            return None  # e.g. robots.txt for a host its source was allowed to reach
        private = await self._private_address(host)
        if private is None:
            return None
        if source is not None and self.allow_private.get(source, False):
            self._approved_netlocs.add(parts.netloc)
            return None
        return f"host {host} {private} (set allow_private: true on the source to allow it)"

    async def _private_address(self, host: str) -> str | None:
        """'is loopback address 127.0.0.1' etc. when the host is or resolves to a non-public one."""
        literal = _is_ip(host)
        try:
            addresses = [host.strip("[]")] if literal else await self._resolve(host)
        except (OSError, asyncio.TimeoutError):
            return None  # unresolvable: the download fails with a DNS error of its own
        verb = "is" if literal else "resolves to"
        for address in addresses:
            kind = classify_address(address)
            if kind:
                return f"{verb} {kind} address {address}"
        return None

    async def _resolve(self, host: str) -> list[str]:
        if host not in self._cache:
            self._cache[host] = await asyncio.wait_for(self.resolve(host), self.timeout)
        return self._cache[host]


async def resolve_host(host: str) -> list[str]:
    """Every address the system resolver gives for `host` (run off the event loop)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def classify_address(address: str) -> str | None:
    """'private', 'loopback', ... for a non-public IP address; None for a public one."""
    ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    checks = (("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
              ("multicast", ip.is_multicast), ("unspecified", ip.is_unspecified),
              ("reserved", ip.is_reserved), ("private", ip.is_private or not ip.is_global))
    return next((name for name, hit in checks if hit), None)
