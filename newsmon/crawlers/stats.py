"""Names shared by the spider, the item pipeline and the runner: request meta keys, stats keys,
and one-line descriptions of download failures."""

from __future__ import annotations

from scrapy.exceptions import (CannotResolveHostError, DownloadCancelledError, DownloadConnectionRefusedError,
                               DownloadFailedError, DownloadTimeoutError, IgnoreRequest,
                               ResponseDataLossError, UnsupportedURLSchemeError)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

SOURCE_META = "newsmon_source"  # request.meta key: the source a request was made for
ENTRY_META = "newsmon_entry"  # request.meta key: the FeedEntry an article request follows
DEPTH_META = "newsmon_depth"  # request.meta key: link hops from the source URL (sitemap nesting, site depth)
CHANGED_META = "newsmon_changed_at"  # request.meta key: the sitemap's lastmod for the requested URL
DISCOVERED_META = "newsmon_discovered"  # request.meta key: a feed URL found on the source's HTML page
PREFIX = "newsmon/source/"
# per-source stats are named after runner.SourceReport's fields: newsmon/source/NAME/FIELD


def stat_key(source: str, name: str) -> str:
    return f"{PREFIX}{source}/{name}"


_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (CannotResolveHostError, "DNS lookup failed"),
    (DownloadTimeoutError, "timed out"),
    (DownloadConnectionRefusedError, "connection refused"),
    (ResponseDataLossError, "response cut off (data loss)"),
    (UnsupportedURLSchemeError, "unsupported URL scheme"),
    (DownloadFailedError, "download failed"),
)


def describe_failure(failure: Failure, max_bytes: int) -> str:
    """One line saying why a request failed (for logs, stats and the database)."""
    exc = failure.value
    if isinstance(exc, HttpError):
        return f"HTTP {exc.response.status}"
    if isinstance(exc, IgnoreRequest):
        return str(exc) or "request ignored"
    if isinstance(exc, DownloadCancelledError) or "maxsize" in str(exc):
        return f"response larger than the {max_bytes}-byte limit (crawl.max_bytes)"
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return f"{reason}: {_first_line(exc)}"
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] or type(exc).__name__


def is_transient(failure: Failure) -> bool:
    """May the same request work later? (timeouts, connection trouble, 5xx, 429, 408)."""
    exc = failure.value
    if isinstance(exc, HttpError):
        return exc.response.status >= 500 or exc.response.status in (408, 429)
    return not isinstance(exc, (IgnoreRequest, DownloadCancelledError, UnsupportedURLSchemeError))
