from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.provisional import urls

from newsmon.extract import canonical_url, content_hash


@pytest.mark.parametrize(("url", "base", "expected"), [
    ("HTTP://Example.COM/News/A.html", None, "http://example.com/News/A.html"),
    ("http://example.com:80/a", None, "http://example.com/a"),
    ("https://example.com:443/a", None, "https://example.com/a"),
    ("http://example.com:8123/a", None, "http://example.com:8123/a"),
    ("https://example.com/a#comments", None, "https://example.com/a"),
    ("https://example.com", None, "https://example.com/"),
    ("https://example.com/a?b=2&a=1", None, "https://example.com/a?a=1&b=2"),
    ("https://example.com/a?utm_source=rss&utm_medium=feed&id=7", None, "https://example.com/a?id=7"),
    ("https://example.com/a?fbclid=x&gclid=y&mc_cid=1&mc_eid=2&ref=tw", None, "https://example.com/a"),
    ("https://example.com/a?UTM_Campaign=x", None, "https://example.com/a"),
    ("https://example.com/a?q=", None, "https://example.com/a?q="),
    ("https://example.com/a%7Eb/c%2fd", None, "https://example.com/a~b/c%2Fd"),
    ("https://example.com/a/../b/./c", None, "https://example.com/b/c"),
    ("  https://example.com/a  ", None, "https://example.com/a"),
    ("../b.html?utm_source=x", "http://127.0.0.1:8000/articles/a.html", "http://127.0.0.1:8000/b.html"),
    ("/articles/a.html", "HTTP://Example.com:80/x/", "http://example.com/articles/a.html"),
    ("https://user:pw@EXAMPLE.com/a", None, "https://user:pw@example.com/a"),
    ("mailto:desk@example.com", None, "mailto:desk@example.com"),
])
def test_canonical_url(url: str, base: str | None, expected: str) -> None:
    assert canonical_url(url, base) == expected


_QUERY_KEYS = st.sampled_from(["utm_source", "utm_medium", "fbclid", "ref", "id", "page", "Q", "a b"])


@st.composite
def _urls_with_queries(draw: st.DrawFn) -> str:
    pairs = draw(st.lists(st.tuples(_QUERY_KEYS | st.text(max_size=6), st.text(max_size=6)), max_size=4))
    query = "&".join(f"{key}={value}" for key, value in pairs)
    return f"{draw(urls())}?{query}#{draw(st.text(max_size=5))}"


@settings(max_examples=300, deadline=None)
@given(st.one_of(urls(), _urls_with_queries(), st.text(max_size=40).map(lambda s: "http://" + s)))
def test_canonical_url_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


@settings(max_examples=100, deadline=None)
@given(_urls_with_queries())
def test_canonical_url_drops_tracking_params(url: str) -> None:
    query = canonical_url(url).partition("?")[2]
    assert not any(pair.lower().startswith(("utm_", "fbclid=", "ref=")) for pair in query.split("&"))


@pytest.mark.parametrize(("a", "b"), [
    ("Hello   World", "hello world"),
    ("Hello\nWorld\t", " HELLO WORLD"),
    ("ﬁne print", "fine print"),  # NFKC folds the ligature
])
def test_content_hash_ignores_case_and_whitespace(a: str, b: str) -> None:
    assert content_hash(a) == content_hash(b)


def test_content_hash_is_sha256_hex_and_tells_texts_apart() -> None:
    digest = content_hash("Putin Orders Twitter to Open Russian Office")
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert digest != content_hash("Putin Orders Telegram to Open Russian Office")
