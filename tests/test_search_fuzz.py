"""Property: any string either searches or raises QuerySyntaxError, on both back ends; never a
database error. One database per back end for the whole module (Hypothesis runs many examples)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsmon.errors import QuerySyntaxError
from newsmon.query import parse_query
from newsmon.storage.repository import Repository, open_repository
from newsmon.storage.search import SearchFilter, search_articles
from tests.conftest import _PG_REASON, PG_ADMIN_URL
from tests.test_storage import make_article

TEXTS = ["Roskomnadzor fined Twitter 3 million roubles on Thursday.",
         "Ünïcode naïve café: 東京 and Москва, e-mail x_y 42nd ½ ² ﬁ.",
         "Putin signed a law; Telegram, Google and Facebook were summoned to court."]
# pieces of the query language, so examples reach the parser's and compilers' corners too
TOKENS = ["AND", "OR", "NOT", "(", ")", '"', "*", "title:", "text:", "TITLE:", ":", "'", "\\", "&", "|", "!",
          "<->", ":*", "twitter", "Roskomnadzor", "e-mail", "東京", "café", "NEAR", "^", "-", "+", "{", "}",
          "\x00", " ", "\t", "\n", "''", "'a'", ":A", "x_y", "½", "ﬁ", "İ", "ß"]
QUERIES = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=4)), max_size=12).map(" ".join),
    st.lists(st.sampled_from(TOKENS), max_size=12).map("".join),
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzz_repo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repository]:
    if request.param == "sqlite":
        yield from _filled(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'newsmon.db'}")
        return
    if _PG_REASON:
        if os.environ.get("CI"):
            pytest.fail(_PG_REASON)
        pytest.skip(_PG_REASON)
    import psycopg

    name = f"newsmon_fuzz_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        yield from _filled(f"{base}/{name}")
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _filled(url: str) -> Iterator[Repository]:
    repo = open_repository(url, upgrade=True)
    for n, text in enumerate(TEXTS, 1):
        repo.save_article(make_article(n, text=text, title=text.split(":")[0][:30]))
    try:
        yield repo
    finally:
        repo.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=QUERIES, by_date=st.booleans())
def test_any_string_searches_or_is_a_syntax_error(fuzz_repo: Repository, text: str, by_date: bool) -> None:
    try:
        query = parse_query(text)
        hits = search_articles(fuzz_repo, SearchFilter(query=query, sort="date" if by_date else "relevance"))
    except QuerySyntaxError:
        return
    assert len(hits) <= len(TEXTS)


@pytest.mark.parametrize("text", ["café", "CAFÉ", "e-mail", '"x y"', "title:(twitter OR google) NOT facebook",
                                  "NOT twitter", "½", "ﬁ*"])
def test_known_corners_search_or_explain(fuzz_repo: Repository, text: str) -> None:
    try:
        search_articles(fuzz_repo, SearchFilter(query=parse_query(text)))
    except QuerySyntaxError as exc:
        assert str(exc).startswith("bad query at position")
