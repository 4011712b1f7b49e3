"""Our own metadata pass over a parsed page: JSON-LD, OpenGraph/meta tags, the visible headline and byline.

Everything here reads the tree and never changes it (scripts are stripped after it ran). Values
come out ordered from the most explicit source to the least, each with the name of its source,
so that the choosing code in ``article.py`` can say where a value came from.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import lxml.html
from lxml.etree import XPath

META_DATE_KEYS = ("article:published_time", "og:article:published_time", "datepublished",
                  "publishdate", "publish-date", "pubdate", "dc.date.issued", "dcterms.issued",
                  "dc.date", "dcterms.created", "parsely-pub-date", "sailthru.date", "date")
# Author-bearing meta tags, most specific first; values that are URLs or handles are cleaned later.
META_AUTHOR_KEYS = ("author", "article:author", "og:article:author", "parsely-author", "sailthru.author",
                    "dc.creator", "dcterms.creator", "byl")
META_TITLE_KEYS = ("og:title", "twitter:title")
META_SITE_KEYS = ("og:site_name", "application-name", "publisher", "dc.publisher")
META_DESCRIPTION_KEYS = ("og:description", "description", "twitter:description", "dc.description")
META_LANGUAGE_KEYS = ("content-language", "dc.language", "og:locale")
_TIME_XPATHS = ("//time[@itemprop='datePublished'][@datetime]", "//time[@pubdate][@datetime]",
                "//article//time[@datetime]", "//time[@datetime]")
_LD_SCRIPTS = "//script[contains(translate(@type, 'LDJSON', 'ldjson'), 'ld+json')]"
# visible bylines: rel/itemprop "author", a link to an author page, or a class naming a byline,
# an author, an author name or a writer (contains() picks candidates cheaply, _BYLINE_CLASS then
# checks the class word by word)
_BYLINE = XPath("//*[self::a or self::span or self::div or self::p or self::address or self::strong]"
                "[@rel='author' or contains(@itemprop, 'author') or contains(@href, '/author/') or "
                "contains(@class, 'author') or contains(@class, 'Author') or contains(@class, 'byline') or "
                "contains(@class, 'Byline') or contains(@class, 'writer')]")
_BYLINE_CLASS = re.compile(r"(?:^|[\s_-])(?:byline|author-?name|author|writer)(?:$|[\s_-])", re.IGNORECASE)
BYLINE_CHARS = 120  # longer "bylines" are author biographies or whole teasers


@dataclass(slots=True)
class PageMeta:
    """What our own metadata pass found in the page's markup; (source, value) pairs, best first."""

    canonical: str | None = None
    language: str | None = None
    dates: tuple[tuple[str, str], ...] = ()
    titles: tuple[tuple[str, str], ...] = ()  # json-ld headline, og:title, twitter:title, <title>
    headings: tuple[str, ...] = ()  # visible <h1> texts, those inside <article>/<main> first
    authors: tuple[tuple[str, tuple[str, ...]], ...] = ()  # per source, the raw names it gives
    author_organisations: tuple[str, ...] = ()  # JSON-LD authors typed as an Organization
    publishers: tuple[str, ...] = ()  # names the site goes by: JSON-LD publisher, og:site_name
    article_body: str = ""  # the longest JSON-LD articleBody, markup removed
    description: str | None = None  # the page's own summary (og:description, description)


def parse_page_meta(tree: lxml.html.HtmlElement) -> PageMeta:
    """Read canonical link, language, dates, titles, headings, authors, publisher, summary and body."""
    canonical = first_text(tree.xpath("//link[@href][contains(concat(' ', normalize-space(translate("
                                      "@rel, 'CANONIL', 'canonil')), ' '), ' canonical ')]/@href"))
    graph = JsonLd.from_tree(tree)
    metas = _meta_values(tree)
    dates = [("json-ld", value) for value in graph.dates()]
    dates += [("meta", value) for key in META_DATE_KEYS for value in metas.get(key, [])[:1]]
    dates += [("time-element", value) for value in _time_dates(tree)]
    return PageMeta(
        canonical=canonical, dates=tuple(dates),
        language=first_text(tree.xpath("/html/@lang") + _first_values(metas, META_LANGUAGE_KEYS)),
        titles=tuple(_titles(tree, graph, metas)), headings=tuple(_headings(tree)),
        authors=tuple(_authors(graph, metas)), author_organisations=tuple(graph.author_organisations()),
        publishers=tuple(_publishers(graph, metas)),
        article_body=graph.article_body(), description=first_text(_first_values(metas, META_DESCRIPTION_KEYS)))


# -- JSON-LD -----------------------------------------------------------------------------------

@dataclass(slots=True)
class JsonLd:
    """Every JSON-LD node on the page (``@graph`` flattened) and an index of them by ``@id``."""

    nodes: list[dict[str, Any]]
    by_id: dict[str, dict[str, Any]]

    @classmethod
    def from_tree(cls, tree: lxml.html.HtmlElement) -> JsonLd:
        nodes = [node for script in tree.xpath(_LD_SCRIPTS) for node in _walk(_load_json(script.text))]
        by_id = {node["@id"]: node for node in nodes if isinstance(node.get("@id"), str) and len(node) > 1}
        return cls(nodes, by_id)

    def articles(self) -> list[dict[str, Any]]:
        """Article-typed nodes first, then other nodes (a page's WebPage node often carries dates)."""
        articles = [node for node in self.nodes if is_article_type(node.get("@type"))]
        return articles + [node for node in self.nodes if node not in articles]

    def dates(self) -> list[str]:
        values = [node.get("datePublished") or node.get("dateCreated") for node in self.articles()]
        return [value for value in values if isinstance(value, str)]

    def headlines(self) -> list[str]:
        values = [node.get("headline") for node in self.nodes if is_article_type(node.get("@type"))]
        return [html.unescape(value) for value in values if isinstance(value, str)]

    def author_names(self) -> list[str]:
        """Names of the first article node that has authors; ``@id`` references resolved."""
        return [name for author in self._authors() for name in self._name(author)]

    def author_organisations(self) -> list[str]:
        """Those of ``author_names`` typed as an organisation (``NewsMediaOrganization``...)."""
        return [name for author in self._authors() if _is_organisation(self._resolve(author))
                for name in self._name(author)]

    def _authors(self) -> list[Any]:
        for node in self.nodes:
            if is_article_type(node.get("@type")):
                authors = [author for author in _as_list(node.get("author")) if self._name(author)]
                if authors:
                    return authors
        return []

    def _resolve(self, value: Any) -> Any:
        """An ``{"@id": ...}`` reference -> the node it names (itself when it carries a name)."""
        if isinstance(value, dict) and "name" not in value:
            return self.by_id.get(value.get("@id", ""), value)
        return value

    def publisher_names(self) -> list[str]:
        names = [name for node in self.nodes if is_article_type(node.get("@type"))
                 for publisher in _as_list(node.get("publisher")) for name in self._name(publisher)]
        return names + [node["name"] for node in self.nodes if _is_type(node, "NewsMediaOrganization", "WebSite")
                        and isinstance(node.get("name"), str)]

    def article_body(self) -> str:
        bodies = [node.get("articleBody") for node in self.nodes if is_article_type(node.get("@type"))]
        texts = [_strip_markup(body) for body in bodies if isinstance(body, str)]
        return max(texts, key=len, default="")

    def _name(self, value: Any) -> list[str]:
        if isinstance(value, str):
            return [html.unescape(value)]
        if isinstance(value, dict):
            node = self._resolve(value)
            name = node.get("name")
            if isinstance(name, str) and not _is_type(node, "ImageObject"):
                return [html.unescape(name)]
        return []


def _load_json(text: str | None) -> Any:
    try:
        return json.loads(text or "", strict=False)
    except ValueError:
        return None  # broken JSON-LD is common; other sources remain


def _walk(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _walk(item)
    elif isinstance(data, dict):
        yield data
        yield from _walk(data.get("@graph"))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def is_article_type(value: Any) -> bool:
    return any(isinstance(t, str) and t.endswith(("Article", "BlogPosting"))
               for t in _as_list(value))


def _is_type(node: dict[str, Any], *names: str) -> bool:
    return any(t in names for t in _as_list(node.get("@type")))


def _is_organisation(node: Any) -> bool:
    """Typed as an organisation and not also as a person (some sites type a writer as both)."""
    types = [t for t in _as_list(node.get("@type")) if isinstance(t, str)] if isinstance(node, dict) else []
    return any(t.endswith("Organization") for t in types) and "Person" not in types


def _strip_markup(text: str) -> str:
    """JSON-LD articleBody is sometimes HTML, sometimes entity-escaped text."""
    if "<" in text and ">" in text:
        text = lxml.html.fragment_fromstring(text, create_parent="div").text_content()
    return html.unescape(text).strip()


# -- meta tags, titles, headings ---------------------------------------------------------------

def _meta_values(tree: lxml.html.HtmlElement) -> dict[str, list[str]]:
    """Every <meta> value by lower-cased key (property, name, itemprop, http-equiv), in document order."""
    found: dict[str, list[str]] = {}
    for node in tree.xpath("//meta[@content]"):
        key = (node.get("property") or node.get("name") or node.get("itemprop") or node.get("http-equiv")
               or "").strip().lower()
        value = " ".join(node.get("content", "").split())
        if key and value:
            found.setdefault(key, []).append(value)
    return found


def _first_values(metas: dict[str, list[str]], keys: tuple[str, ...]) -> list[str]:
    return [metas[key][0] for key in keys if key in metas]


def _time_dates(tree: lxml.html.HtmlElement) -> list[str]:
    return [value for xpath in _TIME_XPATHS for value in tree.xpath(f"{xpath}/@datetime")[:1]]


def _titles(tree: lxml.html.HtmlElement, graph: JsonLd, metas: dict[str, list[str]]) -> list[tuple[str, str]]:
    titles = [("json-ld", value) for value in graph.headlines()]
    titles += [(key, metas[key][0]) for key in META_TITLE_KEYS if key in metas]
    titles += [("title", value) for value in tree.xpath("//head/title/text()")[:1]]
    return [(source, " ".join(value.split())) for source, value in titles if value.strip()]


def _headings(tree: lxml.html.HtmlElement) -> list[str]:
    inside = tree.xpath("//article//h1 | //main//h1")
    others = [h1 for h1 in tree.xpath("//h1") if h1 not in inside]
    texts = [" ".join(h1.text_content().split()) for h1 in inside + others]
    return list(dict.fromkeys(text for text in texts if 0 < len(text) <= 400))


def _authors(graph: JsonLd, metas: dict[str, list[str]]) -> list[tuple[str, tuple[str, ...]]]:
    found = [("json-ld", tuple(graph.author_names()))]
    found += [(key, tuple(metas[key])) for key in META_AUTHOR_KEYS if key in metas]
    return [(source, names) for source, names in found if names]


def bylines(tree: lxml.html.HtmlElement) -> list[str]:
    """The first byline on the page ("By; Jane Doe; 1 July 2021"); later ones sit in teasers.

    Its text pieces are joined with "; ", a separator the author clean-up splits on: bylines put
    each name in its own element, often with no space between them.
    """
    for node in _BYLINE(tree):
        if _is_byline(node):
            text = "; ".join(" ".join(part.split()) for part in node.itertext() if part.strip())
            if 0 < len(text) <= BYLINE_CHARS:
                return [text]
    return []


def _is_byline(node: lxml.html.HtmlElement) -> bool:
    """Marked as the author's, and not inside a picture (credits) or a comment."""
    marked = node.get("rel") == "author" or "author" in node.get("itemprop", "") \
        or "/author/" in node.get("href", "") or bool(_BYLINE_CLASS.search(node.get("class", "")))
    return marked and not any(parent.tag == "figure" or "comment" in parent.get("class", "").lower()
                              for parent in node.iterancestors())


def _publishers(graph: JsonLd, metas: dict[str, list[str]]) -> list[str]:
    names = graph.publisher_names() + [value for key in META_SITE_KEYS for value in metas.get(key, [])]
    return list(dict.fromkeys(" ".join(name.split()) for name in names if name.strip()))


def first_text(values: list[Any]) -> str | None:
    for value in values:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None
