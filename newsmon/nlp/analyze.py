"""Texts -> Analysis records (entity mentions and events), streamed through ``nlp.pipe``."""

from __future__ import annotations

import bisect
import collections
import itertools
import multiprocessing
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime
from multiprocessing.pool import AsyncResult

from spacy.language import Language
from spacy.tokens import Doc, Span

from newsmon.nlp.events import extract_events, parse_sentences, trigger_sentences
from newsmon.nlp.normalize import normalise_name
from newsmon.nlp.pipeline import alias_key, default_processes, watch_aliases
from newsmon.records import Analysis, Mention

# numeric and temporal entities feed events (amounts, dates), they are not mentions
VALUE_LABELS = frozenset({"DATE", "TIME", "MONEY", "PERCENT", "QUANTITY", "CARDINAL", "ORDINAL"})


def analyze_texts(nlp: Language, items: Iterable[tuple[str, datetime | None]],
                  batch_size: int = 16, processes: int | None = None) -> Iterator[Analysis]:
    """One Analysis per (text, published_at), in input order, holding a few batches at a time.

    ``processes`` (default: the ``nlp.processes`` setting given to ``load_nlp``) above one
    forks worker processes, once, that share the loaded model; texts go in and Analysis
    records come back, batches streaming through them, so memory stays flat however many
    texts come in.
    """
    processes = processes or default_processes(nlp)
    batches = _chunks(iter(items), batch_size)
    if processes > 1 and "fork" in multiprocessing.get_all_start_methods():
        yield from _analyze_parallel(nlp, batches, processes)
        return
    for batch in batches:
        yield from analyze_batch(nlp, batch)


_WORKER_NLP: list[Language] = []  # the model a forked worker inherited


def _analyze_parallel(nlp: Language, batches: Iterator[list[tuple[str, datetime | None]]],
                      processes: int) -> Iterator[Analysis]:
    _WORKER_NLP[:] = [nlp]  # set before forking: workers inherit it copy-on-write
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        # a bounded stream, not rounds: a new batch goes out as soon as the oldest comes back,
        # so no worker idles waiting for the slowest batch of a round
        pending: collections.deque[AsyncResult[list[Analysis]]] = collections.deque(
            pool.apply_async(_analyze_in_worker, (batch,)) for batch in itertools.islice(batches, processes * 2))
        while pending:
            analyses = pending.popleft().get()
            batch = next(batches, None)
            if batch is not None:
                pending.append(pool.apply_async(_analyze_in_worker, (batch,)))
            yield from analyses


def _analyze_in_worker(batch: list[tuple[str, datetime | None]]) -> list[Analysis]:
    return analyze_batch(_WORKER_NLP[0], batch)


def _chunks(items: Iterator[tuple[str, datetime | None]], size: int) -> Iterator[list[tuple[str, datetime | None]]]:
    while chunk := list(itertools.islice(items, size)):
        yield chunk


def analyze_text(nlp: Language, text: str, published_at: datetime | None = None) -> Analysis:
    return analyze_batch(nlp, [(text, published_at)])[0]


def analyze_batch(nlp: Language, batch: list[tuple[str, datetime | None]]) -> list[Analysis]:
    """Mentions and events of a batch: NER on every text, one joint parse of the trigger sentences."""
    docs = list(nlp.pipe([text for text, _ in batch], batch_size=len(batch)))
    mentions = [extract_mentions(nlp, doc) for doc in docs]
    sents = [trigger_sentences(nlp, doc) for doc in docs]
    parsed = parse_sentences(nlp, sents)
    return [Analysis(mentions=found, events=extract_events(nlp, s, p, found, at))
            for (_, at), found, s, p in zip(batch, mentions, sents, parsed)]


class Sentences:
    """The stripped text of the sentence(s) a token range lies in, from one pass over ``doc.sents``."""

    def __init__(self, doc: Doc, text: str) -> None:
        spans = list(doc.sents)
        self.text = text
        self.starts = [s.start for s in spans]
        self.chars = [(s.start_char, s.end_char) for s in spans]

    def around(self, start: int, end: int) -> str:
        first = bisect.bisect_right(self.starts, start) - 1
        last = bisect.bisect_right(self.starts, end - 1) - 1
        return self.text[self.chars[first][0]:self.chars[last][1]].strip()


def extract_mentions(nlp: Language, doc: Doc) -> list[Mention]:
    aliases = watch_aliases(nlp)
    watched = set(aliases.values())
    text = doc.text
    sentences = Sentences(doc, text)
    mentions = [_mention(ent, sentences, aliases, watched) for ent in doc.ents if ent.label_ not in VALUE_LABELS]
    mentions = drop_unsupported_short_aliases(text, mentions, nlp)
    resolve_acronyms(text, mentions)
    mentions = propagate_names(doc, text, sentences, mentions)
    resolve_surnames(mentions)
    unify_labels(mentions)
    return mentions


def _mention(ent: Span, sentences: Sentences, aliases: dict[str, str], watched: set[str]) -> Mention:
    canonical = ent.ent_id_ or (aliases.get(alias_key([t.text for t in ent])) if aliases else None)
    if canonical is None:
        canonical = normalise_name(ent.text, ent.label_)
        canonical = aliases.get(alias_key(canonical.split()), canonical) if aliases else canonical
    return Mention(
        text=ent.text, label=ent.label_, start=ent.start_char, end=ent.end_char,
        sentence=sentences.around(ent.start, ent.end), canonical=canonical, watched=canonical in watched,
    )


def resolve_surnames(mentions: list[Mention]) -> None:
    """A one-word PERSON takes the full name it ends: the nearest earlier one, else the first later one.

    "Khinshtein" after "Alexander Khinshtein" becomes "Alexander Khinshtein"; so does a
    headline "Putin" before "Vladimir Putin" appears in the body.
    """
    full = [(i, m) for i, m in enumerate(mentions) if m.label == "PERSON" and " " in m.canonical]
    for i, mention in enumerate(mentions):
        if mention.label != "PERSON" or " " in mention.canonical or mention.watched:
            continue
        surname = mention.canonical.lower()
        same = [(j, m) for j, m in full if m.canonical.lower().split()[-1] == surname]
        earlier = [m for j, m in same if j < i]
        later = [m for j, m in same if j > i]
        if earlier or later:
            match = earlier[-1] if earlier else later[0]
            mention.canonical, mention.watched = match.canonical, match.watched


# --- document-level rules: one name, one entity, one type per article ------------------

_NAME_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC", "NORP"})
# place names recur as parts of other names ("Washington" the person, "Georgia Tech"): not propagated
_PROPAGATED = frozenset({"PERSON", "ORG"})
_ACRONYM = re.compile(r"\(([A-Z][A-Za-z&]{1,9})\)")
_ACRONYM_SKIP = frozenset({"of", "the", "and", "for", "on", "in", "to", "&", "de", "des", "du"})
# words that make an ambiguous short alias ("X" for Twitter) mean the platform
SUPPORT_WORDS = re.compile(r"\b(?:platform|social (?:network|media)|tweets?|posts?|app|users|followers|Musk)\b",
                           re.IGNORECASE)
AMBIGUOUS_ALIAS_MAX = 2  # aliases this short are ambiguous ("X", "VK")


def drop_unsupported_short_aliases(text: str, mentions: list[Mention], nlp: Language) -> list[Mention]:
    """A watched mention by a short alias ("X") counts only with support in the article:

    another name of the same entity, or a word such as "platform", "social network", "Musk".
    """
    def short(m: Mention) -> bool:
        return m.watched and len(m.text) <= AMBIGUOUS_ALIAS_MAX and m.text != m.canonical

    if not any(short(m) for m in mentions):
        return mentions
    named = {m.canonical for m in mentions if m.watched and not short(m)}
    supported = bool(SUPPORT_WORDS.search(text))
    return [m for m in mentions if not short(m) or supported or m.canonical in named]


def resolve_acronyms(text: str, mentions: list[Mention]) -> None:
    """"the Federal Communications Commission (FCC)": every "FCC" takes the expansion's name and type."""
    expansions: dict[str, Mention] = {}
    for match in _ACRONYM.finditer(text):
        before = [m for m in mentions if m.end <= match.start() and text[m.end:match.start()].strip() == ""]
        if before and before[-1].label in _NAME_LABELS and _initials_match(match[1], before[-1].text):
            expansions.setdefault(match[1], before[-1])
    for mention in mentions:
        expansion = expansions.get(mention.text)
        if expansion is not None and not mention.watched:
            mention.canonical, mention.label, mention.watched = expansion.canonical, expansion.label, expansion.watched


def _initials_match(acronym: str, name: str) -> bool:
    words = [w for w in re.findall(r"[\w&]+", name) if w.lower() not in _ACRONYM_SKIP]
    capitals = "".join(c for c in acronym if c.isupper())
    return "".join(w[0].upper() for w in words) == capitals


def propagate_names(doc: Doc, text: str, sentences: Sentences, mentions: list[Mention]) -> list[Mention]:
    """Later (or earlier) occurrences of a name the model found once are mentions too.

    Exact case, whole words; a full person name also lends its surname ("Nick Bos" -> "Bos");
    an acronym resolved above is found wherever it recurs.
    """
    names: dict[str, Mention] = {}
    for m in mentions:
        if m.label in _PROPAGATED and m.text[:1].isupper() and len(m.text) > 2:
            names.setdefault(m.text, m)
            if m.label == "PERSON" and " " in m.text:
                names.setdefault(m.text.split()[-1], m)
    if not names:
        return mentions
    taken = [False] * (len(text) + 1)
    for m in mentions:
        taken[m.start:m.end] = [True] * (m.end - m.start)
    pattern = re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, sorted(names, key=len, reverse=True)))
                         + r")(?![\w-])")
    added = []
    for match in pattern.finditer(text):
        if any(taken[match.start():match.end()]):
            continue
        source = names[match[0]]
        span = doc.char_span(match.start(), match.end(), alignment_mode="contract")
        if span is None or not span.text:
            continue
        canonical = source.canonical if match[0] == source.text else match[0]
        added.append(Mention(text=match[0], label=source.label, start=match.start(), end=match.end(),
                             sentence=sentences.around(span.start, span.end), canonical=canonical, watched=source.watched))
    return sorted(mentions + added, key=lambda m: m.start) if added else mentions


def unify_labels(mentions: list[Mention]) -> None:
    """Mentions of one canonical name share its most frequent type (first seen on a tie)."""
    votes: dict[str, Counter[str]] = {}
    for m in mentions:
        if m.label in _NAME_LABELS:
            votes.setdefault(m.canonical, Counter())[m.label] += 1
    for m in mentions:
        if m.label in _NAME_LABELS and m.canonical in votes:
            m.label = votes[m.canonical].most_common(1)[0][0]
