"""Rendering notifications from templates, per channel kind."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from newsmon.alerts.render import build_match_context, render_notification, select_body_format
from newsmon.errors import ConfigError
from newsmon.records import Article, MatchReason

S2 = "Roskomnadzor, the communications regulator, may punish violators with fines and advertising bans."
S3 = "Russia slowed down Twitter in May."
ARTICLE = Article(url="https://news.example/putin-twitter", source="example-news",
                  title="Putin Orders Twitter to Open Russian Office", text=" ".join([S2, S3]),
                  fetched_at=datetime(2021, 7, 2, tzinfo=timezone.utc),
                  published_at=datetime(2021, 7, 1, 9, 30, tzinfo=timezone.utc), date_source="json-ld")
CONTEXT = build_match_context(
    "russian-regulator", ARTICLE,
    [MatchReason("entity", "Roskomnadzor", S2), MatchReason("event", "FINE", S2),
     MatchReason("query", "twitter OR telegram", S3)],
    sources_count=3, terms=["fines"])


@pytest.mark.parametrize(
    ("url", "body_format"),
    [
        ("mailto://u:p@smtp.example.com?to=a@example.com", "html"),
        ("MAILTOS://smtp.example.com", "html"),
        ("slack://T1/B1/C1", "markdown"),
        ("mmost://chat.example.com/token", "markdown"),
        ("json://hooks.example.com/x", "markdown"),
        ("json://hooks.example.com/x?format=text", "text"),
        ("not a url", "markdown"),
    ],
)
def test_body_format_by_scheme(url: str, body_format: str) -> None:
    assert select_body_format(url) == body_format


def test_markdown_body() -> None:
    title, body, body_format = render_notification("slack://T1/B1/C1", CONTEXT)
    assert title == "[newsmon] russian-regulator: Putin Orders Twitter to Open Russian Office"
    assert body_format == "markdown"
    assert body == (
        "**Putin Orders Twitter to Open Russian Office**\n"
        "\n"
        "Rule **russian-regulator** matched:\n"
        "- entity *Roskomnadzor*: **Roskomnadzor**, the communications regulator, may punish violators "
        "with **fines** and advertising bans.\n"
        "- event *FINE*: Roskomnadzor, the communications regulator, may punish violators with **fines** "
        "and advertising bans.\n"
        "- query *twitter OR telegram*: Russia slowed down **Twitter** in May.\n"
        "\n"
        "example-news · 2021-07-01 09:30 UTC (date from json-ld) · 3 sources\n"
        "\n"
        "[Read the article](https://news.example/putin-twitter)\n"
    )


def test_html_body_escapes_article_text() -> None:
    context = build_match_context("r", ARTICLE, [MatchReason("entity", "Twitter", "<script>x</script> Twitter & co")])
    title, body, body_format = render_notification("mailtos://smtp.example.com", context)
    assert body_format == "html"
    assert "&lt;script&gt;x&lt;/script&gt; <strong>Twitter</strong> &amp; co" in body
    assert '<a href="https://news.example/putin-twitter">Putin Orders Twitter to Open Russian Office</a>' in body


def test_markdown_escapes_article_text() -> None:
    context = build_match_context("r", ARTICLE, [MatchReason("entity", "Twitter", "*Twitter* [link](x) _y_")])
    _, body, _ = render_notification("json://h/x", context)
    assert r"- entity *Twitter*: \***Twitter**\* \[link\]\(x\) \_y\_" in body


def test_text_body_and_missing_date() -> None:
    article = Article(url="https://n.example/a", source="s", title=None, text="", fetched_at=ARTICLE.fetched_at)
    title, body, body_format = render_notification("json://h/x?format=text", build_match_context("r", article, []))
    assert (title, body_format) == ("[newsmon] r: https://n.example/a", "text")
    assert body == "https://n.example/a\nRule r matched:\n\ns · date unknown · 1 source\nhttps://n.example/a\n"


def test_context_may_be_plain_dicts() -> None:
    context = {"rule": "r", "article": {"title": "T", "url": "https://x.example/", "source": "s"},
               "reasons": [{"kind": "entity", "value": "Twitter", "sentence": "About Twitter."}]}
    _, body, _ = render_notification("json://h/x", context)
    assert "- entity *Twitter*: About **Twitter**." in body


def test_user_template_dir_overrides_some_templates(tmp_path: Path) -> None:
    (tmp_path / "title.txt.j2").write_text("ALERT {{ rule | upper }}")
    title, body, _ = render_notification("json://h/x", CONTEXT, template_dir=tmp_path)
    assert title == "ALERT RUSSIAN-REGULATOR"
    assert body.startswith("**Putin Orders Twitter")  # the bundled body template still applies


def test_broken_user_template_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "alert.md.j2").write_text("{{ article.nope }}")
    with pytest.raises(ConfigError, match="template .*alert.md.j2"):
        render_notification("json://h/x", CONTEXT, template_dir=tmp_path)


def test_only_web_urls_become_links() -> None:
    context = {"rule": "r", "article": {"title": "T", "url": "javascript:alert(1)", "source": "s"}, "reasons": []}
    _, html, _ = render_notification("mailto://h", context)
    _, markdown, _ = render_notification("json://h/x", context)
    assert "javascript" not in html and "javascript" not in markdown
