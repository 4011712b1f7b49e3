"""Downloader components: the SSRF guard (two halves) and Retry-After.

A feed is untrusted input: its links, and every redirect, could point at the host's own
services (127.0.0.1, 10.0.0.0/8, 169.254.169.254 cloud metadata...). The guard has two halves:

1. `PrivateAddressGuardMiddleware` checks each request, including every redirect hop
   (redirects come back through `process_request`), against its source's `allow_private` flag,
   after resolving the host name. It refuses early, with a clear reason, before robots.txt.
2. `GuardedResolver` (TWISTED_DNS_RESOLVER) checks the address the downloader actually connects
   to: a name answering with a non-public address is refused unless the middleware approved
   that host for a source with `allow_private`. So a DNS answer that changes between the check
   and the connection (DNS rebinding) is refused too. The resolver sees host names only, not
   requests: an approval covers the host name (any port) for the rest of the crawl.

`RetryAfterMiddleware` replaces Scrapy's RetryMiddleware: it waits as long as a 429 or 503
answer's Retry-After asks before retrying (up to NEWSMON_RETRY_AFTER_MAX seconds; a longer
wish is not retried in this crawl: the next poll tries again).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware, RedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import CannotResolveHostError, IgnoreRequest
from scrapy.http import Response
from scrapy.resolver import CachingThreadedResolver
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import defer, task
from twisted.internet.error import DNSLookupError

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
        reason = await self.refusal_reason(request.url, request.meta.get(SOURCE_META))
        if reason is not None:
            self.refuse(request, reason)

    def process_exception(self, request: Request, exception: Exception) -> None:
        """A connection the resolver refused fails as a DNS error: say why instead."""
        reason = connect_refusal(request, exception)
        if reason:
            self.refuse(request, reason)

    def refuse(self, request: Request, reason: str) -> None:
        source = request.meta.get(SOURCE_META)
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
            self._approve(parts.netloc, host)
            return None
        return f"host {host} {private} (set allow_private: true on the source to allow it)"

    def _approve(self, netloc: str, host: str) -> None:
        """Remember a private host a source may reach, here and in the connect-time resolver."""
        self._approved_netlocs.add(netloc)
        resolver = installed_resolver()
        if resolver is not None:
            resolver.allow_host(host)

    async def _private_address(self, host: str) -> str | None:
        """'is loopback address 127.0.0.1' etc. when the host is or resolves to a non-public one."""
        literal = _is_ip(host)
        try:
            addresses = [host.strip("[]")] if literal else await self._resolve(host)
        except (TimeoutError, OSError):
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


# -- connect time -----------------------------------------------------------------------------------
class GuardedResolver(CachingThreadedResolver):
    """Scrapy's caching resolver that refuses non-public answers for hosts nobody approved."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allowed_hosts: set[str] = set()
        self.refusals: dict[str, str] = {}  # host -> why its answer was refused (for the middleware)

    def allow_host(self, host: str) -> None:
        self.allowed_hosts.add(host.strip("[]").lower())

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> defer.Deferred[str]:
        return self.lookup(name, timeout).addCallback(self.check_answer, name)

    def lookup(self, name: str, timeout: Any = ()) -> defer.Deferred[str]:
        """The plain (cached, threaded) lookup; tests replace it with a fixed table."""
        return super().getHostByName(name, timeout)

    def check_answer(self, address: str, name: str) -> str:
        if name.strip("[]").lower() in self.allowed_hosts:
            return address
        kind = classify_address(address)
        if kind:
            reason = (f"host {name} resolves to {kind} address {address} at connect time "
                      f"(set allow_private: true on the source to allow it)")
            self.refusals[name.strip("[]").lower()] = reason
            raise DNSLookupError(f"refused: {reason}")  # Twisted turns it into "no results"
        return address


def connect_refusal(request: Request, exception: Exception) -> str | None:
    """Why the resolver refused the request's host, when that is why the download failed."""
    resolver = installed_resolver()
    if resolver is None or not isinstance(exception, (DNSLookupError, CannotResolveHostError)):
        return None
    return resolver.refusals.get((urlsplit(request.url).hostname or "").lower())


def installed_resolver() -> GuardedResolver | None:
    """The reactor's resolver when it is newsmon's (not under a plain Scrapy setup)."""
    from twisted.internet import reactor

    resolver = getattr(reactor, "resolver", None)
    return resolver if isinstance(resolver, GuardedResolver) else None


# -- redirects ----------------------------------------------------------------------------------------
class GuardedRedirectMiddleware(RedirectMiddleware):
    """RedirectMiddleware that fails with a reason where Scrapy's stays silent.

    A loop (A -> B -> A) would end in the duplicate filter, unreported; a redirect to a
    non-http(s) scheme (file:, ftp:, javascript:) would surface as a bare "HTTP 302".
    """

    def process_response(self, request: Request, response: Response,  # type: ignore[override]
                         spider: object = None) -> Request | Response:
        location = response.headers.get(b"Location")
        if location and response.status in (301, 302, 303, 307, 308) and not request.meta.get("dont_redirect"):
            scheme = urlsplit(urljoin(request.url, location.decode("latin-1"))).scheme
            if scheme not in ("http", "https"):  # checked first: Scrapy cannot even build javascript: URLs
                raise IgnoreRequest(f"refused: redirect to scheme {scheme or 'none'!r}, not http(s)")
        result = super().process_response(request, response)
        if isinstance(result, Request):
            seen = [*request.meta.get("redirect_urls", []), request.url]
            if result.url in seen:
                raise IgnoreRequest(f"redirect loop: back to {result.url} after {len(seen)} hop(s)")
        return result


class HeadMetaRefreshMiddleware(MetaRefreshMiddleware):
    """Scrapy's meta-refresh redirects, without decoding every page to look for one.

    Scrapy decodes the whole body (``response.text``) to read its first 4,096 characters, and an
    article is decoded once more in an extraction worker: that decoding was 6% of the crawl
    process's CPU. A refresh needs the word "refresh" in those characters, so the raw bytes that
    can hold them are searched first (UTF-16 pages, whose bytes the search cannot read, always
    take Scrapy's path).
    """

    HEAD_BYTES = 4 * 4096  # 4,096 characters of at most 4 bytes each

    def process_response(self, request: Request, response: Response,  # type: ignore[override]
                         spider: object = None) -> Request | Response:
        head = response.body[:self.HEAD_BYTES]
        if b"refresh" not in head.lower() and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
            return response
        return super().process_response(request, response)


# -- Retry-After ----------------------------------------------------------------------------------
class RetryAfterMiddleware(RetryMiddleware):
    """RetryMiddleware that waits for a 429/503's Retry-After (capped) before the retry."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.max_wait = settings.getfloat("NEWSMON_RETRY_AFTER_MAX", 60.0)

    async def process_response(self, request: Request, response: Response,  # type: ignore[override]
                               spider: object = None) -> Request | Response:
        wait = retry_after_seconds(response.headers.get(b"Retry-After"))
        if wait is None or response.status not in (429, 503) or request.meta.get("dont_retry"):
            return super().process_response(request, response)
        if wait > self.max_wait:
            log.warning("not retrying %s in this crawl: HTTP %d asks to wait %.0f s (more than "
                        "NEWSMON_RETRY_AFTER_MAX %.0f s)", request.url, response.status, wait, self.max_wait)
            return response
        retry = self._retry(request, f"HTTP {response.status}, Retry-After {wait:g} s")
        if retry is None:
            return response
        if wait > 0:
            from twisted.internet import reactor

            await maybe_deferred_to_future(task.deferLater(reactor, wait, lambda: None))
        return retry

    def process_exception(self, request: Request, exception: Exception,  # type: ignore[override]
                          spider: object = None) -> Request | Response | None:
        if connect_refusal(request, exception):
            return None  # refused by the guard, not a passing DNS failure: no retry
        return super().process_exception(request, exception)


def retry_after_seconds(value: bytes | None, now: float | None = None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - (time.time() if now is None else now))
