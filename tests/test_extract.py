from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

import newsmon
from newsmon.extract import ExtractionError, clean_authors, extract_article, extract_file
from newsmon.extract import article as article_module
from newsmon.extract import text as text_module
from newsmon.extract.article import parse_date
from newsmon.extract.meta import PageMeta
from newsmon.extract.text import choose_text, drop_boilerplate_lines, is_furniture
from newsmon.records import Article, FeedEntry, FetchedPage

SITE = Path(next(iter(newsmon.__path__))) / "demo" / "site"  # the installed package folder
BASE_URL = "http://127.0.0.1:8000"
FETCHED_AT = datetime(2021, 7, 2, 12, 0, tzinfo=UTC)
FUNDUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "fundus_news"
BOILERPLATE = ["What's Hot on Demo Daily", "Subscribe to Demo Daily", "We use cookies", "Accept all cookies",
               "Fictional newspaper", "Contact the newsroom", "Share this story", "morning briefing"]


def load_page(name: str, content_type: str | None = "text/html; charset=utf-8",
              entry: FeedEntry | None = None, fetched_at: datetime = FETCHED_AT) -> FetchedPage:
    body = (SITE / name).read_bytes().replace(b"{{BASE_URL}}", BASE_URL.encode())
    url = f"{BASE_URL}/{name}"
    headers = {"Content-Type": content_type} if content_type else {}
    return FetchedPage(url=url, final_url=url, status=200, headers=headers, body=body,
                       fetched_at=fetched_at, source="demo", entry=entry)


DEMO_ARTICLES = [
    ("putin-twitter-office", "Putin Orders Twitter to Open Russian Office", date(2021, 7, 1), "json-ld", [
        ("President Vladimir Putin signed a law on Thursday obliging foreign social networks with more "
        "than 500,000 daily users to open offices in Russia."),
        ("Roskomnadzor, Russia's communications regulator, may punish companies that fail to comply with "
        "fines, advertising bans and restrictions on data collection."),
        "Russia slowed down Twitter in May over its failure to delete banned content.",
        ("A Moscow court opened a case against Google on Wednesday over a breach of Russia's personal "
        "data law."),
        "Twitter, Telegram, Google and Facebook have been summoned to appear in court later this month.",
        "a fine of 3 million rubles", "Lawmaker Alexander Khinshtein", "Khinshtein told reporters",
    ]),
    ("acme-data-breach", "Acme Health Breach Exposes 1.2 Million Patient Records",
     date(2021, 6, 28), "json-ld", [
        "a data breach had exposed the records of 1.2 million patients",
        "A ransomware group calling itself NightVault claimed responsibility",
        "The UK's Information Commissioner's Office said it was investigating the breach",
        "a fine of £20m was possible",
    ]),
    ("eu-fines-google", "EU Fines Google €500 Million Over Advertising Practices",
     date(2021, 6, 30), "meta", [
        "The European Commission fined Google €500 million on Wednesday",
        "Google said it would appeal against the decision",
    ]),
    ("city-marathon", "Record Crowds Cheer Runners at the Riverside City Marathon",
     date(2021, 6, 29), "json-ld", [
        "more than twelve thousand runners took part", "The men's race was won by Daniel Okoro",
    ]),
    ("telegram-update", "Telegram Patches Vulnerability in New Software Update",
     date(2021, 6, 27), "time-element", [
        "Telegram has released a software update that patches a vulnerability",
        "Roskomnadzor tried to block Telegram in 2018",
    ]),
]


@pytest.mark.parametrize(("name", "title", "day", "date_source", "sentences"), DEMO_ARTICLES)
def test_demo_article(name: str, title: str, day: date, date_source: str, sentences: list[str]) -> None:
    article = extract_article(load_page(f"articles/{name}.html"))
    assert (article.title, article.authors, article.date_source, article.extractor) == (
        title, ["Jane Doe"], date_source, "trafilatura")
    assert article.published_at is not None and article.published_at.tzinfo is not None
    assert article.published_at.date() == day
    assert article.url == f"{BASE_URL}/articles/{name}.html"
    assert (article.language, article.site_name, article.source) == ("en", "Demo Daily", "demo")
    assert len(article.content_hash) == 64
    for sentence in sentences:
        assert sentence in article.text
    assert not [junk for junk in BOILERPLATE + [title] if junk.lower() in article.text.lower()]
    assert 350 <= len(article.text.split()) <= 700


def test_canonical_link_with_tracking_params_gives_clean_url_and_keeps_aliases() -> None:
    page = load_page("articles/putin-twitter-office.html")
    page.url = f"{BASE_URL}/r/123"  # as if the feed link redirected
    page.final_url = f"{BASE_URL}/articles/putin-twitter-office.html?utm_source=rss#top"
    page.entry = FeedEntry(link=f"{BASE_URL}/r/123?utm_campaign=x")
    article = extract_article(page)
    assert article.url == f"{BASE_URL}/articles/putin-twitter-office.html"
    assert article.urls == [article.url, f"{BASE_URL}/r/123"]


@pytest.mark.parametrize(("name", "content_type", "reason"), [
    ("broken/binary.html", "text/html", "binary"),
    ("broken/binary.html", None, "binary"),
    ("broken/binary.html", "image/png", "binary"),
    ("broken/empty.html", "text/html", "empty"),
    ("broken/malformed-feed.xml", "application/rss+xml", "not-html"),
    ("broken/malformed-feed.xml", "text/html", "not-html"),
    ("feed.xml", None, "not-html"),
    ("robots.txt", "text/plain", "not-html"),
    ("robots.txt", None, "not-html"),
])
def test_broken_pages_raise_clear_errors(name: str, content_type: str | None, reason: str) -> None:
    with pytest.raises(ExtractionError) as caught:
        extract_article(load_page(name, content_type))
    assert caught.value.reason == reason
    assert f"{BASE_URL}/{name}" in str(caught.value)


def test_too_large_and_empty_bodies() -> None:
    page = load_page("articles/city-marathon.html")
    with pytest.raises(ExtractionError) as caught:
        extract_article(page, max_bytes=1000)
    assert caught.value.reason == "too-large"
    page.body = b"  \n"
    with pytest.raises(ExtractionError) as caught:
        extract_article(page)
    assert caught.value.reason == "empty"


@pytest.mark.parametrize(("title", "expected"), [
    ("Mining blasts shatter homes - Demo Daily", "Mining blasts shatter homes"),
    ("Markets rally | Business | Demo Daily", "Markets rally | Business"),
    ("Court fines firm - news.example", "Court fines firm"),
])
def test_title_drops_site_name_suffix(title: str, expected: str) -> None:
    paragraphs = "".join(f"<p>Paragraph {n} of a story that is long enough to count as article text.</p>"
                         for n in range(6))
    html = (f'<html><head><title>{title}</title><meta property="og:site_name" content="Demo Daily"></head>'
            f"<body><article>{paragraphs}</article></body></html>")
    page = FetchedPage(url="https://www.news.example/a", final_url="https://www.news.example/a", status=200,
                       headers={"Content-Type": "text/html"}, body=html.encode(), fetched_at=FETCHED_AT,
                       source="t")
    assert extract_article(page).title == expected


def test_feed_entry_fills_what_the_page_lacks() -> None:
    entry = FeedEntry(link=f"{BASE_URL}/articles/x.html", title="Feed title", authors=["By Sam Roe"],
                      published_at=datetime(2021, 6, 20, 8, 0), summary="From the feed.")
    html = "<html><body><article>" + "<p>Plain paragraph of article text without metadata.</p>" * 8
    page = FetchedPage(url=entry.link, final_url=entry.link, status=200,
                       headers={"content-type": "text/html"},
                       body=(html + "</article></body></html>").encode(), fetched_at=FETCHED_AT,
                       source="demo", entry=entry)
    article = extract_article(page)
    assert (article.title, article.authors, article.summary, article.date_source, article.published_at) == (
        "Feed title", ["Sam Roe"], "From the feed.", "feed", datetime(2021, 6, 20, 8, 0, tzinfo=UTC))
    assert article.language is None


def test_dates_after_the_fetch_are_refused() -> None:
    page = load_page("articles/putin-twitter-office.html", fetched_at=datetime(2021, 6, 30, tzinfo=UTC))
    page.entry = FeedEntry(link=page.url, published_at=datetime(2021, 6, 29, 9, 0, tzinfo=UTC))
    article = extract_article(page)
    assert (article.published_at, article.date_source) == (datetime(2021, 6, 29, 9, 0, tzinfo=UTC), "feed")


@pytest.mark.parametrize(("charset_header", "meta"), [
    ("text/html; charset=iso-8859-1", ""),
    ("text/html", '<meta charset="iso-8859-1">'),
    (None, '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'),
])
def test_charset_from_header_or_meta(charset_header: str | None, meta: str) -> None:
    paragraphs = "".join(f"<p>Le régulateur a infligé une amende n°{n} à l'entreprise après la fuite "
                         f"de données de {n}000 clients, selon le communiqué.</p>" for n in range(1, 7))
    html = f"<html><head>{meta}<title>Amende</title></head><body><article>{paragraphs}</article></body>"
    page = FetchedPage(url="http://127.0.0.1/a", final_url="http://127.0.0.1/a", status=200,
                       headers={"Content-Type": charset_header} if charset_header else {},
                       body=html.encode("iso-8859-1"), fetched_at=FETCHED_AT, source="t")
    assert "Le régulateur a infligé une amende n°3" in extract_article(page).text


@pytest.mark.parametrize(("raw", "expected"), [
    (["By Jane Doe"], ["Jane Doe"]),
    (["by: Jane Doe and John Smith"], ["Jane Doe", "John Smith"]),
    (["Jane Doe, Technology Correspondent"], ["Jane Doe"]),
    (["Jane Doe | 1 July 2021"], ["Jane Doe"]),
    (["Jane Doe, 01/07/2021 14:20"], ["Jane Doe"]),
    (["Jane Doe; jane@example.com", "JANE DOE", "Simon Sunil"], ["Jane Doe", "Simon Sunil"]),
    (["Reuters Staff"], []),
    (["Von Anna Schmidt und Max Weber"], ["Anna Schmidt", "Max Weber"]),
    (["Doe, Jane", "Jane-Doe"], ["Jane Doe"]),
    (["The Washington Times https", "Www Washingtontimes Com", "Tom Davies"], ["Tom Davies"]),
])
def test_clean_authors(raw: list[str], expected: list[str]) -> None:
    assert clean_authors(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("2021-07-01T14:20:00+03:00", "2021-07-01T14:20:00+03:00"),
    ("2021-07-01T11:20:00Z", "2021-07-01T11:20:00+00:00"),
    ("2021-07-01", "2021-07-01T00:00:00+00:00"),
    ("Thu, 01 Jul 2021 14:20:00 +0300", "2021-07-01T14:20:00+03:00"),
    ("yesterday", None),
    ("", None),
])
def test_parse_date_is_aware(raw: str, expected: str | None) -> None:
    value = parse_date(raw)
    assert (value.isoformat() if value else None) == expected


def test_extract_file(tmp_path: Path) -> None:
    saved = tmp_path / "page.html"
    saved.write_bytes((SITE / "articles" / "eu-fines-google.html").read_bytes())
    article = extract_file(saved, url="https://news.example/eu?utm_source=x")
    assert article.title == "EU Fines Google €500 Million Over Advertising Practices"
    assert article.source == "file"
    assert "https://news.example/eu" in article.urls
    binary = tmp_path / "binary.html"
    binary.write_bytes((SITE / "broken" / "binary.html").read_bytes())
    with pytest.raises(ExtractionError, match="binary"):
        extract_file(binary)


# -- real pages: the fundus corpus (publishers' pages, read in place, never copied) ----------------

ENGLISH = {"us", "uk", "ca", "au", "ind", "za", "na", "ls", "tz"}


def _tokens(text: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", text.lower()))


def token_f1(extracted: str, gold: str) -> float:
    """The corpora README's measure: lower-case \\w+ tokens as multisets."""
    got, want = _tokens(extracted), _tokens(gold)
    overlap = sum((got & want).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(got.values()), overlap / sum(want.values())
    return 2 * precision * recall / (precision + recall)


def _fundus_page(record: dict[str, str]) -> FetchedPage:
    body = gzip.decompress((FUNDUS / record["html"]).read_bytes())
    return FetchedPage(url=record["url"], final_url=record["url"], status=200,
                       headers={"Content-Type": "text/html"}, body=body,
                       fetched_at=datetime.fromisoformat(record["crawl_date"]).replace(tzinfo=UTC),
                       source=record["publisher"])


def _fundus_scores(record: dict, article: Article | None) -> tuple[float, float, float, float]:
    """(body F1, title match, day match, author set F1) as bench/extraction.py scores them."""
    if article is None:
        return token_f1("", record["body_text"]), 0.0, 0.0, float(not record["authors"])
    gold_day = datetime.fromisoformat(record["publishing_date"])
    day = article.published_at.astimezone(gold_day.tzinfo).date() if article.published_at and \
        gold_day.tzinfo else (article.published_at.date() if article.published_at else None)
    got = {" ".join(a.split()).casefold() for a in article.authors}
    want = {" ".join(a.split()).casefold() for a in record["authors"] or []}
    authors = 1.0 if not got and not want else 2 * len(got & want) / (len(got) + len(want))
    title = " ".join((article.title or "").split()) == " ".join(record["title"].split())
    return token_f1(article.text, record["body_text"]), float(title), float(day == gold_day.date()), authors


@pytest.mark.skipif(not (FUNDUS / "groundtruth_flat.json").exists(),
                    reason=f"fundus corpus not found at {FUNDUS} (shared corpora are optional)")
def test_fundus_english_pages_quality() -> None:
    """The level bench/extraction.py measured (0.973, 0.835, 1.000, 0.976), less a small margin."""
    records = json.loads((FUNDUS / "groundtruth_flat.json").read_text(encoding="utf-8"))
    english = [r for r in records if r["country"] in ENGLISH]
    scores = []
    for record in english:
        try:
            article: Article | None = extract_article(_fundus_page(record), min_text_chars=0)
        except ExtractionError:
            article = None
        scores.append(_fundus_scores(record, article))
    assert len(scores) >= 80
    body, title, day, authors = (sum(column) / len(scores) for column in zip(*scores, strict=True))
    assert (body >= 0.963, title >= 0.825, day >= 0.99, authors >= 0.966) == (True, True, True, True), \
        (body, title, day, authors)


# -- metadata choices on synthetic pages ------------------------------------------------------------

_PARAS = "".join(f"<p>Paragraph {n} of the report says the regulator fined the company again on Monday.</p>"
                 for n in range(8))
_GRAPH = """{"@context": "https://schema.org", "@graph": [
  {"@type": "NewsArticle", "headline": "Regulator fines Acme &#8216;again&#8217;",
   "datePublished": "2021-06-30T09:00:00+02:00", "author": [{"@id": "#p1"}, {"@id": "#p2"}, {"@id": "#org"}],
   "publisher": {"@id": "#org"}},
  {"@type": "Person", "@id": "#p1", "name": "By Jane Doe, Technology Correspondent"},
  {"@type": "Person", "@id": "#p2", "name": "Sam Roe"},
  {"@type": "NewsMediaOrganization", "@id": "#org", "name": "The Demo Daily"}]}"""


def _synthetic(head: str, body: str) -> FetchedPage:
    html = f"<html><head>{head}</head><body>{body}</body></html>"
    return FetchedPage(url="https://www.news.example/a", final_url="https://www.news.example/a", status=200,
                       headers={"Content-Type": "text/html"}, body=html.encode(), fetched_at=FETCHED_AT,
                       source="t")


def test_json_ld_graph_gives_headline_authors_and_date_without_the_publisher() -> None:
    page = _synthetic(f'<title>Acme fined | Demo Daily</title><script type="application/ld+json">{_GRAPH}'
                      "</script>", f"<article><h1>Regulator fines Acme ‘again’</h1>{_PARAS}</article>")
    article = extract_article(page)
    assert (article.title, article.authors, article.date_source, article.published_at) == (
        "Regulator fines Acme ‘again’", ["Jane Doe", "Sam Roe"], "json-ld",
        datetime(2021, 6, 30, 7, 0, tzinfo=UTC))
    assert "Regulator fines" not in article.text  # the headline is not repeated as body text


@pytest.mark.parametrize(("head", "h1", "expected"), [
    # the visible headline beats <title>; metadata spelling (typed quotes) beats the <h1>'s
    ('<title>Acme fined | Demo Daily</title><meta property="og:title" content="Acme is fined \'again\'">',
     "Acme is fined ‘again’", "Acme is fined 'again'"),
    ("<title>Acme is fined again by the regulator - Demo Daily</title>",
     "Acme is fined again by the regulator on Monday", "Acme is fined again by the regulator on Monday"),
    # a logo <h1> that agrees with no metadata title is not the headline
    ("<title>Acme is fined again - Demo Daily</title>", "Demo Daily", "Acme is fined again"),
    ("<title>Acme is fined again | Demo Daily | by Jane Doe</title>", "", "Acme is fined again"),
])
def test_title_choice(head: str, h1: str, expected: str) -> None:
    heading = f"<h1>{h1}</h1>" if h1 else ""
    page = _synthetic(head + '<meta property="og:site_name" content="Demo Daily">',
                      f"<article>{heading}{_PARAS}</article>")
    assert extract_article(page).title == expected


@pytest.mark.parametrize(("raw", "publishers", "expected"), [
    (["Demo Daily"], ["The Demo Daily"], []),
    (["Jane Doe", "DEMO DAILY"], ["Demo Daily"], ["Jane Doe"]),
    (["jane-doe", "@janedoe", "(Image: Getty Images"], [], []),
    (["You, Xiaoying", "Basu, Mohana"], [], ["Xiaoying You", "Mohana Basu"]),
])
def test_clean_authors_drops_publishers_slugs_and_credits(raw: list[str], publishers: list[str],
                                                           expected: list[str]) -> None:
    assert clean_authors(raw, publishers=publishers) == expected


def test_choose_text_prefers_a_longer_opinion_only_when_it_contains_the_precise_text() -> None:
    precise = "The regulator fined Acme on Monday for the breach of customer data."
    more = precise + "\n" + "Acme said it would appeal against the decision in the courts next month." * 3
    assert choose_text(precise, precise, more) == (more, "json-ld")
    assert choose_text(precise, more, "") == (more, "trafilatura-recall")
    labels = precise + "\nComments\nJoin our commenting forum\nMost read\nShare this story\nSign in"
    assert choose_text(precise, labels, "") == (precise, "trafilatura")
    unrelated = "Completely different words about sport and weather fill this other text. " * 5
    assert choose_text(precise, precise, unrelated) == (precise, "trafilatura")


def test_boilerplate_lines_are_dropped() -> None:
    text = "Acme fined\nThe regulator fined Acme.\nRead more: Other story\nAdvertisement\nRelated to this, more."
    assert drop_boilerplate_lines(text, ["Acme fined"]) == "The regulator fined Acme.\nRelated to this, more."


def _ld(author: str) -> str:
    return ('<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Regulator fines Acme", '
            f'"author": {author}}}</script>')


@pytest.mark.parametrize(("head", "expected"), [
    # no person credited: the credited organisation is the author
    (_ld('{"@type": "NewsMediaOrganization", "name": "Wire Service News"}'), ["Wire Service News"]),
    (_ld('{"@type": "Person", "name": "Demo Daily"}'), ["Demo Daily"]),
    ('<meta name="author" content="By The Demo Daily">', ["The Demo Daily"]),
    # a person credited: the site's own name goes, another organisation stays
    (_ld('[{"@type": "Person", "name": "Jane Doe"}, {"@type": "Organization", "name": "Demo Daily"}]'),
     ["Jane Doe"]),
    (_ld('[{"@type": "Person", "name": "Jane Doe"}, {"@type": "Person", "name": "AP"}]'), ["Jane Doe", "AP"]),
    # a person typed as both is a person; an organisation that is not the site is not the author alone
    (_ld('{"@type": ["Person", "Organization"], "name": "Jane Doe"}'), ["Jane Doe"]),
    ('<meta name="author" content="Acme Holdings">', ["Acme Holdings"]),
])
def test_authors_fall_back_to_the_credited_organisation(head: str, expected: list[str]) -> None:
    site = '<meta property="og:site_name" content="Demo Daily">'
    page = _synthetic(head + site, f"<article>{_PARAS}</article>")
    assert extract_article(page).authors == expected


def test_byline_line_in_the_text_credits_people_when_the_markup_credits_only_the_site() -> None:
    body = f"<article><p>…as villagers cry foul</p><p>Jane Doe/John Roe</p>{_PARAS}</article>"
    head = '<meta name="author" content="Demo Daily"><meta property="og:site_name" content="Demo Daily">'
    page = _synthetic(head, body)
    article = extract_article(page)
    assert article.authors == ["Jane Doe", "John Roe"]
    assert "John Roe" not in article.text and article.text.startswith("…as villagers cry foul")


@pytest.mark.parametrize(("head", "h1", "expected"), [
    # JSON-LD's headline stays first even when og:title and the <h1> agree on another one
    (_ld('"x"').replace("Regulator fines Acme", "Acme fined by regulator on Monday")
     + '<meta property="og:title" content="Regulator fines Acme again">',
     "Regulator fines Acme again", "Acme fined by regulator on Monday"),
    # the spelling most sources use wins (typed quotes in og:title only)
    (_ld('"x"').replace("Regulator fines Acme", "Acme’s fine")
     + '<meta property="og:title" content="Acme\'s fine">' "<title>Acme’s fine | Demo Daily</title>",
     "Acme’s fine", "Acme’s fine"),
    # quotes present or absent are another spelling, not another typography
    (_ld('"x"').replace("Regulator fines Acme", "Acme fine")
     + '<meta property="og:title" content="\'Acme\' fine">' "<title>'Acme' fine</title>",
     "'Acme' fine", "Acme fine"),
])
def test_title_spelling_follows_most_sources(head: str, h1: str, expected: str) -> None:
    page = _synthetic(head + '<meta property="og:site_name" content="Demo Daily">',
                      f"<article><h1>{h1}</h1>{_PARAS}</article>")
    assert extract_article(page).title == expected


def test_visible_byline_credits_the_author_when_the_metadata_does_not() -> None:
    byline = '<p class="byline">By Jane Doe, Technology Correspondent | 1 July 2021</p>'
    teaser = '<aside><span class="author">By Sam Roe</span></aside>'  # a later teaser's byline
    page = _synthetic('<meta property="og:site_name" content="Demo Daily">',
                      f"<article>{byline}{_PARAS}</article>{teaser}")
    assert extract_article(page).authors == ["Jane Doe"]


def _count_calls(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> list[int]:
    calls: list[int] = []
    real = getattr(module, name)

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counting)
    return calls


def test_htmldate_runs_only_when_the_page_and_feed_give_no_date(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_calls(monkeypatch, article_module.htmldate, "find_date")
    dated = _synthetic('<meta property="article:published_time" content="2021-06-30T09:00:00Z">',
                       f"<article>{_PARAS}</article>")
    assert extract_article(dated).date_source == "meta" and calls == []
    undated = _synthetic("", f"<article><p>Published 2021-06-25.</p>{_PARAS}</article>")
    article = extract_article(undated)
    assert calls == [1]
    assert (article.date_source, article.published_at) == ("htmldate", datetime(2021, 6, 25, tzinfo=UTC))
    # a guess after the fetch is refused
    assert article_module.pick_published_at(PageMeta(), None, FETCHED_AT, lambda: "2021-07-05") == (None, "none")


def test_second_extractor_runs_only_when_the_first_text_looks_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_calls(monkeypatch, text_module.trafilatura, "bare_extraction")
    prose = "".join(f"<p>Paragraph {n} of the report says the regulator fined the company again on Monday, "
                    f"after a long inquiry into the breach of customer data.</p>" for n in range(8))
    assert extract_article(_synthetic("", f"<article>{prose}</article>")).extractor == "trafilatura"
    assert len(calls) == 1
    short = _synthetic("", "<article><p>The regulator fined the company again on Monday.</p></article>")
    extract_article(short, min_text_chars=0)
    assert len(calls) == 3  # too little text: the careful run was asked too
    body = " ".join(f"Sentence {n} of the publisher's own copy of the report on the fine." for n in range(60))
    longer = _synthetic('<script type="application/ld+json">{"@type": "NewsArticle", "articleBody": '
                        f'"{body}"}}</script>', f"<article>{prose}</article>")
    extract_article(longer)
    assert len(calls) == 5  # the articleBody is much longer than the first text: a second opinion


@pytest.mark.parametrize(("line", "furniture"), [
    ("ALSO READ | Police arrest five suspects", True),
    ("WATCH: Minister visits flooded town", True),
    ("UPDATE: The police said two men were arrested.", False),
    ("Sign up for our morning newsletter", True),
    ("Follow Demo Daily on Google News for more.", True),
    ("Follow the money, the inspector said, and you will find who paid for the campaign.", False),
    ("Click here to read the court's ruling", True),
    ("More from Demo Daily", True),
    ("Most popular", True),
    ("Markets rally as rates fall Markets rally as rates fall", True),
    ("The court heard that the firm paid the fine.", False),
    ("DELHI: " + "the court heard that the firm paid the fine and would appeal against it " * 4, False),
])
def test_furniture_lines(line: str, furniture: bool) -> None:
    assert is_furniture(line) is furniture


def test_visible_byline_with_one_element_per_name() -> None:
    byline = '<div class="article-byline"><a href="/p/1">Jane Doe</a><a href="/p/2">Sam Roe</a></div>'
    page = _synthetic("", f"<article>{byline}{_PARAS}</article>")
    assert extract_article(page).authors == ["Jane Doe", "Sam Roe"]


@pytest.mark.parametrize(("raw", "expected"), [
    (["Elena Oberholzer (obe)", "Oliver Maksan (oma)"], ["Elena Oberholzer", "Oliver Maksan"]),
    (["Autor: Monika Bolliger"], ["Monika Bolliger"]),
    (["배윤경", "이상현"], ["배윤경", "이상현"]),  # scripts without case are not slugs
])
def test_clean_authors_handles_desk_codes_labels_and_scripts(raw: list[str], expected: list[str]) -> None:
    assert clean_authors(raw) == expected


def test_json_ld_desk_names_are_credited_but_glued_roles_are_not() -> None:
    team = _ld('[{"@type": "Person", "name": "Jane Doe"}, {"@type": "Person", "name": "Gear Team"}]')
    assert extract_article(_synthetic(team, f"<article>{_PARAS}</article>")).authors == ["Jane Doe", "Gear Team"]
    glued = _ld('{"@type": "Person", "name": "Jane Doe, Technology Correspondent"}')
    assert extract_article(_synthetic(glued, f"<article>{_PARAS}</article>")).authors == ["Jane Doe"]
    assert clean_authors(["Gear Team"]) == []  # in a byline, not JSON-LD, "Team" is a role


def test_html_comments_do_not_cut_the_text_around_them() -> None:
    paragraph = ("<p>This means some of the government's <!-- --><a href='/x'>borrowing costs<!-- --></a> "
                 "are determined by how the markets respond to the forecasts.</p>")
    article = extract_article(_synthetic("", f"<article>{paragraph}{_PARAS}</article>"))
    assert "borrowing costs are determined by how the markets respond" in " ".join(article.text.split())


def test_summary_and_language_come_from_meta_tags() -> None:
    head = ('<meta property="og:description" content="The regulator fined Acme again.">'
            '<meta http-equiv="content-language" content="en-GB">')
    article = extract_article(_synthetic(head, f"<article>{_PARAS}</article>"))
    assert (article.summary, article.language) == ("The regulator fined Acme again.", "en")


# -- charsets: a header that lies is corrected and the correction is noted ------------------------
CAFE_HTML = ("<html><head>{meta}<title>Caf\u00e9 news</title></head><body><article><h1>Caf\u00e9 news</h1>"
             + "<p>The caf\u00e9 on the harbour opened its doors to ferry passengers on Monday morning.</p>" * 6
             + "</article></body></html>")


def _charset_page(body: bytes, content_type: str) -> FetchedPage:
    return FetchedPage(url="http://news.test/cafe", final_url="http://news.test/cafe", status=200,
                       headers={"Content-Type": content_type}, body=body, fetched_at=FETCHED_AT, source="t")


@pytest.mark.parametrize(("body", "content_type", "cafe", "note"), [
    (CAFE_HTML.format(meta="").encode("utf-8"), "text/html; charset=utf-8", "Caf\u00e9", None),
    (CAFE_HTML.format(meta="").encode("cp1252"), "text/html", "Caf\u00e9",  # no charset anywhere
     "charset: no charset is declared, utf-8 was guessed but byte 22 is not utf-8; decoded as cp1252"),
    (CAFE_HTML.format(meta="").encode("cp1252"), "text/html; charset=utf-8", "Caf\u00e9",
     "charset: the header says utf-8 but byte 22 is not utf-8; decoded as cp1252 (windows-1252)"),
    (CAFE_HTML.format(meta="<meta charset='iso-8859-15'>").encode("iso-8859-15"), "text/html; charset=utf-8",
     "Caf\u00e9", "decoded as iso8859-15 (its <meta charset>)"),
    ((CAFE_HTML.format(meta="") + "\ufffd").encode("utf-8"), "text/html; charset=utf-8", "Caf\u00e9", None),
    (CAFE_HTML.format(meta="").encode("cp1252").replace(b"harbour", b"harb\x81ur"), "text/html; charset=utf-8",
     "Caf\ufffd", "nor is the body UTF-8 or windows-1252; undecodable bytes replaced with U+FFFD"),
], ids=["utf-8", "guessed", "header-lies", "meta-says", "literal-fffd", "undecodable"])
def test_wrong_charset_is_corrected_and_noted(body: bytes, content_type: str, cafe: str, note: str | None) -> None:
    article = extract_article(_charset_page(body, content_type), min_text_chars=0)
    assert article.title is not None and article.title.startswith(cafe)
    if note is None:
        assert article.notes == []
    else:
        assert len(article.notes) == 1 and note in article.notes[0] and "\n" not in article.notes[0], article.notes
