"""NLP stage: spaCy pipeline with the watch list, mentions, normalisation and events.

    nlp = load_nlp(config.nlp, config.watch_entities())
    for analysis in analyze_texts(nlp, ((a.text, a.published_at) for a in articles)):
        ...
"""

from __future__ import annotations

from newsmon.nlp.analyze import analyze_text, analyze_texts
from newsmon.nlp.normalize import normalise_name, parse_money, resolve_date
from newsmon.nlp.pipeline import load_nlp

__all__ = ["analyze_text", "analyze_texts", "load_nlp", "normalise_name", "parse_money", "resolve_date"]
