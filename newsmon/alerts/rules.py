"""Alert rules: validate a configured Rule once, then evaluate it against analysed articles.

All condition kinds a rule states must hold (AND across kinds):

- ``sources`` / ``languages`` / ``tags``: filters on the article (an article of unknown language
  never passes a ``languages`` filter); they add no reasons.
- ``events``: at least one event of a listed type.
- ``entities.any`` / ``all`` / ``none``: over the canonical names of watch-list mentions,
  case-insensitively; ``entities.types`` keeps only mentions with those labels (with no names,
  any mention of those types counts, watched or not).
- ``min_mentions``: the number of mentions that satisfy the entity condition; without an entity
  condition it counts watch-list mentions, and only when set above 1.
- ``query``: the boolean query over title and text.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from newsmon.config import Rule
from newsmon.errors import ConfigError, QuerySyntaxError
from newsmon.query import Query, best_sentence, parse_query, split_highlights
from newsmon.records import Analysis, Article, EventType, MatchReason, Mention


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A Rule validated against the watch-list, names folded, query parsed once."""

    name: str
    any: frozenset[str]
    all: frozenset[str]
    none: frozenset[str]
    types: frozenset[str]
    events: frozenset[EventType]
    query: Query | None
    query_text: str | None
    sources: frozenset[str]
    languages: frozenset[str]
    tags: frozenset[str]
    min_mentions: int
    notify: tuple[str, ...]
    digest: str

    @property
    def has_entity_condition(self) -> bool:
        return bool(self.any or self.all or self.types)


def compile_rule(rule: Rule, watchlist_names: set[str]) -> CompiledRule:
    """Validate a configured rule; raise ConfigError naming the rule and the bad value."""
    where = f"rule {rule.name!r}"
    known = {name.lower() for name in watchlist_names}
    for key in ("any", "all", "none"):
        for name in getattr(rule.entities, key):
            if name.lower() not in known:
                raise ConfigError(f"{where}: entities.{key}: {name!r} is not in the watchlist")
    compiled = CompiledRule(
        name=rule.name,
        any=_folded(rule.entities.any), all=_folded(rule.entities.all), none=_folded(rule.entities.none),
        types=frozenset(label.upper() for label in rule.entities.types),
        events=frozenset(_event_type(value, where) for value in rule.events),
        query=_parse_rule_query(rule.query, where), query_text=rule.query,
        sources=frozenset(rule.sources), languages=_folded(rule.languages), tags=frozenset(rule.tags),
        min_mentions=rule.min_mentions, notify=tuple(rule.notify), digest=rule.digest,
    )
    if not (compiled.has_entity_condition or compiled.none or compiled.events or compiled.query
            or compiled.sources or compiled.languages or compiled.tags):
        raise ConfigError(f"{where}: no conditions (it would match every article)")
    return compiled


def _folded(names: Collection[str]) -> frozenset[str]:
    return frozenset(name.lower() for name in names)


def _event_type(value: str, where: str) -> EventType:
    try:
        return EventType(value.upper())
    except ValueError:
        known = ", ".join(t.value for t in EventType)
        raise ConfigError(f"{where}: events: unknown event type {value!r} (known: {known})") from None


def _parse_rule_query(text: str | None, where: str) -> Query | None:
    if text is None or not text.strip():
        return None
    try:
        return parse_query(text)
    except QuerySyntaxError as error:
        raise ConfigError(f"{where}: query: {error}") from None


def evaluate(rule: CompiledRule, article: Article, analysis: Analysis,
             source_tags: Collection[str] = ()) -> list[MatchReason] | None:
    """Why the rule fires on this article (one reason per matched value), or None if it does not.

    `source_tags` are the tags of the article's source, for rules with `tags`.
    """
    if not _passes_filters(rule, article, source_tags):
        return None
    reasons: list[MatchReason] = []
    for check in (_event_reasons, _entity_reasons, _query_reasons):
        found = check(rule, article, analysis)
        if found is None:
            return None
        reasons.extend(found)
    return reasons


def _passes_filters(rule: CompiledRule, article: Article, source_tags: Collection[str]) -> bool:
    if rule.sources and article.source not in rule.sources:
        return False
    if rule.languages and (article.language or "").lower() not in rule.languages:
        return False
    return not rule.tags or bool(rule.tags.intersection(source_tags))


def _event_reasons(rule: CompiledRule, article: Article, analysis: Analysis) -> list[MatchReason] | None:
    if not rule.events:
        return []
    reasons = _unique([MatchReason("event", event.type.value, event.sentence)
                       for event in analysis.events if event.type in rule.events])
    return reasons or None


def _entity_reasons(rule: CompiledRule, article: Article, analysis: Analysis) -> list[MatchReason] | None:
    watched = {m.canonical.lower() for m in analysis.mentions if m.watched}
    if rule.none & watched:
        return None
    if not rule.has_entity_condition:
        count = sum(1 for m in analysis.mentions if m.watched)
        return [] if rule.min_mentions <= 1 or count >= rule.min_mentions else None
    mentions = _condition_mentions(rule, analysis.mentions)
    found = {m.canonical.lower() for m in mentions}
    if (rule.any and not rule.any & found) or not rule.all <= found or len(mentions) < rule.min_mentions:
        return None
    kind = "entity" if rule.any or rule.all else "type"
    return _unique([MatchReason(kind, m.canonical if kind == "entity" else m.label, m.sentence)
                    for m in mentions])


def _condition_mentions(rule: CompiledRule, mentions: list[Mention]) -> list[Mention]:
    """Mentions that satisfy the entity condition: named watch-list entities and/or the types."""
    names = rule.any | rule.all
    return [m for m in mentions
            if (not names or (m.watched and m.canonical.lower() in names))
            and (not rule.types or m.label.upper() in rule.types)]


def _query_reasons(rule: CompiledRule, article: Article, analysis: Analysis) -> list[MatchReason] | None:
    if rule.query is None:
        return []
    if not rule.query.matches(article.title or "", article.text):
        return None
    terms = rule.query.positive_terms()
    sentence = best_sentence(article.text, terms)
    if article.title and not any(hit for _, hit in split_highlights(sentence, terms)):
        sentence = article.title  # the query matched on the title only
    return [MatchReason("query", rule.query_text or str(rule.query), sentence)]


def _unique(reasons: list[MatchReason]) -> list[MatchReason]:
    """The first reason per (kind, value): one sentence says enough."""
    seen: dict[tuple[str, str], MatchReason] = {}
    for reason in reasons:
        seen.setdefault((reason.kind, reason.value), reason)
    return list(seen.values())


def highlight_terms(rule: CompiledRule, analysis: Analysis) -> list[str]:
    """Words worth emphasising in a notification: matched surface forms, event triggers, query terms."""
    terms = [m.text for m in _condition_mentions(rule, analysis.mentions)] if rule.has_entity_condition else []
    terms += [event.trigger for event in analysis.events if event.type in rule.events]
    terms += rule.query.positive_terms() if rule.query else []
    return list(dict.fromkeys(t for t in terms if t))
