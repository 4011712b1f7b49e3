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
from dataclasses import dataclass, field

from newsmon.config import Rule, SpikeSpec, parse_duration
from newsmon.errors import ConfigError, QuerySyntaxError
from newsmon.query import Document, Matcher, Query, Sentences, parse_query
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
    terms: tuple[str, ...]  # the query's positive terms: what its explanation looks for
    matcher: Matcher | None  # the query as one function, built once
    sources: frozenset[str]
    languages: frozenset[str]
    tags: frozenset[str]
    min_mentions: int
    notify: tuple[str, ...]
    digest: str
    spike: SpikeSpec | None = None
    max_alerts: int | None = None
    max_alerts_per: float = 3600.0  # seconds
    filtered: bool = False  # it filters on sources, languages or tags

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
        terms=tuple(query.positive_terms()) if query else (), matcher=query.matcher() if query else None,
        sources=frozenset(rule.sources), languages=_folded(rule.languages), tags=frozenset(rule.tags),
        min_mentions=rule.min_mentions, notify=tuple(rule.notify), digest=rule.digest,
        spike=rule.spike, max_alerts=rule.max_alerts, max_alerts_per=parse_duration(rule.max_alerts_per),
        filtered=bool(rule.sources or rule.languages or rule.tags),
    )


def _folded(names: Collection[str]) -> frozenset[str]:
    return frozenset(name.lower() for name in names)


@dataclass(slots=True)
class PreparedArticle:
    """An article as every rule reads it; the costly parts are computed on first use, then shared.

    `document` (its words, for queries and the rule index) and `sentences` (for explaining query
    matches) are built at most once per article however many rules look at it.
    """

    article: Article
    analysis: Analysis
    source_tags: Collection[str] = ()
    _document: Document | None = field(default=None, repr=False)
    _sentences: Sentences | None = field(default=None, repr=False)
    _watched: frozenset[str] | None = field(default=None, repr=False)

    @property
    def document(self) -> Document:
        if self._document is None:
            self._document = Document(self.article.title or "", self.article.text)
        return self._document

    @property
    def sentences(self) -> Sentences:
        if self._sentences is None:
            self._sentences = Sentences(self.article.text)
        return self._sentences

    @property
    def watched(self) -> frozenset[str]:
        """Folded canonical names of the watch-list mentions."""
        if self._watched is None:
            self._watched = frozenset(m.canonical.lower() for m in self.analysis.mentions if m.watched)
        return self._watched


def evaluate(rule: CompiledRule, article: Article, analysis: Analysis, source_tags: Collection[str] = (),
             prepared: PreparedArticle | None = None, explain: bool = True) -> list[MatchReason] | None:
    """Why the rule fires on this article (one reason per matched value), or None if it does not.

    `source_tags` are the tags of the article's source, for rules with `tags`; `prepared` is the
    article as shared by every rule (made here when not given). With `explain` False the query's
    reason has no sentence yet: finding the best one is left to ``explain`` (see there).
    Spike rules never fire on one article (see newsmon.alerts.spikes).
    """
    prepared = prepared or PreparedArticle(article, analysis, source_tags)
    if rule.spike is not None or (rule.filtered and not _passes_filters(rule, article, prepared.source_tags)):
        return None
    if rule.matcher is not None and not rule.matcher(prepared.document):
        return None  # first: most candidates a word of the query brought in stop here
    events = _event_reasons(rule, prepared) if rule.events else []
    if events is None:
        return None
    entities = _entity_reasons(rule, prepared)
    if entities is None:
        return None
    if rule.matcher is None:
        return events + entities
    return events + entities + [_query_reason(rule, prepared) if explain else _unexplained(rule)]


def _passes_filters(rule: CompiledRule, article: Article, source_tags: Collection[str]) -> bool:
    if rule.sources and article.source not in rule.sources:
        return False
    if rule.languages and (article.language or "").lower() not in rule.languages:
        return False
    return not rule.tags or bool(rule.tags.intersection(source_tags))


def _event_reasons(rule: CompiledRule, prepared: PreparedArticle) -> list[MatchReason] | None:
    reasons = _unique([MatchReason("event", event.type.value, event.sentence)
                       for event in prepared.analysis.events if event.type in rule.events])
    return reasons or None


def _entity_reasons(rule: CompiledRule, prepared: PreparedArticle) -> list[MatchReason] | None:
    if rule.none and not rule.none.isdisjoint(prepared.watched):
        return None
    mentions = prepared.analysis.mentions
    if not (rule.any or rule.all or rule.types):
        count = sum(1 for m in mentions if m.watched)
        return [] if rule.min_mentions <= 1 or count >= rule.min_mentions else None
    if (rule.any and rule.any.isdisjoint(prepared.watched)) or not rule.all <= prepared.watched:
        return None  # a quick no before looking at each mention
    matched = _condition_mentions(rule, mentions)
    found = {m.canonical.lower() for m in matched}
    if (rule.any and not rule.any & found) or not rule.all <= found or len(matched) < rule.min_mentions:
        return None
    kind = "entity" if rule.any or rule.all else "type"
    return _unique([MatchReason(kind, m.canonical if kind == "entity" else m.label, m.sentence)
                    for m in matched])


def _condition_mentions(rule: CompiledRule, mentions: list[Mention]) -> list[Mention]:
    """Mentions that satisfy the entity condition: named watch-list entities and/or the types."""
    names = rule.any | rule.all
    return [m for m in mentions
            if (not names or (m.watched and m.canonical.lower() in names))
            and (not rule.types or m.label.upper() in rule.types)]


def _query_reason(rule: CompiledRule, prepared: PreparedArticle) -> MatchReason:
    """The query's reason (the query matched): its best sentence, or the title if only that matched."""
    sentence, found = prepared.sentences.best(list(rule.terms))
    if not found and prepared.article.title:
        sentence = prepared.article.title  # the query matched on the title only
    return MatchReason("query", rule.query_text or str(rule.query), sentence)


def _unexplained(rule: CompiledRule) -> MatchReason:
    return MatchReason("query", rule.query_text or str(rule.query), "")


def explain(rule: CompiledRule, reasons: list[MatchReason], prepared: PreparedArticle) -> list[MatchReason]:
    """The reasons with the query's best sentence filled in, for a match found with explain=False.

    Matching only needs to know that the query matched; which sentence shows it best is needed
    once per notification. Explaining several rules' matches through one PreparedArticle splits
    the text into sentences once and looks each term up once.
    """
    return [_query_reason(rule, prepared) if r.kind == "query" and not r.sentence else r for r in reasons]


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
    terms += rule.terms
    return list(dict.fromkeys(t for t in terms if t))
