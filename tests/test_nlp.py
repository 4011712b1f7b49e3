"""The NLP stage against the real model (loaded once per module)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import spacy

from newsmon.config import NlpSettings
from newsmon.errors import NewsmonError
from newsmon.nlp import analyze_text, analyze_texts, load_nlp, normalise_name, parse_money, resolve_date
from newsmon.nlp.events import TRIGGERS
from newsmon.records import Analysis, Event, EventType, Money, WatchEntity

WATCHLIST = [
    WatchEntity("Roskomnadzor", "ORG", ["RKN", "Federal Service for Supervision of Communications"]),
    WatchEntity("Twitter", "ORG", ["X"]),
    WatchEntity("Facebook", "ORG", ["Meta"]),
    WatchEntity("Google", "ORG"),
    WatchEntity("Telegram", "ORG"),
    WatchEntity("Russia", "GPE", ["Russian Federation"]),
]
PUBLISHED = datetime(2021, 7, 1, 15, 0)  # a Thursday
STORY = """Putin Orders Twitter to Open Russian Office

Russian President Vladimir Putin signed a law on Thursday obliging foreign social networks with \
more than 500,000 daily users to open offices in Russia. Under the new law, Roskomnadzor, the \
communications regulator, may punish violators with fines of up to 3 million rubles and advertising \
bans. RKN said it would also consider blocking services that fail to comply.

Russia slowed down Twitter in May, accusing it of failing to remove banned content. Russia's \
regulator has also threatened Facebook. A Moscow court opened a case against Google on Wednesday \
over a breach of the personal data law. Twitter, Telegram, Google and Facebook are summoned to court \
later this month, said Alexander Khinshtein, head of the Duma information committee. Khinshtein \
called the law long overdue.
"""


@pytest.fixture(scope="module")
def nlp() -> spacy.language.Language:
    return load_nlp(NlpSettings(), WATCHLIST)


@pytest.fixture(scope="module")
def story(nlp: spacy.language.Language) -> Analysis:
    return analyze_text(nlp, STORY, PUBLISHED)


def canonicals(analysis: Analysis, text: str) -> set[tuple[str, str, bool]]:
    return {(m.label, m.canonical, m.watched) for m in analysis.mentions if m.text == text}


# --- pipeline --------------------------------------------------------------------------

def test_load_nlp_is_cached_per_model_and_watchlist(nlp: spacy.language.Language) -> None:
    assert load_nlp(NlpSettings(), list(WATCHLIST)) is nlp
    assert load_nlp(NlpSettings(), WATCHLIST[:2]) is not nlp


def test_pipeline_runs_only_what_mentions_need(nlp: spacy.language.Language) -> None:
    assert nlp.pipe_names == ["newsmon_paragraphs", "senter", "newsmon_watchlist", "ner"]
    assert {"parser", "tagger", "lemmatizer"} <= set(nlp.disabled)  # kept for event sentences


def test_missing_model_is_one_line_error_with_install_hint() -> None:
    with pytest.raises(NewsmonError) as info:
        load_nlp(NlpSettings(model="en_core_web_nonexistent"), [])
    message = str(info.value)
    assert "\n" not in message
    assert "python -m spacy download en_core_web_nonexistent" in message


# --- mentions --------------------------------------------------------------------------

@pytest.mark.parametrize(("surface", "expected"), [
    ("Roskomnadzor", ("ORG", "Roskomnadzor", True)),  # the bare model says PERSON
    ("Twitter", ("ORG", "Twitter", True)),  # the bare model says PERSON
    ("Facebook", ("ORG", "Facebook", True)),  # the bare model misses it
    ("RKN", ("ORG", "Roskomnadzor", True)),  # alias
    ("Khinshtein", ("PERSON", "Alexander Khinshtein", False)),  # surname -> earlier full name
    ("Moscow", ("GPE", "Moscow", False)),
])
def test_story_mentions(story: Analysis, surface: str, expected: tuple[str, str, bool]) -> None:
    assert canonicals(story, surface) == {expected}


def test_possessive_resolves_to_the_name(story: Analysis) -> None:
    possessive = [m for m in story.mentions if STORY[m.start:].startswith("Russia's")]
    assert [(m.text, m.canonical, m.watched) for m in possessive] == [("Russia", "Russia", True)]


@pytest.mark.parametrize(("text", "surface", "canonical"), [
    ("Critics say TWITTER is slow.", "TWITTER", "Twitter"),  # case-insensitive
    ("The Russian Federation replied.", "Russian Federation", "Russia"),
    ("The Federal Service for Supervision of Communications warned Google.",
     "Federal Service for Supervision of Communications", "Roskomnadzor"),
    ("Users left Twitterʼs platform.", "Twitterʼs", "Twitter"),  # U+02BC is not split off
])
def test_watchlist_aliases(nlp: spacy.language.Language, text: str, surface: str, canonical: str) -> None:
    mentions = analyze_text(nlp, text).mentions
    assert [(m.text, m.canonical, m.watched) for m in mentions if m.text == surface] == [(surface, canonical, True)]


def test_capitalised_one_word_alias_does_not_match_the_common_word(nlp: spacy.language.Language) -> None:
    mentions = analyze_text(nlp, "The meta analysis was published by Meta on Monday.").mentions
    assert [(m.text, m.canonical) for m in mentions if m.watched] == [("Meta", "Facebook")]


def test_spans_and_sentences_are_exact(story: Analysis) -> None:
    assert story.mentions
    for mention in story.mentions:
        assert STORY[mention.start:mention.end] == mention.text
        assert mention.text in mention.sentence
        assert mention.sentence in STORY


def test_headline_is_its_own_sentence(story: Analysis) -> None:
    twitter = next(m for m in story.mentions if m.text == "Twitter")
    assert twitter.sentence == "Putin Orders Twitter to Open Russian Office"


def test_surname_before_full_name_resolves_forward(nlp: spacy.language.Language) -> None:
    text = "Khinshtein spoke first. Later, Alexander Khinshtein repeated it. Maria Smith agreed."
    names = [(m.text, m.canonical) for m in analyze_text(nlp, text).mentions if m.label == "PERSON"]
    assert names == [("Khinshtein", "Alexander Khinshtein"), ("Alexander Khinshtein", "Alexander Khinshtein"),
                     ("Maria Smith", "Maria Smith")]


# --- streaming -------------------------------------------------------------------------

def test_analyze_texts_yields_one_analysis_per_input_in_order(nlp: spacy.language.Language) -> None:
    texts = [f"{name} was mentioned in article {i}." for i, name in enumerate(
        ["Google", "", "Telegram", "Nobody", "Twitter"] * 4)]

    def items():  # a generator: analyze_texts must not need a list
        yield from ((text, None) for text in texts)

    results = list(analyze_texts(nlp, items(), batch_size=3))
    assert len(results) == len(texts)
    for text, analysis in zip(texts, results):
        watched = [m.canonical for m in analysis.mentions if m.watched]
        assert watched == [w for w in ("Google", "Telegram", "Twitter") if text.startswith(w)]


def test_empty_text(nlp: spacy.language.Language) -> None:
    assert analyze_text(nlp, "") == Analysis(mentions=[], events=[])


# --- normalisation tables --------------------------------------------------------------

@pytest.mark.parametrize(("text", "label", "expected"), [
    ("Russia's", "GPE", "Russia"),
    ("Reuters'", "ORG", "Reuters"),
    ("the  Kremlin", "ORG", "Kremlin"),
    ("Vladimir\nPutin", "PERSON", "Vladimir Putin"),
    ("VLADIMIR PUTIN", "PERSON", "Vladimir Putin"),
    ("GOOGLE", "ORG", "Google"),
    ("RKN", "ORG", "RKN"),
    ("NATO", "ORG", "NATO"),
    ("U.S.", "GPE", "U.S."),
    ("NATO Council", "ORG", "NATO Council"),
    ("The Personal Data Act", "LAW", "The Personal Data Act"),
])
def test_normalise_name(text: str, label: str, expected: str) -> None:
    assert normalise_name(text, label) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("$1.2 million", Money(1_200_000.0, "USD")),
    ("3 million rubles", Money(3_000_000.0, "RUB")),
    ("up to 3 million roubles", Money(3_000_000.0, "RUB")),
    ("EUR 500,000", Money(500_000.0, "EUR")),
    ("€500 million", Money(500_000_000.0, "EUR")),
    ("£20m", Money(20_000_000.0, "GBP")),
    ("US$5bn", Money(5_000_000_000.0, "USD")),
    ("1.5 billion euros", Money(1_500_000_000.0, "EUR")),
    ("500,000 dollars", Money(500_000.0, "USD")),
    ("₽100,000", Money(100_000.0, "RUB")),
    ("4,000 units", Money(4_000.0, None)),
    ("five million", None),
])
def test_parse_money(text: str, expected: Money | None) -> None:
    assert parse_money(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("on Thursday", ("2021-07-01", "day")),  # the day of publication
    ("Wednesday", ("2021-06-30", "day")),
    ("Friday", ("2021-06-25", "day")),
    ("yesterday", ("2021-06-30", "day")),
    ("in May", ("2021-05-01/2021-05-31", "month")),
    ("May 5, 2021", ("2021-05-05", "day")),
    ("later this month", ("2021-07-01/2021-07-31", "month")),
    ("earlier this year", ("2021-01-01/2021-07-01", "year")),
    ("last year", ("2020-01-01/2020-12-31", "year")),
    ("last month", ("2021-06-01/2021-06-30", "month")),
    ("next week", ("2021-07-05/2021-07-11", "week")),
    ("2020", ("2020-01-01/2020-12-31", "year")),
    ("daily", None),
    ("the past two years", None),
])
def test_resolve_date(text: str, expected: tuple[str, str] | None) -> None:
    assert resolve_date(text, PUBLISHED) == expected


def test_resolve_date_without_publication_date() -> None:
    assert resolve_date("in May", None) is None
    assert resolve_date("May 2021", None) == ("2021-05-01/2021-05-31", "month")


# --- events ----------------------------------------------------------------------------

def _event(story: Analysis, type_: EventType, trigger: str) -> Event:
    matches = [e for e in story.events if e.type is type_ and e.trigger == trigger]
    assert len(matches) == 1, story.events
    return matches[0]


def _summary(event: Event) -> tuple:
    return (event.actor, event.target, event.amount, event.currency, event.date, event.legal_basis,
            event.confidence)


@pytest.mark.parametrize(("type_", "trigger", "expected"), [
    (EventType.LAW, "signed", ("Vladimir Putin", None, None, None, "2021-07-01", None, 0.7)),
    (EventType.ORDER, "obliging", ("Vladimir Putin", "foreign social networks", None, None, "2021-07-01", None, 0.7)),
    (EventType.FINE, "fines", ("Roskomnadzor", "violators", 3_000_000.0, "RUB", None, None, 0.4)),  # threatened
    (EventType.BLOCK_OR_THROTTLE, "slowed down", ("Russia", "Twitter", None, None, "2021-05-01/2021-05-31", None, 0.7)),
    (EventType.COURT_ACTION, "opened", ("Moscow court", "Google", None, None, "2021-06-30", "personal data law", 0.7)),
    (EventType.COURT_ACTION, "summoned",
     (None, "Twitter, Telegram, Google, Facebook", None, None, "2021-07-01/2021-07-31", None, 0.7)),
])
def test_reference_story_events(story: Analysis, type_: EventType, trigger: str, expected: tuple) -> None:
    assert _summary(_event(story, type_, trigger)) == expected


def test_event_spans_are_their_sentences(story: Analysis) -> None:
    for event in story.events:
        assert STORY[event.start:event.end] == event.sentence
        assert event.trigger.split()[0] in event.sentence


def test_story_has_no_noise_events(story: Analysis) -> None:
    # "banned content" is no ban, "breach of the ... law" no data breach, "open offices" no court case
    kinds = sorted((e.type.value, e.trigger) for e in story.events)
    assert kinds == sorted([
        ("LAW", "signed"), ("ORDER", "obliging"), ("FINE", "fines"), ("BAN", "bans"),
        ("BLOCK_OR_THROTTLE", "blocking"), ("BLOCK_OR_THROTTLE", "slowed down"),
        ("COURT_ACTION", "opened"), ("COURT_ACTION", "summoned"),
    ])


@pytest.mark.parametrize(("text", "expected"), [
    ("Google was fined $1.2 million by the Moscow court.",
     (EventType.FINE, "Moscow court", "Google", 1_200_000.0, "USD")),
    ("The regulator did not block Telegram.", None),
    ("Hackers leaked customer data from Acme Corp last year.", (EventType.DATA_BREACH, "Hackers", "Acme Corp", None, None)),
    ("Microsoft patched a critical vulnerability in Exchange.",
     (EventType.PATCH, "Microsoft", "critical vulnerability", None, None)),
    ("The weather was fine and the children were happy.", None),
])
def test_small_events(nlp: spacy.language.Language, text: str, expected: tuple | None) -> None:
    events = analyze_text(nlp, text, PUBLISHED).events
    first = (events[0].type, events[0].actor, events[0].target, events[0].amount, events[0].currency) if events else None
    assert first == expected


@pytest.mark.parametrize(("text", "expected"), [
    # the victim is the target of a breach or ransomware event, whichever way the sentence puts it
    ("Radisson Hotel Group has confirmed that it has suffered a data breach.", (None, "Radisson Hotel Group")),
    ("The Equifax data breach exposed the records of 143 million people.", (None, "Equifax")),
    ("Criminals accessed the personal data of 9.4 million passengers of Cathay Pacific.",
     ("Criminals", "Cathay Pacific")),
    ("The Colorado Department of Transportation was hit by a ransomware attack on Wednesday.",
     (None, "Colorado Department of Transportation")),
    ("Officials said a ransomware attack on the city of Atlanta encrypted its servers.", (None, "city of Atlanta")),
    ("Hancock Health paid a $55,000 ransom to the hackers.", (None, "Hancock Health")),
    ("Hackers demanded a ransom from the county.", ("Hackers", "county")),
    # the malware's name is no victim, nor is a date, nor a place it is sold
    ("The WannaCry ransomware encrypted files at Telefonica.", (None, "Telefonica")),
    ("The Philadelphia ransomware is sold on the dark web for $389.", (None, None)),
    ("Hackers stole patient records on Thursday.", ("Hackers", None)),
])
def test_incident_victim_is_the_target(nlp: spacy.language.Language, text: str, expected: tuple) -> None:
    events = [e for e in analyze_text(nlp, text, PUBLISHED).events
              if e.type in (EventType.DATA_BREACH, EventType.RANSOMWARE)]
    assert events, text
    assert (events[0].actor, events[0].target) == expected


def test_trigger_lexicon_covers_event_types() -> None:
    assert {t.type for t in TRIGGERS} == set(EventType)


# --- issue 4: document-level entity rules, cyber events, processes ---------------------

def test_acronym_in_parentheses_resolves_to_its_expansion(nlp: spacy.language.Language) -> None:
    text = ("The Federal Communications Commission (FCC) voted on Monday. "
            "Critics said the FCC ignored the public.")
    fcc = [(m.text, m.canonical, m.label) for m in analyze_text(nlp, text).mentions if m.text == "FCC"]
    assert fcc and set(fcc) == {("FCC", "Federal Communications Commission", "ORG")}


def test_regulator_described_by_role_and_alias_resolve_to_one_entity(nlp: spacy.language.Language) -> None:
    text = "Russia's communications regulator Roskomnadzor warned Google. RKN said fines would follow."
    names = {m.text: m.canonical for m in analyze_text(nlp, text).mentions if m.watched}
    assert names["Roskomnadzor"] == names["RKN"] == "Roskomnadzor"


@pytest.mark.parametrize(("text", "twitter"), [
    ("X said on Monday it would appeal.", []),  # no support: not the platform
    ("Elon Musk said X would appeal.", ["X"]),  # "Musk"
    ("The platform X removed the posts.", ["X"]),  # "platform"
    ("Twitter, now called X, lost users.", ["Twitter", "X"]),  # another name of the entity
    ("Malcolm X was born in Omaha.", []),
])
def test_short_alias_needs_support(nlp: spacy.language.Language, text: str, twitter: list[str]) -> None:
    mentions = analyze_text(nlp, text).mentions
    assert [m.text for m in mentions if m.canonical == "Twitter"] == twitter


def test_name_found_once_is_found_again(nlp: spacy.language.Language) -> None:
    text = "Biologist Nick Bos studies ants in Helsinki. Bos said the ants were clever. Bos left early."
    bos = [(m.label, m.canonical) for m in analyze_text(nlp, text).mentions if m.text == "Bos"]
    assert bos == [("PERSON", "Nick Bos"), ("PERSON", "Nick Bos")]


@pytest.mark.parametrize(("text", "expected"), [
    ("Criminals stole the passwords of 2 million customers from the retailer.", {"DATA_BREACH"}),
    ("The data breach exposed the records of patients at the clinic.", {"DATA_BREACH"}),
    ("The hospital paid a ransom after ransomware encrypted its servers.", {"RANSOMWARE"}),
    ("Scammers posing as the bank sent emails asking for login details.", {"PHISHING"}),
    ("Researchers discovered a critical vulnerability in the router firmware.", {"VULNERABILITY"}),
    ("The vendor has fixed the flaw in its latest update.", {"PATCH"}),
    ("The court found him in breach of contract.", set()),
    ("Employees no longer have access to their records.", set()),  # a weak trigger alone
    ("He was posing for photographs.", set()),
    # breach words that report no incident: advice to the reader, a malware kind, access the noun
    ("Scammers use your information to steal your bank details and passwords.", set()),
    ("The campaign spreads credential-stealing malware through fake invoices.", set()),
    ("Attackers with remote access to the database could read any account.", set()),
    # a weak verb with the data as its argument is a breach on its own
    ("Patient records were accessed by an unauthorised third party.", {"DATA_BREACH"}),
    ("The hackers leaked private photos of the actress online.", {"DATA_BREACH"}),
])
def test_cyber_events(nlp: spacy.language.Language, text: str, expected: set[str]) -> None:
    assert {e.type.value for e in analyze_text(nlp, text).events} == expected


def test_two_processes_give_the_same_analyses(nlp: spacy.language.Language) -> None:
    texts = [(STORY, PUBLISHED), ("Hackers stole customer data from Acme Corp.", PUBLISHED)] * 3
    assert list(analyze_texts(nlp, iter(texts), batch_size=2, processes=2)) == list(analyze_texts(nlp, texts))


# --- speed: the same results by faster means ----------------------------------------------

def test_fast_attribute_ruler_sets_what_the_ruler_sets(nlp: spacy.language.Language) -> None:
    from spacy.attrs import LEMMA, MORPH, POS

    from newsmon.nlp.attributes import apply_attribute_ruler

    text = STORY + " I ain't gonna say it's what y'all did. There were 2 flaws, wasn't there? Let's go."
    parsed = nlp.make_doc(text)
    for name in ("tok2vec", "tagger", "parser"):
        parsed = nlp.get_pipe(name)(parsed)
    ruler = nlp.get_pipe("attribute_ruler")
    expected, fast = ruler(parsed.copy()), apply_attribute_ruler(ruler, parsed.copy())
    assert (fast.to_array([POS, MORPH, LEMMA]) == expected.to_array([POS, MORPH, LEMMA])).all()


def test_matmul_ops_multiply_like_thinc() -> None:
    import numpy
    from thinc.api import NumpyOps

    from newsmon.nlp.ops import MatmulOps

    rng = numpy.random.default_rng(0)
    x, y = rng.random((5, 3), dtype="float32"), rng.random((4, 3), dtype="float32")
    out = numpy.empty((5, 4), dtype="float32")
    assert numpy.allclose(MatmulOps().gemm(x, y, trans2=True), NumpyOps().gemm(x, y, trans2=True), atol=1e-6)
    assert MatmulOps().gemm(x.T.copy(), y.T.copy(), out=out, trans1=True) is out
    assert numpy.allclose(out, x @ y.T, atol=1e-6)


def test_enrich_streams_each_stored_article_once(tmp_path: Path) -> None:
    from newsmon.config import Config
    from newsmon.pipeline import enrich
    from newsmon.records import Article, ArticleStatus
    from newsmon.storage.repository import open_repository

    config = Config(database=f"sqlite:///{tmp_path}/nlp.db", nlp=NlpSettings(batch_size=1, processes=2))
    repo = open_repository(config.database, upgrade=True)
    try:
        texts = [f"Hackers stole customer data from Acme Corp {i}." for i in range(7)]
        ids = [repo.save_article(Article(url=f"https://example.test/{i}", source="t", title=None, text=t,
                                         fetched_at=PUBLISHED)).article_id for i, t in enumerate(texts)]
        assert enrich(repo, config, limit=5) == 5  # read ahead of the saves, yet each once
        assert enrich(repo, config) == 2
        assert repo.count_articles(ArticleStatus.FETCHED) == 0
        assert all(repo.load_analysis(i).events for i in ids)
    finally:
        repo.close()
