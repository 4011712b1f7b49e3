"""The model's attribute ruler (tag -> part of speech, morphology, lemma exceptions), faster.

spaCy's ``AttributeRuler`` runs a ``Matcher`` with all its patterns (179 in the small English
model) over every token, and the Matcher's cost grows with the patterns. Nearly all of them
test one token for values or value sets (``{"TAG": "VBD", "LOWER": "was"}``,
``{"DEP": {"IN": ["aux", "auxpass"]}, "TAG": {"NOT_IN": ["TO"]}}``): those become dictionary
lookups here, and only the rest (regular expressions, several tokens) stay in a small Matcher.
The matches are applied in the ruler's order with the ruler's attributes: the result is the same.
"""

from __future__ import annotations

import itertools
import weakref
from dataclasses import dataclass
from typing import Any, cast

from spacy.attrs import DEP, IS_SPACE, LOWER, TAG
from spacy.matcher import Matcher
from spacy.pipeline import AttributeRuler
from spacy.strings import StringStore
from spacy.tokens import Doc
from spacy.tokens._retokenize import set_token_attrs

_COLUMNS = {"TAG": 0, "LOWER": 1, "DEP": 2, "IS_SPACE": 3}  # columns of the array a doc is read into
_ATTRS = [TAG, LOWER, DEP, IS_SPACE]
Excluded = tuple[tuple[int, frozenset[int]], ...]  # (column, value ids a NOT_IN forbids)
Table = dict[tuple[int, ...], list[tuple[int, Excluded]]]  # tested values -> (pattern number, exclusions)
Pattern = list[dict[str, Any]]  # a Matcher pattern: one dict of attribute tests per token


@dataclass(slots=True)
class _Compiled:
    tables: list[tuple[tuple[int, ...], Table]]  # per set of tested columns
    matcher: Matcher  # the patterns that are no single-token value tests


_COMPILED: weakref.WeakKeyDictionary[AttributeRuler, _Compiled] = weakref.WeakKeyDictionary()


def apply_attribute_ruler(ruler: AttributeRuler, doc: Doc) -> Doc:
    """What ``ruler(doc)`` does, with the single-token patterns looked up."""
    compiled = _compile(ruler)
    for number, start, end in sorted(_lookups(compiled, doc) | _matches(compiled, doc)):
        index = ruler.indices[number]
        set_token_attrs(doc[start + index if index >= 0 else end + index], ruler.attrs[number])
    return doc


def _lookups(compiled: _Compiled, doc: Doc) -> set[tuple[int, int, int]]:
    values = doc.to_array(_ATTRS).T.tolist()  # one list per column
    found = set()
    for columns, table in compiled.tables:
        for i, hits in enumerate(map(table.get, zip(*(values[c] for c in columns)))):
            for number, excluded in hits or ():
                if not any(values[column][i] in ids for column, ids in excluded):
                    found.add((number, i, i + 1))
    return found


def _matches(compiled: _Compiled, doc: Doc) -> set[tuple[int, int, int]]:
    strings = doc.vocab.strings
    return {(int(strings[key]), start, end)
            for key, start, end in compiled.matcher(doc, allow_missing=True, as_spans=False)}  # type: ignore[misc]


def _compile(ruler: AttributeRuler) -> _Compiled:
    if ruler not in _COMPILED:
        strings = ruler.vocab.strings
        tables: dict[tuple[int, ...], Table] = {}
        matcher = Matcher(ruler.vocab)
        for number, entry in enumerate(ruler.patterns):
            # spaCy types a ruler entry's values loosely: "patterns" is always a list of Matcher patterns
            for pattern in cast("list[Pattern]", entry["patterns"]):
                if not _add_lookup(tables, strings, number, pattern):
                    matcher.add(str(number), [pattern])
        _COMPILED[ruler] = _Compiled(list(tables.items()), matcher)
    return _COMPILED[ruler]


def _add_lookup(tables: dict[tuple[int, ...], Table], strings: StringStore, number: int,
                pattern: Pattern) -> bool:
    """Put a one-token pattern of values, IN and NOT_IN sets into the tables; False if it is none."""
    if len(pattern) != 1 or not all(key in _COLUMNS and _is_value_test(v) for key, v in pattern[0].items()):
        return False
    tested = {key: v for key, v in pattern[0].items() if not (isinstance(v, dict) and "NOT_IN" in v)}
    if not tested:
        return False
    excluded = tuple((_COLUMNS[key], frozenset(_ids(strings, key, v["NOT_IN"])))
                     for key, v in pattern[0].items() if key not in tested)
    names = sorted(tested)
    table = tables.setdefault(tuple(_COLUMNS[name] for name in names), {})
    choices = [_ids(strings, name, tested[name]["IN"] if isinstance(tested[name], dict) else [tested[name]])
               for name in names]
    for values in itertools.product(*choices):
        table.setdefault(values, []).append((number, excluded))
    return True


def _is_value_test(value: object) -> bool:
    return not isinstance(value, dict) or (len(value) == 1 and ("IN" in value or "NOT_IN" in value))


def _ids(strings: StringStore, name: str, values: list[Any]) -> list[int]:
    if name == "IS_SPACE":
        return [int(bool(v)) for v in values]
    return [strings.add(str(v)) for v in values]
