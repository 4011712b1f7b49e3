"""The boolean query language: parsing, evaluation, FTS5 and tsquery compilation, snippets."""

from __future__ import annotations

import os
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsmon.errors import QuerySyntaxError
from newsmon.query import And, Not, Or, Term, best_sentence, highlight, parse_query

TITLE = "Putin Orders Twitter to Open Russian Office"
TEXT = (
    "Vladimir Putin signed a law on Thursday obliging foreign social networks with more than "
    "500,000 daily users to open offices in Russia. Roskomnadzor, the communications regulator, "
    "may punish violators with fines and advertising bans. Russia slowed down Twitter in May. "
    "A Moscow court opened a case against Google on Wednesday over a breach of the personal data "
    "law. Twitter, Telegram, Google and Facebook are summoned to court later this month."
)
OTHER_TITLE = "Apple patches a Safari vulnerability"
OTHER_TEXT = "Apple released a patch for Safari on Monday. The e-mail client was not affected."
DOCS = {1: (TITLE, TEXT), 2: (OTHER_TITLE, OTHER_TEXT)}

# query, ids of DOCS it matches
CASES = [
    ("twitter", {1}),
    ("TWITTER", {1}),
    ("twit", set()),  # whole words only
    ("twit*", {1}),
    ("title:Twitter", {1}),
    ("text:orders", set()),  # "Orders" is only in the title
    ("title:orders", {1}),
    ('"open offices"', {1}),
    ('"offices open"', set()),
    ('title:"open russian office"', {1}),
    ('"personal da"*', {1}),
    ("twitter apple", set()),  # juxtaposition is AND
    ("twitter OR apple", {1, 2}),
    ("twitter AND NOT google", set()),
    ("NOT google", {2}),
    ("apple OR NOT safari", {1, 2}),
    ("(twitter OR safari) AND NOT (google AND telegram)", {2}),
    ("e-mail", {2}),  # split into the phrase "e mail"
    ("and", {1}),  # lower-case operators are words
    ("roskomnadzor fines", {1}),
    ("title:(apple OR putin) monday", {2}),
    ("NOT NOT apple", {2}),
]


@pytest.mark.parametrize(("query", "expected"), CASES)
def test_matches(query: str, expected: set[int]) -> None:
    parsed = parse_query(query)
    assert {id_ for id_, (title, text) in DOCS.items() if parsed.matches(title, text)} == expected


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("a b OR c", Or((And((Term(("a",)), Term(("b",)))), Term(("c",))))),
        ("a AND b AND (c AND d)", And((Term(("a",)), Term(("b",)), Term(("c",)), Term(("d",))))),
        ("NOT a OR b", Or((Not(Term(("a",))), Term(("b",))))),
        ('title:"Open An Office"*', Term(("open", "an", "office"), "title", True)),
        ("text:(a OR b)", Or((Term(("a",), "text"), Term(("b",), "text")))),
        ("(((a)))", Term(("a",))),
        ("Title:X", Term(("x",), "title")),
    ],
)
def test_parse_tree(query: str, tree: object) -> None:
    assert parse_query(query) == tree


@pytest.mark.parametrize(
    ("query", "position", "message"),
    [
        ("", 1, "empty query"),
        ("   ", 1, "empty query"),
        ("twitter AND", 9, "AND needs a term after it"),
        ("OR twitter", 1, "OR needs a term before it"),
        ("a OR OR b", 3, "OR needs a term after it"),
        ("NOT", 1, "NOT needs a term after it"),
        ("(a OR b", 1, "unclosed '('"),
        ("a OR b)", 7, "unexpected ')'"),
        ("()", 1, "empty parentheses"),
        ('a "open an', 3, "unterminated quote"),
        ('""', 1, "phrase has no letters or digits"),
        ("title:", 1, "title: needs a term"),
        ("title: AND x", 1, "title: needs a term"),
        ("tw*tter", 1, "'*' is only allowed at the end"),
        ("a -- b", 3, "has no letters or digits"),
        ("title:(text:a)", 8, "conflicts with the enclosing title:"),
        ("(" * 40 + "a" + ")" * 40, 33, "too deeply nested"),
        ("a " * 1001, 2001, "query too long"),
    ],
)
def test_syntax_errors(query: str, position: int, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as error:
        parse_query(query)
    assert error.value.position == position
    assert message in str(error.value)
    assert str(error.value).startswith(f"bad query at position {position}: ")


@given(st.text(max_size=80))
def test_any_text_parses_or_raises_query_syntax_error(text: str) -> None:
    try:
        parse_query(text)
    except QuerySyntaxError as error:
        assert 1 <= error.position <= len(text) + 1


# text built from the query language's own pieces finds the interesting cases far more often
QUERY_PIECES = st.lists(st.sampled_from([
    "AND", "OR", "NOT", "(", ")", '"', "title:", "text:", "*", "twitter", "Google", "e-mail",
    "and", "x", " ", "'", "\\", ":", "{", "}", "^", "+", "NEAR", "-", "é", "ﬁ", "İ", "0",
]), max_size=14).map(" ".join)
ANY_QUERY = st.one_of(st.text(max_size=60), QUERY_PIECES)


@given(ANY_QUERY)
def test_str_round_trips(text: str) -> None:
    try:
        parsed = parse_query(text)
    except QuerySyntaxError:
        return
    assert parse_query(str(parsed)) == parsed


def test_positive_terms() -> None:
    query = parse_query('title:twitter ("open an office" OR goog*) NOT (facebook OR NOT telegram)')
    assert query.positive_terms() == ["twitter", "open an office", "goog*", "telegram"]


# ---------------------------------------------------------------- SQLite FTS5, for real

@pytest.fixture(scope="module")
def fts() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    # remove_diacritics 0: the same words as Python's matches() and PostgreSQL's 'simple' config
    db.execute("CREATE VIRTUAL TABLE articles USING fts5(title, text, tokenize='unicode61 remove_diacritics 0')")
    db.executemany("INSERT INTO articles (rowid, title, text) VALUES (?, ?, ?)",
                   [(id_, title, text) for id_, (title, text) in DOCS.items()])
    return db


def search_fts(db: sqlite3.Connection, query: str) -> set[int]:
    expression = parse_query(query).to_fts5()
    return {row[0] for row in db.execute("SELECT rowid FROM articles WHERE articles MATCH ?", (expression,))}


POSITIVE_CASES = [(q, ids) for q, ids in CASES if q not in {"NOT google", "apple OR NOT safari"}]


@pytest.mark.parametrize(("query", "expected"), POSITIVE_CASES)
def test_fts5_agrees_with_matches(fts: sqlite3.Connection, query: str, expected: set[int]) -> None:
    assert search_fts(fts, query) == expected


@pytest.mark.parametrize(
    ("query", "expression"),
    [
        ("twitter", '"twitter"'),
        ('title:"open office"*', 'title : "open office" *'),
        ("a NOT b", '("a" NOT "b")'),
        ("a NOT b NOT c", '("a" NOT ("b" OR "c"))'),
        ("a OR NOT b c", '("a" OR ("c" NOT "b"))'),
        ("x (a OR NOT b)", '("x" NOT ("b" NOT "a"))'),
        ('NEAR "x y"', '("near" AND "x y")'),
    ],
)
def test_fts5_expressions(query: str, expression: str) -> None:
    assert parse_query(query).to_fts5() == expression


@pytest.mark.parametrize("query", ["NOT x", "NOT x NOT y", "NOT (a AND b)", "a OR NOT b"])
def test_fts5_refuses_pure_negation(query: str) -> None:
    with pytest.raises(QuerySyntaxError, match="cannot be only NOT"):
        parse_query(query).to_fts5()


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ANY_QUERY)
def test_fts5_never_breaks_sqlite(fts: sqlite3.Connection, text: str) -> None:
    """Whatever parses compiles to a MATCH expression SQLite accepts, and agrees with matches()."""
    try:
        query = parse_query(text)
        expression = query.to_fts5()
    except QuerySyntaxError:
        return
    rows = {row[0] for row in fts.execute("SELECT rowid FROM articles WHERE articles MATCH ?", (expression,))}
    assert rows == {id_ for id_, (title, body) in DOCS.items() if query.matches(title, body)}


# ---------------------------------------------------------------- PostgreSQL tsquery, for real

PG_URL = os.environ.get("NEWSMON_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test").replace(
    "postgresql+psycopg://", "postgresql://")
TSVECTOR = "setweight(to_tsvector(%(cfg)s, %(title)s), 'A') || setweight(to_tsvector(%(cfg)s, %(text)s), 'B')"


@pytest.fixture(scope="module")
def pg():  # type: ignore[no-untyped-def]
    psycopg = pytest.importorskip("psycopg")
    try:
        connection = psycopg.connect(PG_URL, connect_timeout=3, autocommit=True)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}: {str(error).splitlines()[0]}")
    yield connection
    connection.close()


def search_pg(pg, query: str, cfg: str = "simple") -> set[int]:  # type: ignore[no-untyped-def]
    tsquery = parse_query(query).to_tsquery()
    found = set()
    for id_, (title, text) in DOCS.items():
        row = pg.execute(f"SELECT {TSVECTOR} @@ to_tsquery(%(cfg)s, %(q)s)",
                         {"cfg": cfg, "title": title, "text": text, "q": tsquery}).fetchone()
        if row[0]:
            found.add(id_)
    return found


@pytest.mark.parametrize(("query", "expected"), CASES)
def test_tsquery_agrees_with_matches(pg, query: str, expected: set[int]) -> None:  # type: ignore[no-untyped-def]
    assert search_pg(pg, query) == expected


@pytest.mark.parametrize(("query", "expected"), [("offices", {1}), ("office", {1}), ("patched", {2}),
                                                 ('"open offices"', {1}),
                                                 # 'an' is a stop word: it keeps a slot, so this
                                                 # matches the title's "Open Russian Office"
                                                 ('"open an office"', {1})])
def test_tsquery_english_stems(pg, query: str, expected: set[int]) -> None:  # type: ignore[no-untyped-def]
    assert search_pg(pg, query, cfg="english") == expected


def test_tsquery_text(pg) -> None:  # type: ignore[no-untyped-def]
    tsquery = parse_query("title:twit* \"open offices\" NOT google").to_tsquery()
    assert tsquery == "('twit':*A & ('open' <-> 'offices') & !'google')"
    assert pg.execute("SELECT to_tsquery('simple', %s)::text", (tsquery,)).fetchone()[0] == (
        "'twit':*A & 'open' <-> 'offices' & !'google'")


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ANY_QUERY)
def test_tsquery_never_breaks_postgres(pg, text: str) -> None:  # type: ignore[no-untyped-def]
    try:
        query = parse_query(text)
    except QuerySyntaxError:
        return
    for cfg in ("simple", "english"):
        pg.execute("SELECT to_tsquery(%s, %s)", (cfg, query.to_tsquery()))
    assert search_pg(pg, text) == {id_ for id_, (t, body) in DOCS.items() if query.matches(t, body)}


# ---------------------------------------------------------------- highlighting and snippets

@pytest.mark.parametrize(
    ("sentence", "terms", "expected"),
    [
        ("Russia slowed down Twitter in May.", ["twitter"], "Russia slowed down **Twitter** in May."),
        ("Twitterati love Twitter", ["twitter"], "Twitterati love **Twitter**"),
        ("Twitterati love Twitter", ["twitter*"], "**Twitterati** love **Twitter**"),
        ("to open  an office in Russia", ["open an office"], "to **open  an office** in Russia"),
        ("X Corp. and Google", ["X Corp.", "google"], "**X Corp**. and **Google**"),
        ("nothing here", ["twitter"], "nothing here"),
        ("nothing here", [], "nothing here"),
        ("a*b (c)", ["(", "*"], "a*b (c)"),
    ],
)
def test_highlight(sentence: str, terms: list[str], expected: str) -> None:
    assert highlight(sentence, terms) == expected


def test_best_sentence_prefers_most_terms() -> None:
    assert best_sentence(TEXT, ["google", "court"]) == (
        "A Moscow court opened a case against Google on Wednesday over a breach of the personal data law.")
    assert best_sentence(TEXT, ["twitter"]) == "Russia slowed down Twitter in May."


def test_best_sentence_falls_back_to_the_start() -> None:
    assert best_sentence(TEXT, ["apple"]).startswith("Vladimir Putin signed a law")
    assert best_sentence("", ["apple"]) == ""


def test_best_sentence_clips_long_sentences_around_the_match() -> None:
    long = "word " * 200 + "Roskomnadzor fined Twitter " + "tail " * 100
    snippet = best_sentence(long, ["roskomnadzor"])
    assert len(snippet) <= 300
    assert "Roskomnadzor fined Twitter" in snippet
    assert snippet.startswith("…") and snippet.endswith("…")


@given(st.text(max_size=700), st.lists(st.text(max_size=10), max_size=4))
def test_best_sentence_is_short_and_never_fails(text: str, terms: list[str]) -> None:
    assert len(best_sentence(text, terms)) <= 300
    highlight(text, terms)
