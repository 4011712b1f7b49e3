"""Render a match into a notification title and body with Jinja2 templates.

Templates live in ``newsmon/alerts/templates``; a ``template_dir`` may override any of them:

- ``title.txt.j2``  one line, the notification title
- ``alert.md.j2``   Markdown body (Slack, Mattermost, JSON, ... every channel but email)
- ``alert.html.j2`` HTML body for email (apprise adds the plain-text alternative itself)
- ``alert.txt.j2``  plain-text body, for channels whose URL asks for ``?format=text``

Templates see: ``rule``, ``reasons`` (kind, value, sentence, terms), ``article`` (title, source,
url, link (the URL if http(s), else empty), published, date_source), ``sources_count``, and the filters ``highlight_md``,
``highlight_html``, ``highlight_text`` (sentence | filter(terms)), ``md_escape`` and ``md_url``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, is_dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jinja2
from apprise import NotifyFormat
from markupsafe import Markup, escape

from newsmon.errors import ConfigError, QuerySyntaxError
from newsmon.query import parse_query, split_highlights
from newsmon.records import Article, MatchReason

TEMPLATE_DIR = Path(__file__).parent / "templates"
EMAIL_SCHEMES = {"mailto", "mailtos"}
TEMPLATES = {NotifyFormat.HTML.value: "alert.html.j2", NotifyFormat.MARKDOWN.value: "alert.md.j2",
             NotifyFormat.TEXT.value: "alert.txt.j2"}
MAX_TITLE = 250
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def build_match_context(rule: str, article: Article, reasons: Sequence[MatchReason],
                        sources_count: int = 1, terms: Iterable[str] = ()) -> dict[str, Any]:
    """The context render_notification expects; `terms` are extra words to emphasise (aliases, triggers)."""
    return {"rule": rule, "article": article, "reasons": list(reasons),
            "sources_count": sources_count, "terms": list(terms)}


def render_notification(channel_url: str, match_context: dict[str, Any],
                        template_dir: str | Path | None = None) -> tuple[str, str, str]:
    """(title, body, body_format) for one channel; body_format is an apprise NotifyFormat value."""
    body_format = select_body_format(channel_url)
    environment = _environment(str(template_dir) if template_dir else None)
    context = _template_context(match_context)
    title = " ".join(_render(environment, "title.txt.j2", context).split())
    if len(title) > MAX_TITLE:
        title = title[:MAX_TITLE - 1].rstrip() + "…"
    body = _render(environment, TEMPLATES[body_format], context).strip() + "\n"
    return title, body, body_format


def select_body_format(channel_url: str) -> str:
    """HTML for email, else Markdown; an explicit apprise ``?format=`` in the URL wins."""
    parts = urlsplit(channel_url)
    asked = parse_qs(parts.query).get("format", [""])[-1].lower()
    if asked in TEMPLATES:
        return asked
    return NotifyFormat.HTML.value if parts.scheme.lower() in EMAIL_SCHEMES else NotifyFormat.MARKDOWN.value


@lru_cache(maxsize=8)
def _environment(template_dir: str | None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(str(TEMPLATE_DIR))]
    if template_dir:
        loaders.insert(0, jinja2.FileSystemLoader(template_dir))
    environment = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True)
    environment.filters.update(highlight_md=highlight_md, highlight_html=highlight_html,
                               highlight_text=highlight_text, md_escape=md_escape, md_url=md_url)
    return environment


def _render(environment: jinja2.Environment, name: str, context: dict[str, Any]) -> str:
    try:
        return environment.get_template(name).render(context)
    except jinja2.TemplateError as error:
        where = getattr(error, "filename", None) or name
        line = getattr(error, "lineno", None)
        raise ConfigError(f"template {where}{f':{line}' if line else ''}: {error.message or error}") from None


def _template_context(match_context: dict[str, Any]) -> dict[str, Any]:
    extra = list(match_context.get("terms", []))
    article = _as_dict(match_context["article"])
    return {
        "rule": match_context["rule"],
        "reasons": [_reason(_as_dict(r), extra) for r in match_context.get("reasons", [])],
        "article": {**article, "title": article.get("title") or article.get("url", ""),
                    "published": _format_date(article.get("published_at")),
                    "link": _web_link(article.get("url")),
                    "date_source": article.get("date_source")},
        "sources_count": match_context.get("sources_count", 1),
    }


def _as_dict(value: Any) -> dict[str, Any]:
    return asdict(value) if is_dataclass(value) and not isinstance(value, type) else dict(value)


def _reason(reason: dict[str, Any], extra: list[str]) -> dict[str, Any]:
    """A reason plus the words to emphasise in its sentence."""
    terms = list(reason.get("terms", []))
    if reason["kind"] == "entity":
        terms.append(reason["value"])
    elif reason["kind"] == "query":
        try:
            terms += parse_query(reason["value"]).positive_terms()
        except QuerySyntaxError:
            pass
    return {**reason, "terms": list(dict.fromkeys(terms + extra))}


def _web_link(url: str | None) -> str:
    """The URL if it is http(s), else "": a stored URL must never become a javascript: link."""
    return url if url and urlsplit(url).scheme.lower() in ("http", "https") else ""


def _format_date(value: datetime | str | None) -> str | None:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M %Z").strip()
    return value


def md_escape(text: Any) -> str:
    """Backslash-escape Markdown punctuation so article text never becomes markup."""
    return _MD_SPECIAL.sub(r"\\\1", str(text or ""))


def md_url(url: Any) -> str:
    """A URL safe inside Markdown's (...) link target."""
    return str(url or "").replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def highlight_md(sentence: str, terms: list[str]) -> str:
    return "".join(f"**{md_escape(text)}**" if hit else md_escape(text)
                   for text, hit in split_highlights(sentence or "", terms))


def highlight_html(sentence: str, terms: list[str]) -> Markup:
    return Markup("").join(Markup("<strong>{}</strong>").format(text) if hit else escape(text)
                           for text, hit in split_highlights(sentence or "", terms))


def highlight_text(sentence: str, terms: list[str]) -> str:
    return "".join(f"*{text}*" if hit else text for text, hit in split_highlights(sentence or "", terms))
