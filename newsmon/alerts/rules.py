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

from newsmon.config import Rule, SpikeSpec, parse_duration
from newsmon.errors import ConfigError, QuerySyntaxError
from newsmon.query import Query, best_sentence, parse_query, split_highlights
from newsmon.query import _Document as Document  # the indexed words of one article
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
    spike: SpikeSpec | None = None
    max_alerts: int | None = None
    max_alerts_per: float = 3600.0  # seconds

    @property
    def has_entity_condition(self) -> bool:
        return bool(self.any or self.all or self.types)


def rule_problems(rule: Rule, watchlist_names: Collection[str],
                  channels: Collection[str] | None = None) -> list[str]:
    """Every problem of one rule as "key: message" (empty when the rule is valid).

    `channels` are the configured channel names (None: do not check ``notify``).
    """
    known = {name.lower() for name in watchlist_names}
    problems = [f"entities.{key}: {name!r} is not in the watchlist"
                for key in ("any", "all", "none") for name in getattr(rule.entities, key)
                if name.lower() not in known]
    problems += [f"events: unknown event type {value!r} (known: {', '.join(t.value for t in EventType)})"
                 for value in rule.events if value.upper() not in EventType.__members__]
    if rule.query is not None and rule.query.strip():
        try:
            parse_query(rule.query)
        except QuerySyntaxError as error:
            problems.append(f"query: {error}")
    if channels is not None:
        problems += [f"notify: unknown channel {name!r} (known: {', '.join(channels) or 'none configured'})"
                     for name in rule.notify if name not in channels]
    return problems + _shape_problems(rule, known)


def _shape_problems(rule: Rule, known: set[str]) -> list[str]:
    conditions = bool(rule.entities.any or rule.entities.all or rule.entities.none or rule.entities.types
                      or rule.events or (rule.query or "").strip() or rule.min_mentions > 1)
    filters = bool(rule.sources or rule.languages or rule.tags)
    if rule.spike is None:
        return [] if conditions or filters else ["no conditions (it would match every article)"]
    problems = ["spike: a spike rule takes no entities, events, query or min_mentions"] if conditions else []
    if isinstance(rule.spike.entities, list):
        problems += [f"spike.entities: {name!r} is not in the watchlist"
                     for name in rule.spike.entities if name.lower() not in known]
    return problems


def compile_rule(rule: Rule, watchlist_names: Collection[str]) -> CompiledRule:
    """Validate a configured rule; raise ConfigError naming the rule and the bad value."""
    problems = rule_problems(rule, watchlist_names)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ConfigError(f"rule {rule.name!r}: {problems[0]}{more}")
    query = parse_query(rule.query) if rule.query and rule.query.strip() else None
    return CompiledRule(
        name=rule.name,
        any=_folded(rule.entities.any), all=_folded(rule.entities.all), none=_folded(rule.entities.none),
        types=frozenset(label.upper() for label in rule.entities.types),
        events=frozenset(EventType(value.upper()) for value in rule.events),
        query=query, query_text=rule.query if query else None,
        sources=frozenset(rule.sources), languages=_folded(rule.languages), tags=frozenset(rule.tags),
        min_mentions=rule.min_mentions, notify=tuple(rule.notify), digest=rule.digest,
        spike=rule.spike, max_alerts=rule.max_alerts, max_alerts_per=parse_duration(rule.max_alerts_per),
    )


def _folded(names: Collection[str]) -> frozenset[str]:
    return frozenset(name.lower() for name in names)


def evaluate(rule: CompiledRule, article: Article, analysis: Analysis,
             source_tags: Collection[str] = (), document: Document | None = None) -> list[MatchReason] | None:
    """Why the rule fires on this article (one reason per matched value), or None if it does not.

    `source_tags` are the tags of the article's source, for rules with `tags`; `document` is the
    article's words, indexed once and shared by every rule (built here when not given).
    Spike rules never fire on one article (see newsmon.alerts.spikes).
    """
    if rule.spike is not None or not _passes_filters(rule, article, source_tags):
        return None
    reasons: list[MatchReason] = []
    for check in (_event_reasons, _entity_reasons, _query_reasons):
        found = check(rule, article, analysis, document)
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


def _event_reasons(rule: CompiledRule, article: Article, analysis: Analysis,
                   document: Document | None) -> list[MatchReason] | None:
    if not rule.events:
        return []
    reasons = _unique([MatchReason("event", event.type.value, event.sentence)
                       for event in analysis.events if event.type in rule.events])
    return reasons or None


def _entity_reasons(rule: CompiledRule, article: Article, analysis: Analysis,
                    document: Document | None) -> list[MatchReason] | None:
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


def _query_reasons(rule: CompiledRule, article: Article, analysis: Analysis,
                   document: Document | None) -> list[MatchReason] | None:
    if rule.query is None:
        return []
    if not query_matches(rule.query, document or article_document(article)):
        return None
    terms = rule.query.positive_terms()
    sentence = best_sentence(article.text, terms)
    if article.title and not any(hit for _, hit in split_highlights(sentence, terms)):
        sentence = article.title  # the query matched on the title only
    return [MatchReason("query", rule.query_text or str(rule.query), sentence)]


def article_document(article: Article) -> Document:
    """The article's title and text split into words once, for every rule's query."""
    return Document(article.title or "", article.text)


def query_matches(query: Query, document: Document) -> bool:
    """Query.matches over a prepared document (Query.matches rebuilds it on every call)."""
    return query._eval(document)


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
