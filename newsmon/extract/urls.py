"""Canonical URLs and content hashes: the keys that make storing an article idempotent."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

# Query parameters that only say how a reader arrived, never which page they read.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "twclid", "igshid", "mc_cid", "mc_eid",
    "ref", "ref_src", "ref_url", "referrer", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "cmpid",
    "icid", "ocid", "ncid", "s_cid", "spm", "soc_src", "soc_trk", "wt.mc_id", "wt_mc", "at_medium",
    "at_campaign", "at_custom1", "at_custom2", "at_custom3", "at_custom4", "vero_id",
    "oly_enc_id", "oly_anon_id", "__twitter_impression", "smid", "sr_share",
})
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "itm_")
DEFAULT_PORTS = {"http": 80, "https": 443}
_HTTP = re.compile(r"^https?://", re.IGNORECASE)


def is_tracking_param(name: str) -> bool:
    key = name.strip().lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def canonical_url(url: str, base: str | None = None) -> str:
    """Return the one spelling of ``url`` used as its identity.

    Resolves ``url`` against ``base``, lower-cases scheme and host, drops the default port,
    the fragment and tracking parameters, sorts the rest of the query and normalises
    percent-encoding. Non-HTTP URLs come back resolved and stripped but otherwise unchanged.
    Idempotent: ``canonical_url(canonical_url(u)) == canonical_url(u)``.
    """
    url = url.strip()
    if base:
        url = urljoin(base.strip(), url)
    # One pass is enough for real URLs; the loop makes odd inputs ("http://.:") settle too.
    for _ in range(4):
        once = _canonical_once(url)
        if once == url:
            break
        url = once
    return url


def _canonical_once(url: str) -> str:
    if not _HTTP.match(url):
        return url
    try:
        parts = urlsplit(url)
        if not parts.hostname:  # "http:///x" and friends have no identity to normalise
            return url
        netloc = _clean_netloc(parts.scheme.lower(), parts.netloc)
        query = urlencode(_clean_query(parts.query))
        return canonicalize_url(urlunsplit((parts.scheme.lower(), netloc, parts.path, query, "")))
    except ValueError:  # an invalid port or IPv6 literal: not canonicalisable, keep it as given
        return url


def _clean_netloc(scheme: str, netloc: str) -> str:
    """Lower-case the host and drop the scheme's default port (userinfo kept as is)."""
    userinfo, _, hostport = netloc.rpartition("@")
    host, port = _split_port(hostport)
    if port is not None and port == DEFAULT_PORTS.get(scheme):
        hostport = host
    return f"{userinfo}@{hostport.lower()}" if userinfo else hostport.lower()


def _split_port(hostport: str) -> tuple[str, int | None]:
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or host.endswith(":"):
        return hostport, None
    return host, int(port)


def _clean_query(query: str) -> list[tuple[str, str]]:
    pairs = parse_qsl(query, keep_blank_values=True)
    return sorted((k, v) for k, v in pairs if not is_tracking_param(k))


def content_hash(text: str) -> str:
    """sha256 hex of the text after Unicode (NFKC), case and whitespace normalisation."""
    normalised = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()
