"""newsmon's feed reading (`parse_feed`): a table of cases, then every feed of the shared corpora."""

from __future__ import annotations

import json
import multiprocessing
import os
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from newsmon.crawlers.feeds import ParsedFeed, find_entity_declaration, parse_feed, resolve_link
from newsmon.records import FeedEntry
from tests.sites import BILLION_LAUGHS, DEMO_SITE, EXTERNAL_ENTITY, FEED_CORPORA, article_html

BASE = "http://news.test"
CORPUS_TIMEOUT = 120  # seconds for a whole corpus (about 5 s here): past it, a feed hangs the reader


def demo_feed() -> bytes:
    return (DEMO_SITE / "feed.xml").read_bytes().replace(b"{{BASE_URL}}", BASE.encode())


def test_demo_feed_entries() -> None:
    feed = parse_feed(demo_feed(), f"{BASE}/feed.xml", {"Content-Type": "application/rss+xml"})
    assert (feed.ok, feed.title, feed.version, len(feed.entries)) == (True, "Demo Daily", "rss20", 5)
    assert feed.entries[0] == FeedEntry(
        link=f"{BASE}/articles/putin-twitter-office.html",
        title="Putin Orders Twitter to Open Russian Office",
        entry_id="demo-daily-putin-twitter-office",
        published_at=datetime(2021, 7, 1, 11, 20, tzinfo=timezone.utc),  # 14:20 +0300
        authors=["Jane Doe"],
        summary="A new law obliges large foreign social networks to open offices in Russia or face "
                "fines and advertising bans.")


RSS091 = b"""<?xml version="1.0"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
 "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>Old</title><link>http://news.test/</link><description>d</description>
<item><title>One</title><link>/a/1.html</link><description><![CDATA[How <!ENTITY x "y"> works]]></description></item>
</channel></rss>"""
ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>A</title><id>urn:a</id><updated>2021-07-01T12:00:00Z</updated>
<entry><title>No link</title><id>urn:1</id><updated>2021-07-01T12:00:00Z</updated></entry>
<entry><title>Linked</title><id>urn:2</id><link href="https://news.test/2"/><updated>2021-07-01T12:00:00+02:00</updated>
<author><name>Ann</name></author><author><name>Bo</name></author></entry></feed>"""
RDF = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="http://news.test/"><title>R</title><link>http://news.test/</link><description>d</description>
<items><rdf:Seq><rdf:li resource="http://news.test/r1"/><rdf:li resource="http://news.test/r2"/></rdf:Seq></items>
</channel>
<item rdf:about="http://news.test/r1"><title>R1</title><link>http://news.test/r1</link></item>
<item rdf:about="http://news.test/r2"><title>R2</title><link>http://news.test/r2</link></item>
</rdf:RDF>"""
JSON_FEED = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "J",
                        "items": [{"id": "1", "url": "https://news.test/j1", "title": "J1",
                                   "date_published": "2021-07-01T12:00:00Z"}]}).encode()


@pytest.mark.parametrize(("body", "headers", "error", "links"), [
    (RSS091, {}, None, [f"{BASE}/a/1.html"]),  # DOCTYPE without entities; relative link resolved
    (ATOM, {}, None, ["https://news.test/2"]),  # the entry without a link is skipped
    (JSON_FEED, {"Content-Type": "application/feed+json"}, None, ["https://news.test/j1"]),
    (b"", {}, "empty response body", []),
    (b"   \n", {}, "empty response body", []),
    (article_html("Page").encode(), {"Content-Type": "text/html"}, "not a feed", []),
    (b"\x89PNG\r\n\x1a\n\x00\x00binary", {"Content-Type": "text/html"}, "not a feed", []),
    (b"/etc/passwd", {}, "not a feed", []),  # a body is never taken for a file name
    (b"http://127.0.0.1:9/feed.xml", {}, "not a feed", []),  # ... nor for a URL to fetch
    (BILLION_LAUGHS.encode(), {}, "refused: the XML DOCTYPE declares entity 'lol'", []),
    (EXTERNAL_ENTITY.encode(), {}, "refused: the XML DOCTYPE declares entity 'secret'", []),
    (BILLION_LAUGHS.replace('<?xml version="1.0"?>', "").encode("utf-16"), {}, "refused", []),
    ((DEMO_SITE / "broken" / "malformed-feed.xml").read_bytes(), {}, "feed is cut off", []),
    (RDF, {}, None, ["http://news.test/r1", "http://news.test/r2"]),  # RSS 1.0: items after </channel>
    (RDF[:RDF.index(b"<item rdf:about=\"http://news.test/r2")], {}, "feed is cut off", []),  # ... cut there
    (RDF.replace(b"<?xml", b"<!-- a comment --><?xml", 1).replace(b"?>", b"?>\n<!-- <rss> -->", 1), {}, None,
     ["http://news.test/r1", "http://news.test/r2"]),  # comments before the root are no root
], ids=["rss091-doctype", "atom", "json-feed", "empty", "blank", "html", "binary", "file-name", "url",
        "billion-laughs", "external-entity", "utf16-entities", "cut-off", "rdf", "rdf-cut-off", "rdf-comments"])
def test_parse_feed_cases(body: bytes, headers: dict[str, str], error: str | None, links: list[str]) -> None:
    feed = parse_feed(body, f"{BASE}/feed.xml", headers)
    if error is None:
        assert feed.error is None and [e.link for e in feed.entries] == links
    else:
        assert feed.error is not None and feed.error.startswith(error) and "\n" not in feed.error, feed.error


def test_ill_formed_but_complete_feed_is_read() -> None:
    """Real feeds often carry a stray '&': keep their entries, note the complaint."""
    body = demo_feed().replace(b"<title>Demo Daily</title>", b"<title>Demo & Daily</title>")
    feed = parse_feed(body, f"{BASE}/feed.xml", {})
    assert feed.ok and feed.bozo and len(feed.entries) == 5


@pytest.mark.parametrize(("link", "expected"), [
    ("/a/1.html", f"{BASE}/a/1.html"), ("https://x.test/p?q=1", "https://x.test/p?q=1"),
    ("mailto:desk@news.test", None), ("javascript:alert(1)", None), ("http://[::1", None),
    ("http://x.test:99999/", None), ("http:///nohost", f"{BASE}/nohost"), ("", None),
    ("http://x.test/a b", "http://x.test/a%20b"), ("https://x.test/é", "https://x.test/%C3%A9"),
])
def test_resolve_link(link: str, expected: str | None) -> None:
    assert resolve_link(f"{BASE}/feed.xml", link) == expected


def test_atom_fields() -> None:
    entry = parse_feed(ATOM, f"{BASE}/atom.xml", {}).entries[0]
    assert (entry.authors, entry.published_at) == (["Ann", "Bo"], datetime(2021, 7, 1, 10, tzinfo=timezone.utc))


@pytest.mark.parametrize(("body", "declared"), [
    (b"<rss><channel><title>&lt;!ENTITY&gt;</title></channel></rss>", False),
    (b"<!DOCTYPE rss [<!ENTITY % p SYSTEM 'http://x/'> %p;]><rss/>", True),
    (b"<!DOCTYPE rss [<!ENTITY logo SYSTEM 'l.gif' NDATA gif>]><rss/>", True),
    (b"<!DOCTYPE rss [<!ENTITY broken ", True),  # cannot be checked: refused
])
def test_find_entity_declaration(body: bytes, declared: bool) -> None:
    assert (find_entity_declaration(body) is not None) == declared


# -- the shared corpora ---------------------------------------------------------------------------
def corpus_files(name: str) -> list[Path]:
    """The feed files of a corpus, as its README describes them (not licences or expected outputs)."""
    root = FEED_CORPORA / name
    if name == "feedparser_tests":
        rows = [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines() if line]
        return [root / row["file"] for row in rows]
    integration = sorted((root / "integration").glob("*.xml")) + [root / "integration" / "json_feed_sample.json"]
    return sorted((root / "benchmark_data").iterdir()) + integration


def summarise(path: Path) -> tuple[str, int, dict[str, int]]:
    """(error or 'ok', entries, field counts) for one file; runs in a worker process."""
    feed = parse_feed(path.read_bytes(), "http://corpus.test/feed", {})
    return (_outcome(feed), len(feed.entries), _coverage(feed))


def _outcome(feed: ParsedFeed) -> str:
    return "ok" if feed.ok else (feed.error or "").split(":")[0]


def _coverage(feed: ParsedFeed) -> dict[str, int]:
    fields = {"title": lambda e: e.title, "published_at": lambda e: e.published_at, "id": lambda e: e.entry_id,
              "authors": lambda e: e.authors, "summary": lambda e: e.summary}
    counts = {name: sum(1 for e in feed.entries if get(e)) for name, get in fields.items()}
    return {**counts, "skipped (no http link)": feed.skipped}


@pytest.mark.parametrize("corpus", ["feedparser_tests", pytest.param("realworld", marks=pytest.mark.slow)])
def test_corpus_parses_without_exception(corpus: str) -> None:
    if not (FEED_CORPORA / corpus).is_dir():
        pytest.skip(f"feed corpus {FEED_CORPORA / corpus} is absent (see ../shared/corpora/feeds)")
    files = corpus_files(corpus)
    # an exception in a worker fails the test; so does a hang: the whole corpus reads in seconds,
    # and leaving the block terminates the workers whatever they are doing
    with multiprocessing.get_context("spawn").Pool(min(4, os.cpu_count() or 1)) as pool:
        results = pool.map_async(summarise, files, chunksize=8).get(timeout=CORPUS_TIMEOUT)
    _print_figures(corpus, results)
    assert len(results) == len(files)


def _print_figures(corpus: str, results: list[tuple[str, int, dict[str, int]]]) -> None:
    outcomes = Counter(outcome for outcome, _, _ in results)
    entries = sum(n for _, n, _ in results)
    coverage: Counter[str] = Counter()
    for _, _, counts in results:
        coverage.update(counts)
    skipped = coverage.pop("skipped (no http link)", 0)
    shares = ", ".join(f"{k} {100 * v / max(entries, 1):.0f}%" for k, v in sorted(coverage.items()))
    print(f"\n{corpus}: {len(results)} files, {sum(1 for _, n, _ in results if n)} with entries, "
          f"{entries} entries with a link ({skipped} without, skipped); outcomes {dict(outcomes)}; entry fields: {shares}")
