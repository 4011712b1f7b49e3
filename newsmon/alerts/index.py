"""An index of rules by what they need, so an article is checked only against rules that can fire.

Each rule gets a set of *keys*, at least one of which every article it fires on must have:

- ``pair:<name>|<TYPE>`` (a name from ``entities.any``, or one of ``entities.all``, with one of
  ``events``: the article must have both)
- ``both:<name>|<name>`` (two of ``entities.all``, the first two in sorted order)
- ``entity:<name>`` (a watch-list name from ``entities.any``, or one of ``entities.all``)
- ``event:<TYPE>`` (one of ``events``)
- ``type:<LABEL>`` (one of ``entities.types``, when no names are given)
- ``word:<word>`` / a prefix (from the query: a word every match contains, see ``_query_keys``)
- ``source:<name>`` (one of ``sources``)

A rule that states none of these (only ``languages``, ``tags``, ``none`` or ``min_mentions``) is
checked on every article. Finding the candidates costs one set intersection per kind of key
(the article's distinct words, entities, events, labels against the keys rules need), whatever
the number of rules; the article is split into words only if some rule needs words. Candidates
are then evaluated in full over one PreparedArticle, so the words, the sentences and the
watched names are worked out once per article, not once per rule. With ``explain=False`` (the
alert stage, backtests) a query's best sentence is left to ``rules.explain``, called only for
the matches that are stored and sent.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from newsmon.alerts.rules import CompiledRule, PreparedArticle, evaluate
from newsmon.query import And, Not, Or, Query, Term
from newsmon.records import Analysis, Article, MatchReason


@dataclass(slots=True)
class RuleIndex:
    """Compiled article rules (spike rules excluded) indexed by the keys they need."""

    rules: list[CompiledRule]
    by_kind: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # "word" -> word -> rules
    prefixes: list[tuple[str, int]] = field(default_factory=list)  # sorted (prefix, rule index)
    starts: list[str] = field(default_factory=list)  # the prefixes alone, for bisect
    always: list[int] = field(default_factory=list)
    needs_words: bool = False  # some rule is found by the article's words, which must then be split

    @classmethod
    def build(cls, rules: Iterable[CompiledRule]) -> RuleIndex:
        index = cls([rule for rule in rules if rule.spike is None])
        for position, rule in enumerate(index.rules):
            keys, prefixes = rule_keys(rule)
            if keys is None:
                index.always.append(position)
                continue
            for key in keys:
                kind, _, value = key.partition(":")
                index.by_kind.setdefault(kind, {}).setdefault(value, []).append(position)
            index.prefixes.extend((prefix, position) for prefix in prefixes)
        index.prefixes.sort()
        index.starts = [prefix for prefix, _ in index.prefixes]
        index.needs_words = "word" in index.by_kind or bool(index.prefixes)
        return index

    def candidates(self, prepared: PreparedArticle) -> list[CompiledRule]:
        """The rules that may fire on this article, in configuration order."""
        tables, analysis = self.by_kind, prepared.analysis
        found = set(self.always)
        self._look_up(found, "entity", prepared.watched)
        if "both" in tables and len(prepared.watched) > 1:
            names = sorted(prepared.watched)
            self._look_up(found, "both", {f"{a}|{b}" for i, a in enumerate(names) for b in names[i + 1:]})
        if "pair" in tables and analysis.events:
            events = {e.type.value for e in analysis.events}
            self._look_up(found, "pair", {f"{name}|{event}" for name in prepared.watched for event in events})
        if "event" in tables:
            self._look_up(found, "event", {e.type.value for e in analysis.events})
        if "type" in tables:
            self._look_up(found, "type", {m.label.upper() for m in analysis.mentions})
        if "source" in tables:
            self._look_up(found, "source", {prepared.article.source})
        if self.needs_words:
            words = prepared.document.all_words
            self._look_up(found, "word", words)
            if self.prefixes:
                found.update(self._prefix_hits(words))
        return [self.rules[i] for i in sorted(found)]

    def _look_up(self, found: set[int], kind: str, values: AbstractSet[str]) -> None:
        """Add the rules needing one of `values` of this kind: one set intersection, in C."""
        table = self.by_kind.get(kind)
        if table:
            for value in table.keys() & values:
                found.update(table[value])

    def _prefix_hits(self, words: Collection[str]) -> set[int]:
        hits: set[int] = set()
        for word in words:  # every prefix p <= word that word starts with sorts just before it
            end = bisect.bisect_right(self.starts, word)
            for i in range(end - 1, -1, -1):
                prefix, position = self.prefixes[i]
                if word.startswith(prefix):
                    hits.add(position)
                elif prefix[:1] != word[:1]:
                    break
        return hits

    def evaluate(self, article: Article, analysis: Analysis, source_tags: Collection[str] = (),
                 explain: bool = True) -> list[tuple[CompiledRule, list[MatchReason]]]:
        """Every rule that fires on the article, with its reasons (see rules.evaluate for `explain`)."""
        prepared = PreparedArticle(article, analysis, source_tags)
        fired = []
        for rule in self.candidates(prepared):
            if rule.matcher is not None and not rule.matcher(prepared.document):
                continue  # most candidates a word of the query brought in stop here, before evaluate()
            reasons = evaluate(rule, article, analysis, source_tags, prepared, explain)
            if reasons is not None:
                fired.append((rule, reasons))
        return fired


def rule_keys(rule: CompiledRule) -> tuple[set[str] | None, list[str]]:
    """(keys, prefixes): the rule fires only on articles with one of them; None if none is needed.

    The most selective condition kind is chosen: names with event types, names (two at once for
    ``all``), then query words (there are many words and few event types), then events, then
    query prefixes, then entity types, then sources.
    """
    names = rule.any or ({min(rule.all)} if rule.all else set())
    if names and rule.events:  # both needed: the pairs are far fewer than either alone
        return {f"pair:{name}|{event.value}" for name in names for event in rule.events}, []
    if rule.any:
        return {"entity:" + name for name in rule.any}, []
    if len(rule.all) > 1:
        first, second = sorted(rule.all)[:2]
        return {f"both:{first}|{second}"}, []
    if rule.all:
        return {"entity:" + min(rule.all)}, []
    if rule.query is not None and (needed := _query_keys(rule.query)) is not None and not needed[1]:
        return {"word:" + word for word in needed[0]}, []
    if rule.events:
        return {"event:" + event.value for event in rule.events}, []
    if rule.query is not None and (needed := _query_keys(rule.query)) is not None:
        words, prefixes = needed
        return {"word:" + word for word in words}, sorted(prefixes)
    if rule.types:
        return {"type:" + label for label in rule.types}, []
    if rule.sources:
        return {"source:" + source for source in rule.sources}, []
    return None, []


def _query_keys(query: Query) -> tuple[set[str], set[str]] | None:
    """Words (and prefixes) one of which every matching document contains; None if unknown.

    A term needs its first word; AND needs what its most selective operand needs; OR needs
    what every operand needs; NOT needs nothing we can index.
    """
    if isinstance(query, Term):
        first = query.words[0]
        if query.prefix and len(query.words) == 1:
            return set(), {first}
        return {first}, set()
    if isinstance(query, And):
        options = [keys for keys in map(_query_keys, query.items) if keys is not None]
        return min(options, key=lambda k: len(k[0]) + len(k[1])) if options else None
    if isinstance(query, Or):
        return _union([_query_keys(item) for item in query.items])
    if isinstance(query, Not):
        return None
    return None


def _union(parts: Sequence[tuple[set[str], set[str]] | None]) -> tuple[set[str], set[str]] | None:
    if any(part is None for part in parts):
        return None
    words: set[str] = set()
    prefixes: set[str] = set()
    for part in parts:
        assert part is not None
        words |= part[0]
        prefixes |= part[1]
    return words, prefixes
