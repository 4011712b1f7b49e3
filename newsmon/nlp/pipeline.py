"""Load the spaCy model once per process and fit it to newsmon.

The loaded pipeline runs only what entity mentions need: a paragraph splitter, the
sentence recogniser, the watch-list entity ruler and the statistical NER. The tagger,
parser and lemmatizer stay loaded but disabled; the event extractor runs them on the few
sentences that contain an event trigger (see ``newsmon.nlp.events``). The model's layers
multiply matrices through numpy (see ``newsmon.nlp.ops``).
"""

from __future__ import annotations

import weakref
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc
from thinc.api import get_current_ops, set_current_ops

from newsmon.config import NlpSettings
from newsmon.errors import NewsmonError
from newsmon.nlp.ops import MatmulOps, use_one_blas_thread
from newsmon.records import WatchEntity

RULER = "newsmon_watchlist"
PARAGRAPHS = "newsmon_paragraphs"
# components the event extractor runs on trigger sentences, in pipeline order
SYNTAX_PIPES = ("tok2vec", "transformer", "tagger", "morphologizer", "parser", "attribute_ruler", "lemmatizer")
_APOSTROPHES = ("'s", "’s", "ʼs")

_CACHE: dict[tuple[str, tuple[tuple[str, str, tuple[str, ...]], ...]], Language] = {}
_ALIASES: weakref.WeakKeyDictionary[Language, dict[str, str]] = weakref.WeakKeyDictionary()
_PROCESSES: weakref.WeakKeyDictionary[Language, int] = weakref.WeakKeyDictionary()


def load_nlp(settings: NlpSettings, watchlist: list[WatchEntity]) -> Language:
    """The pipeline for ``settings.model`` with the watch list; cached per process.

    Raises NewsmonError (one line, with the install command) if the model is missing;
    models are never downloaded here.
    """
    key = (settings.model, tuple((w.name, w.type, tuple(w.aliases)) for w in watchlist))
    if key not in _CACHE:
        nlp = _load_model(settings.model)
        add_watchlist_ruler(nlp, watchlist)
        _CACHE[key] = nlp
    _PROCESSES[_CACHE[key]] = settings.processes
    return _CACHE[key]


def default_processes(nlp: Language) -> int:
    """The ``nlp.processes`` setting last given to ``load_nlp`` for this pipeline (else 1)."""
    return _PROCESSES.get(nlp, 1)


def _load_model(name: str) -> Language:
    use_one_blas_thread()
    previous = get_current_ops()
    set_current_ops(MatmulOps())  # the models built while loading take these ops
    try:
        nlp = spacy.load(name)
    except OSError as exc:
        if "E050" not in str(exc) and "E053" not in str(exc):
            raise NewsmonError(f"cannot load spaCy model {name!r}: {exc}") from None
        how = f"python -m spacy download {name}" if name.startswith(("en_core_web", "xx_")) else f"pip install {name}"
        raise NewsmonError(
            f"spaCy model {name!r} is not installed (nlp.model): install it with '{how}' "
            "or pick an installed model") from None
    finally:
        set_current_ops(previous)
    if "ner" not in nlp.pipe_names:
        raise NewsmonError(f"spaCy model {name!r} has no 'ner' component (nlp.model)")
    _enable_mention_pipes(nlp)
    return nlp


def _enable_mention_pipes(nlp: Language) -> None:
    """Keep sentences + NER on; disable the syntax pipes NER does not listen to."""
    ner_needs = {name for name in ("tok2vec", "transformer")
                 if name in nlp.pipe_names and "ner" in _listeners(nlp, name)}
    for name in SYNTAX_PIPES:
        if name in nlp.pipe_names and name not in ner_needs:
            nlp.disable_pipe(name)
    if "senter" in nlp.component_names:
        nlp.enable_pipe("senter")
    else:
        nlp.add_pipe("sentencizer", before="ner")
    first = "senter" if "senter" in nlp.pipe_names else "sentencizer"
    nlp.add_pipe(PARAGRAPHS, before=first)


def _listeners(nlp: Language, name: str) -> list[str]:
    return list(getattr(nlp.get_pipe(name), "listening_components", []))


@Language.component(PARAGRAPHS)
def split_paragraphs(doc: Doc) -> Doc:
    """A line break always ends a sentence (headline, paragraphs, list items).

    The senter keeps boundaries set before it, so headlines no longer run into the
    first sentence.
    """
    for token in doc[1:]:
        previous = doc[token.i - 1]
        if previous.is_space and "\n" in previous.text and not token.is_space:
            token.is_sent_start = True
    return doc


def add_watchlist_ruler(nlp: Language, watchlist: list[WatchEntity]) -> None:
    """Put an entity ruler with every watch-list name and alias before ``ner``."""
    patterns = [pattern for entity in watchlist for pattern in _patterns(nlp, entity)]
    if not patterns:
        return
    ruler: Any = nlp.add_pipe("entity_ruler", name=RULER, before="ner",
                              config={"phrase_matcher_attr": None, "validate": True})
    ruler.add_patterns(patterns)
    _ALIASES[nlp] = {
        alias_key([t.text for t in nlp.make_doc(alias)]): entity.name
        for entity in reversed(watchlist) for alias in [*entity.aliases, entity.name]
    }


def _patterns(nlp: Language, entity: WatchEntity) -> list[dict[str, Any]]:
    out = []
    for alias in dict.fromkeys([entity.name, *entity.aliases]):
        tokens = [t.text for t in nlp.make_doc(alias.strip())]
        if not tokens:
            continue
        for last in _last_token_forms(tokens[-1]):
            pattern = [{"LOWER": t.lower()} for t in tokens[:-1]] + [{"LOWER": last.lower()}]
            _guard_single_word(pattern, alias)
            out.append({"label": entity.type, "pattern": pattern, "id": entity.name})
    return out


def _last_token_forms(word: str) -> list[str]:
    # the tokenizer splits "Twitter's" but not "Twitterʼs" (U+02BC); match both
    return [word, *(word + s for s in _APOSTROPHES)]


def _guard_single_word(pattern: list[dict[str, Any]], alias: str) -> None:
    """Case-insensitive, except where it would turn common words into entities.

    A one-word alias written with capitals ("Meta", "Signal", "Apple") does not match
    the all-lowercase word; a one- or two-letter alias ("X") matches its exact case only.
    """
    if len(pattern) != 1:
        return
    if len(alias) <= 2:
        pattern[0]["ORTH"] = pattern[0].pop("LOWER").replace(alias.lower(), alias, 1)
    elif not alias.islower():
        pattern[0]["IS_LOWER"] = False


def watch_aliases(nlp: Language) -> dict[str, str]:
    """Alias key (see ``alias_key``) -> watch-list name; empty without a watch list."""
    return _ALIASES.get(nlp, {})


def alias_key(words: list[str]) -> str:
    """How names are compared: lowercased tokens, possessive tokens dropped."""
    return " ".join(w.lower() for w in words if w.lower() not in _APOSTROPHES)


def syntax_pipes(nlp: Language) -> list[str]:
    """The disabled syntax components to run on trigger sentences, in pipeline order."""
    return [name for name in nlp.component_names if name in SYNTAX_PIPES and name in nlp.disabled]
