"""An index of rules by what they need, so an article is checked only against rules that can fire.

Each rule gets a set of *keys*, at least one of which every article it fires on must have:

- ``entity:<name>`` (a watch-list name from ``entities.any``, or one of ``entities.all``)
- ``event:<TYPE>`` (one of ``events``)
- ``type:<LABEL>`` (one of ``entities.types``, when no names are given)
- ``word:<word>`` / a prefix (from the query: a word every match contains, see ``_query_keys``)
- ``source:<name>`` (one of ``sources``)

A rule that states none of these (only ``languages``, ``tags``, ``none`` or ``min_mentions``) is
checked on every article. Finding the candidates costs one dictionary look-up per distinct word,
entity, event and label of the article, whatever the number of rules; rules are then evaluated
in full, over a document built once per article.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from newsmon.alerts.rules import CompiledRule, article_document, evaluate
from newsmon.query import And, Not, Or, Query, Term
from newsmon.records import Analysis, Article, MatchReason


@dataclass(slots=True)
class RuleIndex:
    """Compiled article rules (spike rules excluded) indexed by the keys they need."""

    rules: list[CompiledRule]
    by_key: dict[str, list[int]] = field(default_factory=dict)
    prefixes: list[tuple[str, int]] = field(default_factory=list)  # sorted (prefix, rule index)
    always: list[int] = field(default_factory=list)

    @classmethod
    def build(cls, rules: Iterable[CompiledRule]) -> RuleIndex:
        index = cls([rule for rule in rules if rule.spike is None])
        for position, rule in enumerate(index.rules):
            keys, prefixes = rule_keys(rule)
            if keys is None:
                index.always.append(position)
                continue
            for key in keys:
                index.by_key.setdefault(key, []).append(position)
            index.prefixes.extend((prefix, position) for prefix in prefixes)
        index.prefixes.sort()
        return index

    def candidates(self, article: Article, analysis: Analysis, words: Collection[str]) -> list[CompiledRule]:
        """The rules that may fire on this article, in configuration order."""
        found = set(self.always)
        for key in _article_keys(article, analysis):
            found.update(self.by_key.get(key, ()))
        for word in words:
            found.update(self.by_key.get("word:" + word, ()))
        if self.prefixes:
            found.update(self._prefix_hits(words))
        return [self.rules[i] for i in sorted(found)]

    def _prefix_hits(self, words: Collection[str]) -> set[int]:
        hits: set[int] = set()
        starts = [prefix for prefix, _ in self.prefixes]
        for word in words:  # every prefix p <= word that word starts with sorts just before it
            end = bisect.bisect_right(starts, word)
            for i in range(end - 1, -1, -1):
                prefix, position = self.prefixes[i]
                if word.startswith(prefix):
                    hits.add(position)
                elif prefix[:1] != word[:1]:
                    break
        return hits

    def evaluate(self, article: Article, analysis: Analysis,
                 source_tags: Collection[str] = ()) -> list[tuple[CompiledRule, list[MatchReason]]]:
        """Every rule that fires on the article, with its reasons."""
        document = article_document(article)
        words = set(document.index["title"]) | set(document.index["text"])
        fired = []
        for rule in self.candidates(article, analysis, words):
            reasons = evaluate(rule, article, analysis, source_tags, document)
            if reasons is not None:
                fired.append((rule, reasons))
        return fired


def _article_keys(article: Article, analysis: Analysis) -> set[str]:
    keys = {"source:" + article.source}
    keys.update("entity:" + m.canonical.lower() for m in analysis.mentions if m.watched)
    keys.update("type:" + m.label.upper() for m in analysis.mentions)
    keys.update("event:" + e.type.value for e in analysis.events)
    return keys


def rule_keys(rule: CompiledRule) -> tuple[set[str] | None, list[str]]:
    """(keys, prefixes): the rule fires only on articles with one of them; None if none is needed.

    The most selective condition kind is chosen: names, then query words (there are many words
    and few event types), then events, then query prefixes, then entity types, then sources.
    """
    if rule.any:
        return {"entity:" + name for name in rule.any}, []
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
