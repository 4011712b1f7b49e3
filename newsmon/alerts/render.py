"""Render a match into a notification title and body with Jinja2 templates.

Templates live in ``newsmon/alerts/templates``; a ``template_dir`` may override any of them:

- ``title.txt.j2``  one line, the notification title
- ``alert.md.j2``   Markdown body (Slack, Mattermost, JSON, ... every channel but email)
- ``alert.html.j2`` HTML body for email (apprise adds the plain-text alternative itself)
- ``alert.txt.j2``  plain-text body, for channels whose URL asks for ``?format=text``

Templates see: ``rule``, ``reasons`` (kind, value, sentence, terms), ``article`` (title, source,
url, link (the URL if http(s), else empty), published, date_source), ``sources_count``, ``update``
(None for the first alert of a story; for a follow-up: ``version`` and ``facts``, each with kind,
label, sentence, terms), and the filters ``highlight_md``, ``highlight_html``, ``highlight_text``
(sentence | filter(terms)), ``md_escape`` and ``md_url``.

Digests and over-cap summaries use ``digest_title.txt.j2`` and ``digest.{md,html,txt}.j2``
(``heading``, ``count``, ``groups``: rule and ``entries`` with title, link, source, published,
date_source, why, sentence, terms, update; entries held before date_source and terms existed
lack them); spike alerts use ``spike_title.txt.j2`` and ``spike.{md,html,txt}.j2`` (``rule``,
``entity``, ``count``, ``expected``, ``ratio``, ``window``, ``baseline``, ``articles``).
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

from newsmon.alerts.facts import Fact
from newsmon.errors import ConfigError, QuerySyntaxError
from newsmon.query import parse_query, split_highlights
from newsmon.records import Article, MatchReason

TEMPLATE_DIR = Path(__file__).parent / "templates"
EMAIL_SCHEMES = {"mailto", "mailtos"}
EXTENSIONS = {NotifyFormat.HTML.value: "html", NotifyFormat.MARKDOWN.value: "md", NotifyFormat.TEXT.value: "txt"}
TEMPLATES = {body_format: f"alert.{ext}.j2" for body_format, ext in EXTENSIONS.items()}
MAX_TITLE = 250
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def build_match_context(rule: str, article: Article, reasons: Sequence[MatchReason],
                        sources_count: int = 1, terms: Iterable[str] = (),
                        update: tuple[int, Sequence[Fact]] | None = None) -> dict[str, Any]:
    """The context render_notification expects; `terms` are extra words to emphasise (aliases,
    triggers); `update` is (version, new facts) for a follow-up on an alerted story."""
    return {"rule": rule, "article": article, "reasons": list(reasons),
            "sources_count": sources_count, "terms": list(terms), "update": update}


def render_notification(channel_url: str, match_context: dict[str, Any],
                        template_dir: str | Path | None = None) -> tuple[str, str, str]:
    """(title, body, body_format) for one channel; body_format is an apprise NotifyFormat value."""
    return _render_message("title.txt.j2", "alert", channel_url, _template_context(match_context), template_dir)


def render_digest(channel_url: str, heading: str, entries: Sequence[dict[str, Any]],
                  template_dir: str | Path | None = None) -> tuple[str, str, str]:
    """One message listing stories grouped by rule (a digest, or a rule's over-cap summary).

    Each entry is a dict from ``digest_entry``.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        groups.setdefault(entry["rule"], []).append(entry)
    context = {"heading": heading, "count": len(entries),
               "groups": [{"rule": rule, "entries": items} for rule, items in groups.items()]}
    return _render_message("digest_title.txt.j2", "digest", channel_url, context, template_dir)


def digest_entry(match_context: dict[str, Any]) -> dict[str, Any]:
    """What a digest shows of one alert: JSON-able, stored until the digest is sent."""
    context = _template_context(match_context)
    article, reasons = context["article"], context["reasons"]
    why = "; ".join(f"{r['kind']} {r['value']}" for r in reasons if r["kind"] != "query") or (
        f"query {reasons[0]['value']}" if reasons else "")
    update = context["update"]
    return {"rule": context["rule"], "title": article["title"], "link": article["link"],
            "source": article["source"], "published": article["published"],
            "date_source": article["date_source"], "why": why,
            "sentence": reasons[0]["sentence"] if reasons else "",
            "terms": reasons[0]["terms"] if reasons else [],
            "sources_count": context["sources_count"],
            "update": ", ".join(f["label"] for f in update["facts"]) if update else None}


def render_spike(channel_url: str, spike_context: dict[str, Any],
                 template_dir: str | Path | None = None) -> tuple[str, str, str]:
    """(title, body, body_format) for an entity surge."""
    articles = [{**a, "link": _web_link(a.get("url")), "published": _format_date(a.get("published_at"))}
                for a in spike_context.get("articles", [])]
    return _render_message("spike_title.txt.j2", "spike", channel_url,
                           {**spike_context, "articles": articles}, template_dir)


def _render_message(title_template: str, kind: str, channel_url: str, context: dict[str, Any],
                    template_dir: str | Path | None) -> tuple[str, str, str]:
    body_format = select_body_format(channel_url)
    environment = _environment(str(template_dir) if template_dir else None)
    title = " ".join(_render(environment, title_template, context).split())
    if len(title) > MAX_TITLE:
        title = title[:MAX_TITLE - 1].rstrip() + "…"
    body = _render(environment, f"{kind}.{EXTENSIONS[body_format]}.j2", context).strip() + "\n"
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
        autoescape=lambda name: name is not None and name.endswith(".html.j2"),
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
        "update": _update(match_context.get("update"), extra),
    }


def _update(update: tuple[int, Sequence[Fact]] | dict[str, Any] | None, extra: list[str]) -> dict[str, Any] | None:
    if not update:
        return None
    if isinstance(update, dict):
        return update
    version, facts = update
    return {"version": version,
            "facts": [{"kind": f.kind, "label": f.label, "sentence": f.sentence,
                       "terms": list(dict.fromkeys([f.label.split(" (")[0], *extra]))} for f in facts]}


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
