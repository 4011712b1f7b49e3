"""Texts -> Analysis records (entity mentions and events), streamed through ``nlp.pipe``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from spacy.language import Language
from spacy.tokens import Doc, Span

from newsmon.nlp.events import extract_events
from newsmon.nlp.normalize import normalise_name
from newsmon.nlp.pipeline import alias_key, watch_aliases
from newsmon.records import Analysis, Mention

# numeric and temporal entities feed events (amounts, dates), they are not mentions
VALUE_LABELS = frozenset({"DATE", "TIME", "MONEY", "PERCENT", "QUANTITY", "CARDINAL", "ORDINAL"})


def analyze_texts(nlp: Language, items: Iterable[tuple[str, datetime | None]],
                  batch_size: int = 16) -> Iterator[Analysis]:
    """One Analysis per (text, published_at), in input order, holding one batch at a time."""
    for doc, published_at in nlp.pipe(iter(items), as_tuples=True, batch_size=batch_size):
        yield analyze_doc(nlp, doc, published_at)


def analyze_text(nlp: Language, text: str, published_at: datetime | None = None) -> Analysis:
    return next(analyze_texts(nlp, [(text, published_at)], batch_size=1))


def analyze_doc(nlp: Language, doc: Doc, published_at: datetime | None = None) -> Analysis:
    """Mentions and events of a doc already run through ``nlp``."""
    mentions = extract_mentions(nlp, doc)
    return Analysis(mentions=mentions, events=extract_events(nlp, doc, mentions, published_at))


def extract_mentions(nlp: Language, doc: Doc) -> list[Mention]:
    aliases = watch_aliases(nlp)
    watched = set(aliases.values())
    mentions = [_mention(ent, aliases, watched) for ent in doc.ents if ent.label_ not in VALUE_LABELS]
    resolve_surnames(mentions)
    return mentions


def _mention(ent: Span, aliases: dict[str, str], watched: set[str]) -> Mention:
    canonical = ent.ent_id_ or aliases.get(alias_key([t.text for t in ent]))
    if canonical is None:
        canonical = normalise_name(ent.text, ent.label_)
        canonical = aliases.get(alias_key(canonical.split()), canonical)
    return Mention(
        text=ent.text, label=ent.label_, start=ent.start_char, end=ent.end_char,
        sentence=ent.sent.text.strip(), canonical=canonical, watched=canonical in watched,
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
