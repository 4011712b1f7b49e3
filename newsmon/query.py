"""The boolean query language shared by alert rules and search.

Syntax::

    twitter                      a term (case-insensitive, whole words)
    "open an office"             an exact phrase
    twit*                        a prefix: words starting with "twit"
    title:Twitter  text:"fine"   restrict a term, phrase or group to one field
    a AND b   a b                both (juxtaposition means AND)
    a OR b                       either
    NOT a                        not (binds tighter than AND, which binds tighter than OR)
    ( ... )                      grouping; title:( ... ) applies the field to the group

Operators are upper-case only: "and", "or", "not" are ordinary words. A term is split into
words on anything that is not a letter or digit, the way SQLite FTS5's unicode61 tokenizer and
PostgreSQL's parser do, so ``e-mail`` is the phrase "e mail".

One query compiles three ways: ``matches()`` evaluates it in Python (rules), ``to_fts5()`` gives
an SQLite FTS5 MATCH expression and ``to_tsquery()`` a PostgreSQL tsquery (search).

FTS5 only has a binary NOT, so a query that matches by exclusion alone (``NOT x``, ``a OR NOT
b``) cannot be compiled for FTS5: ``to_fts5()`` raises QuerySyntaxError for it, while
``matches()`` and ``to_tsquery()`` (which has a unary ``!``) handle it.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from newsmon.errors import QuerySyntaxError

MAX_QUERY_LENGTH = 2000
MAX_DEPTH = 32  # parentheses and NOT chains; keeps every backend far from its recursion limit
FIELDS = ("title", "text")
TSQUERY_WEIGHTS = {"title": "A", "text": "B"}  # tsvector = setweight(title,'A') || setweight(text,'B')
SNIPPET_LENGTH = 300

_WORD = re.compile(r"[^\W_]+")
_WORD_OR_UNDERSCORE = re.compile(r"\w+")  # twice as fast as _WORD; used on text without "_"
_FIELD_PREFIX = re.compile(r"(title|text):", re.IGNORECASE)
_OPERATORS = ("AND", "OR", "NOT")
_SENTENCE_END = re.compile(r"[.!?…]\s+|\n\s*")  # the mark stays with its sentence, see _sentence_spans


Matcher = Callable[["Document"], bool]


def split_words(text: str) -> list[str]:
    """Lower-cased words: runs of letters and digits (the tokenizer every backend agrees on)."""
    return _WORD_OR_UNDERSCORE.findall((text or "").lower().replace("_", " "))


class Query:
    """A parsed query; the nodes below are frozen dataclasses."""

    __slots__ = ()

    def matches(self, title: str, text: str) -> bool:
        """True if the article's title and text satisfy the query."""
        return self.matcher()(Document(title, text))

    def matcher(self) -> Matcher:
        """The query as one function over a Document: build it once, call it for many documents."""
        raise NotImplementedError

    def positive_terms(self) -> list[str]:
        """Terms that make a document match (not under NOT), as strings highlight() accepts."""
        found: list[str] = []
        self._collect(found, positive=True)
        return list(dict.fromkeys(found))

    def to_fts5(self) -> str:
        """An FTS5 MATCH expression over columns title and text; every term double-quoted."""
        negative, expression = self._fts5()
        if negative:
            raise QuerySyntaxError(
                "a search cannot be only NOT terms; add a term to look for, e.g. 'Twitter NOT Facebook'", 1)
        return expression

    def to_tsquery(self) -> str:
        """A string for PostgreSQL to_tsquery(config, ...); fields map to weights A (title), B (text)."""
        return self._tsquery()

    # the node classes implement these
    def _collect(self, found: list[str], positive: bool) -> None:
        raise NotImplementedError

    def _fts5(self) -> tuple[bool, str]:
        """(negative, expr): the node means `expr`, or `NOT expr` when negative is True."""
        raise NotImplementedError

    def _tsquery(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Term(Query):
    """A word or phrase: one word, or several that must appear in a row."""

    words: tuple[str, ...]
    field: str | None = None  # "title", "text", or None for either
    prefix: bool = False  # the last word is a prefix (trailing *)

    def __str__(self) -> str:
        body = self.words[0] if len(self.words) == 1 else '"' + " ".join(self.words) + '"'
        return f"{self.field + ':' if self.field else ''}{body}{'*' if self.prefix else ''}"

    def matcher(self) -> Matcher:
        word, words, prefix, field = self.words[0], self.words, self.prefix, self.field
        if len(words) == 1 and not prefix:  # the common case: one set look-up
            return (lambda doc: word in doc.vocabulary[field]) if field else (lambda doc: word in doc.all_words)
        fields = (field,) if field else FIELDS
        return lambda doc: any(doc.contains(name, words, prefix) for name in fields)

    def _collect(self, found: list[str], positive: bool) -> None:
        if positive:
            found.append(" ".join(self.words) + ("*" if self.prefix else ""))

    def _fts5(self) -> tuple[bool, str]:
        phrase = '"' + " ".join(self.words).replace('"', '""') + '"' + (" *" if self.prefix else "")
        return False, f"{self.field} : {phrase}" if self.field else phrase

    def _tsquery(self) -> str:
        weight = TSQUERY_WEIGHTS[self.field] if self.field else ""
        lexemes = ["'" + word.replace("\\", "\\\\").replace("'", "''") + "'" for word in self.words]
        marks = [":" + weight if weight else ""] * len(lexemes)
        if self.prefix:
            marks[-1] = ":*" + weight
        joined = " <-> ".join(lexeme + mark for lexeme, mark in zip(lexemes, marks))
        return f"({joined})" if len(lexemes) > 1 else joined


@dataclass(frozen=True, slots=True)
class _Group(Query):
    """AND and OR: queries joined by one operator, spelled ``WORD`` here and ``TSQUERY`` in a tsquery."""

    items: tuple[Query, ...]
    WORD: ClassVar[str]
    TSQUERY: ClassVar[str]

    def __str__(self) -> str:
        return "(" + f" {self.WORD} ".join(map(str, self.items)) + ")"

    def _collect(self, found: list[str], positive: bool) -> None:
        for item in self.items:
            item._collect(found, positive)

    def _tsquery(self) -> str:
        return "(" + f" {self.TSQUERY} ".join(item._tsquery() for item in self.items) + ")"


@dataclass(frozen=True, slots=True)
class And(_Group):
    WORD, TSQUERY = "AND", "&"

    def matcher(self) -> Matcher:
        matchers = [item.matcher() for item in self.items]
        if len(matchers) == 2:  # the common case, without a generator per document
            first, second = matchers
            return lambda doc: first(doc) and second(doc)
        return lambda doc: all(match(doc) for match in matchers)

    def _fts5(self) -> tuple[bool, str]:
        # a AND NOT b -> a NOT b; NOT a AND NOT b -> NOT (a OR b)
        positives, negatives = _partition(self.items)
        if not positives:
            return True, _join(" OR ", negatives)
        if not negatives:
            return False, _join(" AND ", positives)
        return False, f"({_join(' AND ', positives)} NOT {_join(' OR ', negatives)})"


@dataclass(frozen=True, slots=True)
class Or(_Group):
    WORD, TSQUERY = "OR", "|"

    def matcher(self) -> Matcher:
        matchers = [item.matcher() for item in self.items]
        if len(matchers) == 2:
            first, second = matchers
            return lambda doc: first(doc) or second(doc)
        return lambda doc: any(match(doc) for match in matchers)

    def _fts5(self) -> tuple[bool, str]:
        # a OR NOT b -> NOT (b NOT a); NOT a OR NOT b -> NOT (a AND b)
        positives, negatives = _partition(self.items)
        if not negatives:
            return False, _join(" OR ", positives)
        if not positives:
            return True, _join(" AND ", negatives)
        return True, f"({_join(' AND ', negatives)} NOT {_join(' OR ', positives)})"


@dataclass(frozen=True, slots=True)
class Not(Query):
    item: Query

    def __str__(self) -> str:
        return f"NOT {self.item}"

    def matcher(self) -> Matcher:
        inner = self.item.matcher()
        return lambda doc: not inner(doc)

    def _collect(self, found: list[str], positive: bool) -> None:
        self.item._collect(found, not positive)

    def _fts5(self) -> tuple[bool, str]:
        negative, expression = self.item._fts5()
        return not negative, expression

    def _tsquery(self) -> str:
        return "!" + self.item._tsquery()


def _partition(items: tuple[Query, ...]) -> tuple[list[str], list[str]]:
    positives: list[str] = []
    negatives: list[str] = []
    for item in items:
        negative, expression = item._fts5()
        (negatives if negative else positives).append(expression)
    return positives, negatives


def _join(operator: str, expressions: list[str]) -> str:
    return expressions[0] if len(expressions) == 1 else "(" + operator.join(expressions) + ")"


class Document:
    """An article's words per field, split once and shared by every query evaluated on it."""

    __slots__ = ("all_words", "vocabulary", "words")

    def __init__(self, title: str, text: str) -> None:
        self.words = {"title": split_words(title), "text": split_words(text)}
        self.vocabulary = {name: set(words) for name, words in self.words.items()}
        self.all_words = self.vocabulary["title"] | self.vocabulary["text"]

    def contains(self, field: str, words: tuple[str, ...], prefix: bool) -> bool:
        vocabulary = self.vocabulary[field]
        if len(words) == 1:
            return any(word.startswith(words[0]) for word in vocabulary) if prefix else words[0] in vocabulary
        if words[0] not in vocabulary or (not prefix and words[-1] not in vocabulary):
            return False
        return _has_phrase(self.words[field], words, prefix)


def _has_phrase(tokens: list[str], words: tuple[str, ...], prefix: bool) -> bool:
    """True if `words` occur in a row in `tokens` (the last one as a prefix if `prefix`)."""
    size, start = len(words), -1
    while True:
        try:
            start = tokens.index(words[0], start + 1)  # C speed; no per-article position index
        except ValueError:
            return False
        window = tokens[start:start + size]
        if len(window) == size and window[:-1] == list(words[:-1]) and (
                window[-1].startswith(words[-1]) if prefix else window[-1] == words[-1]):
            return True


# ---------------------------------------------------------------- parsing

@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "(", ")", "AND", "OR", "NOT", "FIELD", "WORD", "PHRASE"
    value: str
    position: int  # 1-based
    prefix: bool = False  # a phrase followed by '*'


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append(_Token(char, char, i + 1))
            i += 1
        elif char == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise QuerySyntaxError("unterminated quote", i + 1)
            stars = len(text[end + 1:]) - len(text[end + 1:].lstrip("*"))
            tokens.append(_Token("PHRASE", text[i + 1:end], i + 1, prefix=stars > 0))
            i = end + 1 + stars
        elif field := _FIELD_PREFIX.match(text, i):
            tokens.append(_Token("FIELD", field.group(1).lower(), i + 1))
            i = field.end()
        else:
            end = i
            while end < len(text) and not text[end].isspace() and text[end] not in '()"':
                end += 1
            word = text[i:end]
            tokens.append(_Token(word if word in _OPERATORS else "WORD", word, i + 1))
            i = end
    return tokens


class _Parser:
    """Recursive descent: or := and (OR and)*; and := not ([AND] not)*; not := NOT not | primary."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> Query:
        if not self.tokens:
            raise QuerySyntaxError("empty query", 1)
        query = self.parse_or(None, 0)
        token = self.peek()
        if token is not None:
            raise QuerySyntaxError(f"unexpected {token.value!r}" + (
                " (no matching '(')" if token.kind == ")" else ""), token.position)
        return query

    def parse_or(self, field: str | None, depth: int) -> Query:
        items = [self.parse_and(field, depth)]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            self.expect_operand(token)
            items.append(self.parse_and(field, depth))
        return _flatten(Or, items)

    def parse_and(self, field: str | None, depth: int) -> Query:
        items = [self.parse_not(field, depth)]
        while (token := self.peek()) is not None and token.kind not in ("OR", ")"):
            if token.kind == "AND":
                self.take()
                self.expect_operand(token)
            items.append(self.parse_not(field, depth))
        return _flatten(And, items)

    def parse_not(self, field: str | None, depth: int) -> Query:
        token = self.peek()
        if token is not None and token.kind == "NOT":
            self.take()
            self.expect_operand(token)
            _check_depth(depth + 1, token)
            return Not(self.parse_not(field, depth + 1))
        return self.parse_primary(field, depth)

    def parse_primary(self, field: str | None, depth: int) -> Query:
        token = self.take()
        if token.kind in ("AND", "OR"):
            raise QuerySyntaxError(f"{token.kind} needs a term before it", token.position)
        if token.kind == ")":
            raise QuerySyntaxError("unexpected ')'" + ("" if depth else " (no matching '(')"), token.position)
        if token.kind == "FIELD":
            return self.parse_field(token, field, depth)
        if token.kind == "(":
            return self.parse_group(token, field, depth)
        return _make_term(token, field)

    def parse_field(self, token: _Token, field: str | None, depth: int) -> Query:
        following = self.peek()
        if following is None or following.kind not in ("WORD", "PHRASE", "("):
            raise QuerySyntaxError(f"{token.value}: needs a term, phrase or group after it", token.position)
        if field is not None and field != token.value:
            raise QuerySyntaxError(f"{token.value}: conflicts with the enclosing {field}:( ... )", token.position)
        return self.parse_primary(token.value, depth)

    def parse_group(self, token: _Token, field: str | None, depth: int) -> Query:
        _check_depth(depth + 1, token)
        following = self.peek()
        if following is None:
            raise QuerySyntaxError("unclosed '('", token.position)
        if following.kind == ")":
            raise QuerySyntaxError("empty parentheses", token.position)
        inner = self.parse_or(field, depth + 1)
        closing = self.peek()
        if closing is None or closing.kind != ")":
            raise QuerySyntaxError("unclosed '('", token.position)
        self.take()
        return inner

    def expect_operand(self, operator: _Token) -> None:
        following = self.peek()
        if following is None or following.kind in ("AND", "OR", ")"):
            raise QuerySyntaxError(f"{operator.kind} needs a term after it", operator.position)


def _check_depth(depth: int, token: _Token) -> None:
    if depth > MAX_DEPTH:
        raise QuerySyntaxError(f"too deeply nested (more than {MAX_DEPTH} levels)", token.position)


def _flatten(kind: type[And] | type[Or], items: list[Query]) -> Query:
    if len(items) == 1:
        return items[0]
    flat: list[Query] = []
    for item in items:
        flat.extend(item.items if isinstance(item, kind) else (item,))
    return kind(tuple(flat))


def _make_term(token: _Token, field: str | None) -> Term:
    if token.kind == "PHRASE":  # punctuation inside quotes (even '*') only separates words
        words = split_words(token.value)
        if not words:
            raise QuerySyntaxError("phrase has no letters or digits", token.position)
        return Term(tuple(words), field, token.prefix)
    raw = token.value
    prefix = raw.endswith("*")
    stem = raw.rstrip("*")
    if "*" in stem:
        raise QuerySyntaxError("'*' is only allowed at the end of a term", token.position)
    words = split_words(stem)
    if not words:
        raise QuerySyntaxError(f"term {raw!r} has no letters or digits", token.position)
    return Term(tuple(words), field, prefix)


def parse_query(text: str) -> Query:
    """Parse a boolean query; raise QuerySyntaxError (with a 1-based position) if it is malformed."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(f"query too long (more than {MAX_QUERY_LENGTH} characters)",
                               MAX_QUERY_LENGTH + 1)
    return _Parser(text).parse()


# ---------------------------------------------------------------- highlighting and snippets

def _term_pattern(term: str) -> str | None:
    """A regex for one term string as positive_terms() returns it ("open an office", "twit*")."""
    words = _WORD.findall(term)
    if not words:
        return None
    body = r"[\W_]+".join(re.escape(word) for word in words)
    tail = r"[^\W_]*" if term.rstrip().endswith("*") else ""
    return rf"(?<![^\W_]){body}{tail}(?![^\W_])"


def _terms_regex(terms: list[str]) -> re.Pattern[str] | None:
    return _compiled_terms(tuple(sorted(set(terms), key=lambda t: (-len(t), t))))


@functools.lru_cache(maxsize=16384)
def _compiled_terms(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    """Compiled once per term set: with many rules, re's own 512-entry cache thrashes."""
    patterns = [p for p in (_term_pattern(t) for t in terms) if p]
    return re.compile("|".join(patterns), re.IGNORECASE) if patterns else None


def split_highlights(sentence: str, terms: list[str]) -> list[tuple[str, bool]]:
    """The sentence as (text, matched) segments, for renderers that mark matches their own way."""
    regex = _terms_regex(terms)
    if regex is None:
        return [(sentence, False)] if sentence else []
    segments: list[tuple[str, bool]] = []
    last = 0
    for match in regex.finditer(sentence):
        if match.start() > last:
            segments.append((sentence[last:match.start()], False))
        segments.append((match.group(0), True))
        last = match.end()
    if last < len(sentence):
        segments.append((sentence[last:], False))
    return segments


def highlight(sentence: str, terms: list[str]) -> str:
    """Mark every occurrence of the terms (whole words, any case) as **word**."""
    return "".join(f"**{text}**" if hit else text for text, hit in split_highlights(sentence, terms))


def best_sentence(text: str, terms: list[str]) -> str:
    """The first sentence containing the most distinct terms (else the text's start), <= 300 chars."""
    return Sentences(text).best(terms)[0]


class Sentences:
    """A text cut into sentences once; many rules pick their best sentence from it.

    A sentence contains a term if its words (split_words) hold the term's words in a row, the
    way queries match. Which sentences contain a term is worked out once per term (and kept for
    the next rule asking): its first word is found in the lower-cased text with str.find and the
    term's regular expression is tried there only; sentences are only cut out when shown.
    """

    __slots__ = ("_found", "_lowered", "_spans", "_starts", "text")

    def __init__(self, text: str) -> None:
        self.text = text or ""
        self._lowered = self.text.lower()
        self._spans = _sentence_spans(self._lowered)
        self._starts = [start for start, _ in self._spans]
        self._found: dict[str, list[int]] = {}

    def best(self, terms: list[str]) -> tuple[str, bool]:
        """(the first sentence with the most distinct terms, clipped; whether it has any)."""
        scores: dict[int, int] = {}
        for term in dict.fromkeys(terms):
            for i in self.containing(term):
                scores[i] = scores.get(i, 0) + 1
        if not scores:
            first = next((s for s in map(self.sentence, range(len(self._spans))) if s), "")
            return _clip(first, 0), False
        top = max(scores.values())
        best = self.sentence(min(i for i, score in scores.items() if score == top))
        return _clip(best, _first_hit(best, terms) if len(best) > SNIPPET_LENGTH else 0), True

    def containing(self, term: str) -> list[int]:
        """Indexes of the sentences that contain the term ("word", "a phrase", "prefix*")."""
        found = self._found.get(term)
        if found is None:
            found = self._found[term] = self._search(term)
        return found

    def sentence(self, i: int) -> str:
        """Sentence i as written (lower-casing keeps the sentence ends, so the i-th ones agree)."""
        spans = self._spans if len(self._lowered) == len(self.text) else _sentence_spans(self.text)
        start, end = spans[i]
        return self.text[start:end].strip()

    def _search(self, term: str) -> list[int]:
        compiled = _lowered_term_regex(term)
        if compiled is None:
            return []
        (first, regex), found = compiled, []
        at = self._lowered.find(first)  # str.find, then the regex anchored there: fast on long texts
        while at >= 0:
            i = bisect.bisect_right(self._starts, at) - 1
            match = regex.match(self._lowered, at)
            if match and match.end() <= self._spans[i][1]:  # a whole-word match within one sentence
                found.append(i)
                at = self._lowered.find(first, self._spans[i][1])
            else:
                at = self._lowered.find(first, at + 1)
        return found


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of the pieces between sentence ends (. ! ? … before white space, and line
    breaks), the full stop kept with its sentence; a piece may be blank."""
    spans, start = [], 0
    for end in _SENTENCE_END.finditer(text):
        spans.append((start, end.start() + (text[end.start()] != "\n")))
        start = end.end()
    spans.append((start, len(text)))
    return spans


@functools.lru_cache(maxsize=16384)
def _lowered_term_regex(term: str) -> tuple[str, re.Pattern[str]] | None:
    """(first word, regex) for a term over lower-cased text: there a match is exactly the term's
    words in a row in split_words(text), since words are the runs of letters and digits."""
    words = split_words(term)
    if not words:
        return None
    tail = r"[^\W_]*" if term.rstrip().endswith("*") else ""
    body = r"[\W_]+".join(re.escape(word) for word in words)
    return words[0], re.compile(rf"(?<![^\W_]){body}{tail}(?![^\W_])")


def _first_hit(sentence: str, terms: list[str]) -> int:
    """Where the first of the terms starts in the sentence (0 if none): the focus of a clip."""
    regex = _terms_regex(terms)
    match = regex.search(sentence) if regex else None
    return match.start() if match else 0


def _clip(sentence: str, focus: int) -> str:
    """Cut a long sentence to SNIPPET_LENGTH characters around `focus`, marking cuts with '…'."""
    if len(sentence) <= SNIPPET_LENGTH:
        return sentence
    start = max(0, min(focus - 60, len(sentence) - (SNIPPET_LENGTH - 2)))
    if start:
        space = sentence.find(" ", start, focus) if focus > start else -1
        start = space + 1 if space >= 0 else start
    lead = "…" if start else ""
    room = SNIPPET_LENGTH - len(lead) - 1
    piece = sentence[start:start + room]
    if start + room < len(sentence):
        cut = piece.rfind(" ")
        piece = (piece[:cut] if cut > room // 2 else piece).rstrip() + "…"
    return lead + piece
