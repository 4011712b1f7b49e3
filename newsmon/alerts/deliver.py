"""Deliver a rendered notification through apprise, and pace retries.

apprise reports failure by returning False (and logging why) rather than raising; ``send``
turns both a refused URL and a failed delivery into DeliveryError with one masked line.
"""

from __future__ import annotations

import random
from urllib.parse import parse_qs, urlsplit

import apprise

from newsmon.config import DeliverySettings, mask_secrets, parse_duration
from newsmon.errors import NewsmonError


class DeliveryError(NewsmonError):
    """A notification could not be delivered (the message is one line, secrets masked)."""


KEY_HEADER = "X-Newsmon-Key"


def send(channel_url: str, title: str, body: str, body_format: str, timeout: float,
         key: str | None = None) -> None:
    """Send one notification; raise DeliveryError if the URL is invalid or delivery fails.

    `timeout` bounds each socket connect and read (apprise's cto/rto), unless the URL sets them.
    `key`, the idempotency key, goes out as an ``X-Newsmon-Key`` header on services that send
    custom headers (json://, form://, xml://), so a receiver can drop a redelivery.
    """
    service = _instantiate(channel_url)
    _apply_timeout(service, channel_url, timeout)
    if key:
        headers = getattr(service, "headers", None)  # custom headers: json://, form://, xml://
        if isinstance(headers, dict):
            headers[KEY_HEADER] = key
    notifier = apprise.Apprise()
    if not notifier.add(service):
        raise DeliveryError(f"invalid channel URL: {mask_secrets(channel_url)}")
    try:
        result = notifier.notify(body=body, title=title, body_format=body_format)
    except Exception as error:  # apprise plugins can raise; the caller needs one line
        raise DeliveryError(_failure(channel_url, f"{type(error).__name__}: {error}")) from None
    if not result:
        raise DeliveryError(_failure(channel_url, _reason(result)))


def send_test(channel_url: str, timeout: float) -> str:
    """Send a short test message; returns where it went (scheme://host only), or raises DeliveryError."""
    from newsmon.alerts.render import select_body_format

    body_format = select_body_format(channel_url)
    body = {"html": "<p>This is a <strong>test message</strong> from newsmon: the channel works.</p>",
            "markdown": "This is a **test message** from newsmon: the channel works.",
            }.get(body_format, "This is a test message from newsmon: the channel works.")
    send(channel_url, "[newsmon] test message", body, body_format, timeout)
    return describe_channel(channel_url)


def describe_channel(channel_url: str) -> str:
    """scheme://host[:port] of a channel URL, for messages that must not show its tokens."""
    return _describe(channel_url)


def _instantiate(channel_url: str) -> apprise.NotifyBase:
    try:
        service = apprise.Apprise.instantiate(channel_url, suppress_exceptions=True)
    except Exception:  # a malformed URL should read as invalid, whatever apprise raised
        service = None
    if service is None:
        raise DeliveryError(f"invalid channel URL: {mask_secrets(channel_url)}")
    return service


def _apply_timeout(service: apprise.NotifyBase, channel_url: str, timeout: float) -> None:
    asked = parse_qs(urlsplit(channel_url).query)
    if "cto" not in asked:
        service.socket_connect_timeout = timeout
    if "rto" not in asked:
        service.socket_read_timeout = timeout


def _reason(result: apprise.AppriseResult) -> str:
    """apprise's last warning or error for this call (captured per call, so thread-safe)."""
    problems = [entry.message for entry in result.logs() if entry.level in ("WARNING", "ERROR", "CRITICAL")]
    status = getattr(getattr(result, "status", None), "name", "FAILURE").lower()
    return problems[-1] if problems else f"apprise reported {status}"


def _failure(channel_url: str, reason: str) -> str:
    reason = " ".join(reason.split())
    return mask_secrets(f"delivery to {_describe(channel_url)} failed: {reason}")


def _describe(channel_url: str) -> str:
    """scheme://host[:port] only: paths and query strings of webhook URLs often hold tokens."""
    parts = urlsplit(channel_url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{f':{parts.port}' if _safe_port(parts) else ''}"


def _safe_port(parts) -> int | None:  # type: ignore[no-untyped-def]
    try:
        return parts.port
    except ValueError:
        return None


def next_attempt_delay(attempts: int, settings: DeliverySettings, rng: random.Random | None = None) -> float:
    """Seconds to wait after `attempts` failed attempts: full jitter over a capped doubling.

    Full jitter (uniform between 0 and the capped exponential) spreads retries of many
    notifications that failed together, so a recovering receiver is not hit all at once.
    """
    base = parse_duration(settings.backoff)
    cap = parse_duration(settings.backoff_max)
    ceiling = min(cap, base * 2 ** min(max(attempts, 1) - 1, 64))
    return (rng or random).uniform(0, ceiling)
