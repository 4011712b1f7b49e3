"""A first rule-based event extractor: trigger words, then roles from the parse.

Cheap first: a sentence is looked at only if one of its words is an inflected form of a
trigger lemma. Only those sentences are tagged, parsed and lemmatised (the model's
disabled syntax components run on copies of them, a batch of articles at a time), then
matched on lemma and part of speech. Roles come from the dependency parse; without a parser, from the nearest
entities. Precision over recall: a trigger that needs an argument ("sign" needs a law,
"open" needs a case) yields nothing without it, negated triggers are skipped, and hedged
ones ("may punish", "consider blocking") get a lower confidence.
"""

from __future__ import annotations

import bisect
import itertools
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy
from spacy.attrs import LEMMA, LOWER, NORM
from spacy.language import Language
from spacy.pipeline import AttributeRuler
from spacy.tokens import Doc, Span, Token

from newsmon.nlp.attributes import apply_attribute_ruler
from newsmon.nlp.normalize import parse_money, resolve_date
from newsmon.nlp.pipeline import syntax_pipes
from newsmon.records import Event, EventType, Mention

_LAW_NOUNS = ("law", "bill", "act", "legislation", "decree", "amendment")
_VERB, _NOUN = ("VERB",), ("NOUN", "PROPN")


@dataclass(frozen=True, slots=True)
class Trigger:
    type: EventType
    lemma: str
    pos: tuple[str, ...]
    needs: tuple[str, ...] = ()  # one of these lemmas must be a dependent (or prep object)
    near: tuple[str, ...] = ()  # one of these lemmas (or word forms) must be in the same sentence
    weight: float = 1.0  # below one: needs corroboration from other events of the type in the article


T = EventType
_ANY = ("NOUN", "PROPN", "VERB", "ADJ")  # "phishing" and "ransomware" get every tag
# what a data breach takes; the weaker verbs (access, compromise, expose) need the narrow list
_DATA = ("data", "datum", "information", "record", "credential", "password", "detail", "database",
         "account", "pii", "username", "login")
# weak alone, strong with data as their argument: "leaked customer data", "records were accessed"
_DATA_VERBS = ("leak", "dump", "access", "compromise", "hack")
_DATA_WIDE = (*_DATA, "email", "card", "file", "document", "number", "address")
# what else gets stolen and leaked: private media, unreleased content, source code, tools
_LOOT = ("photo", "picture", "image", "video", "footage", "episode", "film", "movie", "content", "script",
         "source", "code", "tool", "secret", "email", "document", "file", "record")
_HACK_CONTEXT = ("hacker", "hack", "attacker", "cyberattack", "attack", "intrusion", "unauthorized",
                 "unauthorised", "stolen", "steal", "expose", "compromise", "notify", "notification")
_FLAWS = ("vulnerability", "flaw", "bug", "hole", "loophole", "weakness", "cve", "zero-day", "exploit",
          "issue", "vulnerable")
_FIX_VERBS = ("patch", "fix", "address", "resolve", "plug", "remediate", "mitigate", "close", "correct")
_FIXES = ("patch", "update", "fix", "upgrade", "firmware", "hotfix")
_DISCOVERY = ("discover", "find", "found", "disclose", "disclosure", "report", "reveal", "identify",
              "uncover", "spot", "detect", "publish", "affect", "exploit", "exist", "reside", "allow",
              "enable", "lead", "let", "abuse", "attacker", "remote", "researcher", "could", "can", "impact",
              "trigger", "execute", "leverage", "tracked", "dub", "name", "critical", "severe")
_LURES = ("email", "e-mail", "message", "text", "sms", "link", "attachment", "user", "victim", "customer",
          "recipient", "login", "credential", "password", "account", "website", "page", "site", "bank")
_RANSOM_FAMILIES = ("wannacry", "wannacrypt", "notpetya", "petya", "locky", "cerber", "cryptolocker",
                    "cryptowall", "samsam", "gandcrab", "ryuk", "badrabbit", "teslacrypt", "jigsaw", "crysis",
                    "dharma", "spora", "globeimposter", "sodinokibi", "revil", "maze")
# CASIE's five cyber event types (data breach, ransom, phishing, vulnerability discovery,
# patch): general trigger words, each with the context that makes it that event
SECURITY_TRIGGERS: tuple[Trigger, ...] = (
    Trigger(T.DATA_BREACH, "breach", _NOUN, ("datum", "data", "security")),
    Trigger(T.DATA_BREACH, "breach", _NOUN, near=_HACK_CONTEXT + _DATA),
    *(Trigger(T.DATA_BREACH, verb, _ANY, near=_DATA_WIDE)
      for verb in ("steal", "stole", "stolen", "theft", "exfiltrate", "exfiltration", "harvest", "siphon")),
    *(Trigger(T.DATA_BREACH, verb, _VERB, near=_LOOT, weight=0.5) for verb in ("steal", "leak", "dump")),
    Trigger(T.DATA_BREACH, "expose", _ANY, near=_DATA),
    # common words in any security story: they count when the article says more
    *(Trigger(T.DATA_BREACH, verb, _ANY, near=_DATA, weight=0.5)
      for verb in ("leak", "dump", "compromise", "hack", "obtain", "access", "scrape")),
    Trigger(T.RANSOMWARE, "ransomware", _ANY),
    Trigger(T.RANSOMWARE, "ransom", _ANY),
    *(Trigger(T.RANSOMWARE, word, _ANY) for word in ("extort", "extortion", *_RANSOM_FAMILIES)),
    *(Trigger(T.PHISHING, word, _ANY) for word in ("phishing", "phish", "spear-phishing", "smishing", "vishing")),
    # deception: posing as someone else is how phishing works
    *(Trigger(T.PHISHING, verb, _VERB, ("as", "be", "like"))
      for verb in ("pose", "masquerade", "purport", "pretend", "disguise", "portray")),
    *(Trigger(T.PHISHING, verb, _VERB) for verb in ("impersonate", "imitate", "spoof")),
    Trigger(T.PHISHING, "claim", _VERB, ("be",), near=_LURES, weight=0.5),
    *(Trigger(T.PHISHING, verb, _ANY, near=_LURES, weight=0.5)
      for verb in ("trick", "lure", "dupe", "fool", "scam", "spoofing", "mislead", "deceive", "convince")),
    *(Trigger(T.VULNERABILITY, noun, _ANY, near=_DISCOVERY) for noun in ("vulnerability", "flaw", "zero-day", "cve")),
    *(Trigger(T.VULNERABILITY, noun, _ANY, near=_DISCOVERY, weight=0.5) for noun in ("bug", "loophole")),
    *(Trigger(T.PATCH, verb, _ANY) for verb in ("patch", "hotfix")),
    *(Trigger(T.PATCH, verb, _ANY, near=_FLAWS) for verb in ("fix", "plug", "remediate", "update")),
    *(Trigger(T.PATCH, verb, _ANY, near=_FLAWS, weight=0.5) for verb in ("address", "resolve", "mitigate")),
    *(Trigger(T.PATCH, verb, _VERB, near=_FIXES, weight=0.5) for verb in ("release", "issue", "roll", "push", "ship")),
)
# The trigger lexicon: the one table to extend.
TRIGGERS: tuple[Trigger, ...] = (
    *(Trigger(T.LAW, verb, _VERB, _LAW_NOUNS) for verb in ("sign", "pass", "adopt", "approve", "enact", "ratify")),
    *(Trigger(T.ORDER, verb, _VERB) for verb in ("order", "oblige", "compel", "instruct")),
    Trigger(T.FINE, "fine", _VERB), Trigger(T.FINE, "fine", _NOUN),
    Trigger(T.FINE, "penalize", _VERB), Trigger(T.FINE, "penalise", _VERB),
    Trigger(T.BAN, "ban", _VERB + _NOUN), Trigger(T.BAN, "prohibit", _VERB), Trigger(T.BAN, "outlaw", _VERB),
    Trigger(T.BLOCK_OR_THROTTLE, "block", _VERB), Trigger(T.BLOCK_OR_THROTTLE, "blocking", _NOUN),
    Trigger(T.BLOCK_OR_THROTTLE, "throttle", _VERB), Trigger(T.BLOCK_OR_THROTTLE, "slow", _VERB, ("down",)),
    Trigger(T.BLOCK_OR_THROTTLE, "restrict", _VERB, ("access",)),
    Trigger(T.COURT_ACTION, "sue", _VERB), Trigger(T.COURT_ACTION, "lawsuit", _NOUN),
    Trigger(T.COURT_ACTION, "summon", _VERB), Trigger(T.COURT_ACTION, "summons", _NOUN),
    Trigger(T.COURT_ACTION, "open", _VERB, ("case", "proceedings")),
    Trigger(T.COURT_ACTION, "file", _VERB, ("lawsuit", "suit", "complaint", "case")),
    Trigger(T.COURT_ACTION, "convict", _VERB), Trigger(T.COURT_ACTION, "sentence", _VERB),
    *SECURITY_TRIGGERS,
)

_CAPABILITIES = frozenset({"may", "might", "could", "can", "would", "allow", "enable", "let", "permit", "help",
                           "vulnerable", "attempt", "try", "design", "aim", "intend", "goal", "able"})
_HEDGES = frozenset({"may", "might", "could", "would", "threaten", "consider", "plan", "propose", "seek", "want"})
_UNDERGOERS = frozenset({"face", "pay", "receive", "get", "risk", "incur",  # "Google faces a fine"
                         "suffer", "experience", "sustain"})  # "Radisson suffered a data breach"
_BASIS_HEADS = frozenset({"law", "act", "code", "decree", "regulation", "directive"})
_BREACHABLE_RULES = frozenset({*_BASIS_HEADS, "contract", "agreement", "duty", "obligation", "rule", "trust",
                               "peace", "condition", "term", "covenant", "promise", "etiquette"})
_NOT_BASIS = frozenset({"new", "same", "this", "that", "such", "a", "an", "the", "draft"})
# event types that carry a sum of money; a ban next to a fine does not take the fine's amount
# objects that name a procedure, not a party: the party follows ("a case against Google")
_FORMAL_OBJECTS = frozenset({"case", "proceedings", "lawsuit", "suit", "complaint", "access"})
# types whose trigger may be a participle modifier: "stolen data", "leaked records"
_MODIFIER_TYPES = frozenset({T.DATA_BREACH, T.RANSOMWARE, T.PHISHING, T.VULNERABILITY, T.PATCH})
# types where "could steal", "can encrypt" describes malware rather than reports an incident
_CAPABILITY_TYPES = frozenset({T.DATA_BREACH, T.RANSOMWARE})
_SECOND_PERSON = frozenset({"you", "your", "yours", "yourself"})
_AMOUNT_TYPES = frozenset({T.FINE, T.COURT_ACTION, T.DATA_BREACH, T.RANSOMWARE})
# incidents whose target is the victim: the organisation breached, the network held to ransom
_INCIDENT_TYPES = frozenset({T.DATA_BREACH, T.RANSOMWARE})
# nouns an incident trigger qualifies: "ransomware attack", "data breach incident"
_INCIDENT_HEADS = frozenset({"attack", "cyberattack", "incident", "infection", "intrusion", "hack", "breach",
                             "outbreak", "virus", "demand", "compromise", "leak", "theft", "ransomware", "malware"})
# "a breach at Equifax", "an attack on the city", "hackers stole data from Acme"
_VICTIM_PREPS = ("at", "on", "against", "of", "from", "affecting", "targeting", "hitting")
# what befalls a victim with the incident as subject ("ransomware hit the city") or as the
# means of a passive ("the county was hit by ransomware", "computers were infected with ...")
_STRIKE_VERBS = frozenset({"hit", "strike", "affect", "impact", "target", "infect", "cripple", "paralyze",
                           "paralyse", "disrupt", "lock", "encrypt", "compromise", "breach", "plague", "shut",
                           "knock", "down", "victimize", "victimise", "hold"})
# what a victim says or does of its own incident: "Acme disclosed a breach", "the city paid a ransom"
_OWN_VERBS = frozenset({"suffer", "experience", "sustain", "pay", "confirm", "disclose", "announce", "report",
                        "notify", "acknowledge", "admit"})
# who speaks of an incident without having suffered it
_NOT_VICTIMS = frozenset({"hacker", "attacker", "criminal", "cybercriminal", "thief", "fraudster", "scammer",
                          "researcher", "expert", "analyst", "official", "police", "investigator", "gang", "group",
                          "actor", "crook", "extortionist", "operator", "author", "developer"})
# organisations named by a common noun: "the city was hit", "a breach at the hospital"
_ORG_NOUNS = frozenset({"company", "firm", "business", "corporation", "retailer", "chain", "bank", "insurer",
                        "lender", "provider", "operator", "carrier", "airline", "hotel", "hospital", "clinic",
                        "practice", "lab", "laboratory", "university", "college", "school", "district", "city",
                        "town", "county", "state", "municipality", "council", "government", "agency", "ministry",
                        "department", "office", "authority", "organisation", "organization", "institution",
                        "party", "campaign", "studio", "utility", "store", "restaurant", "charity", "network",
                        "exchange", "marketplace", "platform", "service", "website", "site", "forum", "startup",
                        "manufacturer", "maker", "giant", "church", "newspaper"})
# the malware's own name sits before these words: "the Philadelphia ransomware", "Locky infections"
_MALWARE_NOUNS = frozenset({"ransomware", "malware", "virus", "trojan", "worm", "variant", "strain", "family",
                            "infection", "campaign", "kit", "botnet"})
# things an organisation owns; the victim is their owner: "Cathay's data", "the county's computers"
_OWNED_NOUNS = frozenset({*_DATA_WIDE, "computer", "server", "device", "machine", "file", "customer", "client",
                          "patient", "member", "user", "employee", "passenger", "guest", "staff", "operation",
                          "portal", "infrastructure", "detail"}) - _ORG_NOUNS
_VICTIM_LABELS = frozenset({"ORG", "GPE", "NORP", "FAC", "PERSON"})
_NOT_VICTIM_ENTS = frozenset({"DATE", "TIME", "MONEY", "CARDINAL", "PERCENT", "ORDINAL", "QUANTITY"})


def extract_events(nlp: Language, sents: list[Span], parsed: list[Span], mentions: list[Mention],
                   published_at: datetime | None = None) -> list[Event]:
    """Events of one doc from its trigger sentences and their parsed copies (``parse_sentences``).

    At most one event per (type, sentence), the strongest trigger's. A weak trigger ("accessed
    the records", "could steal passwords") counts only when the article corroborates it: the
    weights of a type's events must add up to one.
    """
    if not sents:
        return []
    found = find_triggers(nlp, parsed)
    totals: dict[EventType, float] = {}
    for weight, trigger, _, _ in found:
        totals[trigger.type] = totals.get(trigger.type, 0.0) + weight
    return [_event(trigger, token, sents[index], parsed[index], mentions, published_at, weight)
            for weight, trigger, token, index in found if totals[trigger.type] >= 1.0]


def find_triggers(nlp: Language, parsed: list[Span]) -> list[tuple[float, Trigger, Token, int]]:
    """(weight, trigger, token, sentence index): the strongest per (type, sentence), in text order."""
    best: dict[tuple[EventType, int], tuple[float, Trigger, Token, int]] = {}
    starts = [p.start for p in parsed]
    for trigger, token in _match(nlp, parsed):
        index = bisect.bisect_right(starts, token.i) - 1
        if not _applies(trigger, token, parsed[index]):
            continue
        weight = _weight(trigger, token)
        key = (trigger.type, index)
        if key not in best or weight > best[key][0]:
            best[key] = (weight, trigger, token, index)
    return sorted(best.values(), key=lambda found: found[2].i)


def _weight(trigger: Trigger, token: Token) -> float:
    """The trigger's strength, halved for a mere capability ("could allow attackers to steal")."""
    weight = trigger.weight
    if trigger.lemma in _DATA_VERBS and _takes_data(token):
        weight = 1.0  # "leaked customer data", "records were accessed": the data is the argument
    if trigger.type in _CAPABILITY_TYPES and _capability(token):
        return weight / 2
    return weight


def _takes_data(token: Token) -> bool:
    args = [c for c in token.children if c.dep_ in ("dobj", "nsubjpass")]
    if token.dep_ in ("amod", "acl") or (token.dep_ == "compound" and token.pos_ != "VERB"):
        args.append(token.head)  # "leaked records", "data leak"
    return any(arg.lemma_.lower() in _DATA[:6] or arg.lemma_.lower() in _LOOT for arg in args)


def _capability(token: Token) -> bool:
    node = token
    for _ in range(4):
        if node.lemma_ in _CAPABILITIES or any(c.lemma_ in _CAPABILITIES and c.dep_ == "aux" for c in node.children):
            return True
        if node.head is node:
            return False
        node = node.head
    return False


def trigger_sentences(nlp: Language, doc: Doc) -> list[Span]:
    """Sentences holding a trigger word form (and, if it needs one, a form of its argument).

    No tagging yet: a set test on the lowercase word ids of the sentences that hold a form.
    """
    lowers = doc.to_array(LOWER)
    resources = _resources(nlp)
    hits = numpy.flatnonzero(numpy.isin(lowers, resources.word_ids))
    if not len(hits):
        return []
    out = []
    for sent in doc.sents:
        if not _holds(hits, sent):
            continue
        words = set(lowers[sent.start:sent.end].tolist())
        if any(words & forms and (not needs or words & needs) and (not near or words & near)
               for forms, needs, near in resources.prefilter):
            out.append(sent)
    return out


def _holds(hits: numpy.ndarray, sent: Span) -> bool:
    at = int(numpy.searchsorted(hits, sent.start))
    return at < len(hits) and hits[at] < sent.end


def parse_sentences(nlp: Language, groups: list[list[Span]]) -> list[list[Span]]:
    """Each doc's trigger sentences, tagged, parsed and lemmatised, as spans of one copy per doc.

    The copies of a whole batch go through the disabled syntax components together (batched
    matrix products). Sentence boundaries are carried over and the parser keeps them.
    """
    pipes = syntax_pipes(nlp)
    if not pipes:
        return groups  # the pipeline already parses every doc
    copies = [_sentence_copy(nlp, sents) for sents in groups if sents]
    for name in pipes:
        pipe: Any = nlp.get_pipe(name)
        if isinstance(pipe, AttributeRuler):
            copies = [apply_attribute_ruler(pipe, copy) for copy in copies]
        else:
            copies = list(pipe.pipe(copies, batch_size=max(len(copies), 1)))
    parsed = iter(copies)
    return [_split(next(parsed), sents) if sents else [] for sents in groups]


def _sentence_copy(nlp: Language, sents: list[Span]) -> Doc:
    """One new Doc of the sentences' tokens: words, spaces, sentence starts and norms ("n't" -> "not").

    The tagger and parser read the norms; entities and the rest stay behind.
    """
    tokens = [token for sent in sents for token in sent]
    copy = Doc(nlp.vocab, words=[t.text for t in tokens], spaces=[bool(t.whitespace_) for t in tokens],
               sent_starts=[t.i == sent.start for sent in sents for t in sent])
    copy.from_array([NORM], numpy.array([t.norm for t in tokens], dtype="uint64"))  # type: ignore[arg-type]
    return copy


def _split(copy: Doc, sents: list[Span]) -> list[Span]:
    starts = list(itertools.accumulate((len(s) for s in sents), initial=0))
    return [copy[start:end] for start, end in itertools.pairwise(starts)]


def _match(nlp: Language, parsed: list[Span]) -> list[tuple[Trigger, Token]]:
    """(trigger, token) in text order: candidate words by lemma or form, then the table decides."""
    doc = parsed[0].doc
    resources = _resources(nlp)
    ids = doc.to_array([LEMMA, LOWER])
    candidates = numpy.isin(ids[:, 0], resources.lemma_ids) | numpy.isin(ids[:, 1], resources.word_ids)
    found = []
    for start in numpy.flatnonzero(candidates).tolist():
        token = doc[start]
        for trigger in resources.by_word.get(token.lemma_.lower(), []) + resources.by_word.get(token.lower_, []):
            if token.pos_ in trigger.pos and (trigger, token) not in found:
                found.append((trigger, token))
    return found


def _applies(trigger: Trigger, token: Token, sent: Span) -> bool:
    if token.dep_ in ("amod", "compound") and token.pos_ == "VERB" and trigger.type not in _MODIFIER_TYPES:
        return False  # "banned content" is not a ban (but "stolen data" is a breach)
    if any(child.dep_ == "neg" for child in token.children):
        return False
    if trigger.type is T.DATA_BREACH and not _breach_context(trigger, token, sent):
        return False
    if trigger.type is T.VULNERABILITY and _is_fixed(token):
        return False  # "fixed 334 vulnerabilities" is a patch; "vulnerability scan" no flaw
    if trigger.near and not any(t.lemma_.lower() in trigger.near or t.lower_ in trigger.near
                                for t in sent if t is not token):
        return False
    if not trigger.needs:
        return True
    if not token.doc.has_annotation("DEP"):
        window = token.doc[max(token.i - 3, 0):token.i + 4]
        return any(t.lemma_.lower() in trigger.needs for t in window)
    following = token.doc[token.i + 1:token.i + 2]  # "posing as", however the parser attached "as"
    return any(t.lemma_.lower() in trigger.needs or t.lower_ in trigger.needs
               for t in [*_dependents(token), *following])


def _breach_context(trigger: Trigger, token: Token, sent: Span) -> bool:
    """Whether a breach trigger can report an incident at all, whatever its words around.

    Not "a breach of the personal data law" (an offence), not advice to the reader ("steal
    your bank details"), not a kind of malware ("credential-stealing"), not "access" the noun
    ("remote access", "give access to")."""
    if _prep_object_lemma(token, "of") in _BREACHABLE_RULES:
        return False
    if any(t.lower_ in _SECOND_PERSON for t in sent):
        return False
    if token.i > sent.start and token.doc[token.i - 1].text == "-":
        return False
    return not (trigger.lemma == "access" and token.pos_ != "VERB")


def _prep_object_lemma(token: Token, prep: str) -> str | None:
    for child in token.children:
        if child.dep_ == "prep" and child.lower_ == prep:
            pobj = _pobj(child)
            return pobj.lemma_.lower() if pobj is not None else None
    return None


def _pobj(prep: Token) -> Token | None:
    """The object of a preposition (or of an agent's "by")."""
    return next((c for c in prep.children if c.dep_ == "pobj"), None)


def _prep_objects(token: Token, preps: tuple[str, ...]) -> Iterator[Token]:
    """The objects of the token's prepositions among ``preps``, in order: "a breach *at* Acme"."""
    for child in token.children:
        if child.dep_ == "prep" and child.lower_ in preps and (pobj := _pobj(child)) is not None:
            yield pobj


def _is_passive(verb: Token) -> bool:
    return any(c.dep_ in ("nsubjpass", "auxpass") for c in verb.children)


def _is_fixed(token: Token) -> bool:
    if token.dep_ == "compound":
        return True
    verb = _governing_verb(token)
    return verb is not None and verb.lemma_.lower() in _FIX_VERBS


def _dependents(token: Token) -> list[Token]:
    """Children, and objects of child prepositions ("signed into law")."""
    out = []
    for child in token.children:
        out.append(child)
        if child.dep_ == "prep":
            out.extend(c for c in child.children if c.dep_ == "pobj")
    return out


def _event(trigger: Trigger, token: Token, sent: Span, parsed: Span, mentions: list[Mention],
           published_at: datetime | None, weight: float = 1.0) -> Event:
    names = _MentionIndex(sent, parsed, mentions)
    actor, target = _roles(trigger, token, names) if parsed.doc.has_annotation("DEP") else _nearest(token, names)
    if trigger.type in _INCIDENT_TYPES and parsed.doc.has_annotation("DEP"):
        victim = _incident_victim(token, names)
        actor, target = (None if actor == victim else actor), victim  # the victim, or nobody named
    at = token.i - parsed.start  # the trigger's position in the sentence
    amount = _amount(sent, at) if trigger.type in _AMOUNT_TYPES else (None, None)
    start, end = _trimmed(sent)
    return Event(
        type=trigger.type, trigger=_trigger_text(token), sentence=sent.text.strip(), start=start, end=end,
        actor=actor, target=target, amount=amount[0], currency=amount[1],
        date=_date(sent, at, published_at), legal_basis=_legal_basis(sent, parsed),
        confidence=0.4 if _hedged(token) or weight < 1.0 else 0.7,
    )


# -- the victim of an incident ---------------------------------------------------------------

def _incident_victim(token: Token, names: _MentionIndex) -> str | None:
    """Who a breach or ransomware incident befell, from the words around its trigger.

    A verb trigger's object or passive subject ("hackers breached Acme", "Acme's records were
    stolen", "stole data from Acme"); a noun trigger's owner ("the Equifax breach", "Acme's data
    breach"), place ("a breach at Equifax", "an attack on the city"), or the clause it sits in
    ("the county was hit by ransomware", "Acme suffered a breach", "ransomware crippled the
    city"). Data and machines stand for their owner; a pronoun or a bare "data" is no victim.
    """
    if token.pos_ == "VERB":
        return _verb_victim(token, names)
    chain = [token]
    while chain[-1].dep_ in ("compound", "amod", "nmod") and chain[-1].head.lemma_.lower() in _INCIDENT_HEADS \
            and chain[-1].head.pos_ in _NOUN and len(chain) < 3:
        chain.append(chain[-1].head)
    for node in chain:
        if node.lemma_.lower() in _MALWARE_NOUNS or node.lower_ in _RANSOM_FAMILIES:
            continue  # "the Philadelphia ransomware", "WannaCry ransomware": the malware's name
        for child in node.lefts:
            if child.dep_ in ("poss", "compound", "nmod") and child not in chain and _is_victim_name(child, names) \
                    and not _names_malware(child):
                return names.name(child)
    for node in chain:
        victim = _prep_victim(node, names, of=node.lemma_.lower() not in ("ransom", "demand"))
        if victim is not None:
            return victim
    return _clause_victim(chain[-1], names)


def _verb_victim(verb: Token, names: _MentionIndex) -> str | None:
    passive = _is_passive(verb)
    role = next((c for c in verb.children if c.dep_ == ("nsubjpass" if passive else "dobj")), None)
    victim = _victim_name(role, names, loose=passive) if role is not None else None
    return victim or _prep_victim(verb, names)


def _clause_victim(noun: Token, names: _MentionIndex) -> str | None:
    agent = noun.dep_ == "pobj" and noun.head.dep_ == "agent"  # "hit by ransomware"
    verb = noun.head.head if agent else _governing_verb(noun)
    if verb is None:
        return None
    lemma = verb.lemma_.lower()
    if noun.dep_ == "nsubj" and lemma in _STRIKE_VERBS:  # "ransomware crippled the city('s computers)"
        obj = next((c for c in verb.children if c.dep_ == "dobj"), None)
        victim = _victim_name(obj, names) if obj is not None else None
        return victim or _prep_victim(verb, names)  # "encrypted files at Telefonica"
    passive = next((c for c in verb.children if c.dep_ == "nsubjpass"), None)
    if noun.dep_ == "pobj" and passive is not None and lemma in _STRIKE_VERBS | {"target", "attack"}:
        return _victim_name(passive, names, loose=True)  # "the county was hit by ransomware"
    if noun.dep_ == "pobj" and lemma == "fall" and noun.head.lower_ == "to":  # "fell victim to"
        return _subject_victim(verb, names)
    if noun.dep_ == "dobj" and lemma in _OWN_VERBS:
        return _subject_victim(verb, names)
    if noun.dep_ == "dobj":  # "demanded a ransom from the county", "launched an attack on the city"
        return _prep_victim(verb, names)
    return None


def _subject_victim(verb: Token, names: _MentionIndex) -> str | None:
    for _ in range(3):  # "Radisson confirmed that it has suffered a breach": up to the named subject
        subject = next((c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass")), None)
        if subject is not None and subject.pos_ != "PRON":
            named = _is_victim_name(subject, names)
            return None if subject.lemma_.lower() in _NOT_VICTIMS and not named else \
                _victim_name(subject, names, loose=True)
        if verb.dep_ not in ("ccomp", "xcomp", "conj", "advcl") or verb.head is verb:
            return None
        verb = verb.head
    return None


def _prep_victim(token: Token, names: _MentionIndex, of: bool = True) -> str | None:
    for child in token.children:
        if child.dep_ == "prep" and child.lower_ in _VICTIM_PREPS and (of or child.lower_ != "of"):
            pobj = _pobj(child)
            victim = _victim_name(pobj, names) if pobj is not None else None
        elif child.dep_ in ("acl", "relcl") and child.lemma_.lower() in _STRIKE_VERBS:  # "a breach affecting Acme"
            obj = next((c for c in child.children if c.dep_ == "dobj"), None)
            victim = _victim_name(obj, names) if obj is not None else None
        else:
            continue
        if victim is not None:
            return victim
    return None


def _victim_name(token: Token, names: _MentionIndex, depth: int = 0, loose: bool = False) -> str | None:
    """A named party, an organisation's noun phrase, or the owner of the data or machines named.

    ``loose``: where the clause says the token underwent the incident ("the caucus paid the
    ransom"), any noun but an attacker's or a bystander's will do.
    """
    if token.pos_ == "PRON" or token.i in names.values or _names_malware(token):
        return None
    if _is_victim_name(token, names):
        return _names(token, names)
    lemma = token.lemma_.lower()
    if lemma in _ORG_NOUNS:
        of = next((c for c in token.children if c.dep_ == "prep" and c.lower_ == "of"), None)
        place = _pobj(of) if of is not None else None
        if place is not None and _is_victim_name(place, names):  # "the city of Atlanta"
            return f"{token.text} of {names.name(place)}"
        return _names(token, names)
    owner = _owner(token, names, depth)
    if owner is not None or lemma in _OWNED_NOUNS:
        return owner
    if token.pos_ == "PROPN" or (loose and token.pos_ == "NOUN" and lemma not in _NOT_VICTIMS):
        return _names(token, names)
    return None


def _owner(token: Token, names: _MentionIndex, depth: int) -> str | None:
    """Whose the thing is: "Cathay's data", "the county computers", "records of patients at Acme"."""
    for child in token.children:
        if child.dep_ in ("poss", "compound", "nmod") and not _names_malware(child) and (
                _is_victim_name(child, names) or child.lemma_.lower() in _ORG_NOUNS):
            return names.name(child)
    if token.lemma_.lower() not in _OWNED_NOUNS or depth >= 2:
        return None
    for pobj in _prep_objects(token, ("of", "at", "from")):
        owner = _victim_name(pobj, names, depth + 1)
        if owner is not None:
            return owner
    return None


def _names_malware(token: Token) -> bool:
    """A family name, or a name qualifying malware ("the Locky strain", "Android ransomware")."""
    return token.lower_ in _RANSOM_FAMILIES or token.lower_ in _MALWARE_NOUNS or (
        token.dep_ in ("compound", "amod", "nmod") and token.head.lemma_.lower() in _MALWARE_NOUNS)


def _is_victim_name(token: Token, names: _MentionIndex) -> bool:
    mention = names.by_token.get(token.i)
    return mention is not None and mention.label in _VICTIM_LABELS


def _trigger_text(token: Token) -> str:
    particles = [c.text for c in token.children if c.dep_ == "prt"]
    return " ".join([token.text, *particles])


class _MentionIndex:
    """Which mention (by canonical name) covers a token of the parsed sentence copy."""

    def __init__(self, sent: Span, parsed: Span, mentions: list[Mention]) -> None:
        offset = sent.start - parsed.start
        self.by_token: dict[int, Mention] = {}
        self.ordered: list[tuple[int, Mention]] = []
        by_start = {(m.start, m.end): m for m in mentions if sent.start_char <= m.start < sent.end_char}
        self.values: set[int] = set()  # dates, times, sums and counts: never a party
        for ent in sent.ents:
            if ent.label_ in _NOT_VICTIM_ENTS:
                self.values.update(range(ent.start - offset, ent.end - offset))
            mention = by_start.get((ent.start_char, ent.end_char))
            if mention is not None:
                self.ordered.append((ent.start - offset, mention))
                for i in range(ent.start - offset, ent.end - offset):
                    self.by_token[i] = mention

    def name(self, token: Token) -> str | None:
        """The canonical name of the mention at token, else its compact noun phrase."""
        if token.i in self.by_token:
            return self.by_token[token.i].canonical
        if token.pos_ == "PRON":
            return None
        if token.pos_ not in ("NOUN", "PROPN"):
            return None
        mods = [c for c in token.lefts if c.dep_ in ("compound", "amod", "nmod") and c.lower_ not in _NOT_BASIS]
        return " ".join([*(m.text for m in mods), token.text])


def _roles(trigger: Trigger, token: Token, names: _MentionIndex) -> tuple[str | None, str | None]:
    if token.pos_ == "VERB":
        return _verb_roles(trigger, token, names)
    verb = _governing_verb(token)
    target = _prep_object(token, ("against", "on"), names)
    if verb is None:
        return None, target
    subject = _subject(verb, names, skip=token)
    if verb.lemma_ in _UNDERGOERS:
        return None, target or subject
    return subject, target or _object(verb, names, skip=token)


def _verb_roles(trigger: Trigger, verb: Token, names: _MentionIndex) -> tuple[str | None, str | None]:
    if _is_passive(verb):
        agent = next((c for c in verb.children if c.dep_ == "agent"), None)
        by_whom = _pobj(agent) if agent is not None else None
        actor = _names(by_whom, names) if by_whom is not None else None
        patient = next((c for c in verb.children if c.dep_ == "nsubjpass"), None)
        return actor, _names(patient, names) if patient is not None else None
    return _subject(verb, names), _object(verb, names)


def _subject(verb: Token, names: _MentionIndex, skip: Token | None = None) -> str | None:
    """The verb's subject; through xcomp/advcl/conj (and pronouns) to the governing clause."""
    for _ in range(4):
        subject = next((c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass")), None)
        if subject is not None and _is_trigger(subject, skip):
            return None  # "Lawsuits have been filed": the trigger is no party
        if subject is not None and subject.pos_ != "PRON":
            return _names(subject, names)
        climbable = ("xcomp", "advcl", "conj", "ccomp") if subject is not None else ("xcomp", "advcl", "conj")
        if verb.dep_ not in climbable or verb.head is verb:
            return None
        verb = verb.head
    return None


def _object(verb: Token, names: _MentionIndex, skip: Token | None = None) -> str | None:
    obj = next((c for c in verb.children if c.dep_ == "dobj"), None)
    if obj is None:
        return _prep_object(verb, ("against", "on"), names)
    if _is_trigger(obj, skip):
        return None
    if obj.lemma_.lower() in _LAW_NOUNS:
        return None
    if obj.lemma_.lower() in _FORMAL_OBJECTS:
        return _prep_object(obj, ("against", "on", "to"), names)  # "opened a case against Google"
    return _names(obj, names)


def _is_trigger(token: Token, trigger: Token | None) -> bool:
    return trigger is not None and (token == trigger or trigger in token.conjuncts)


def _prep_object(token: Token, preps: tuple[str, ...], names: _MentionIndex) -> str | None:
    pobj = next(_prep_objects(token, preps), None)
    return _names(pobj, names) if pobj is not None else None


def _names(token: Token, names: _MentionIndex) -> str | None:
    """The name at token and at its coordinated tokens: "Twitter, Telegram, Google"."""
    found = [names.name(t) for t in [token, *token.conjuncts]]
    unique = list(dict.fromkeys(n for n in found if n))
    return ", ".join(unique) or None


def _governing_verb(token: Token) -> Token | None:
    """The verb a noun trigger is an argument of: "imposed a fine", "punish ... with fines"."""
    while token.dep_ == "conj" and token.head.pos_ in _NOUN:
        token = token.head
    head = token.head
    if token.dep_ in ("dobj", "nsubj", "nsubjpass") and head.pos_ in ("VERB", "AUX"):
        return head
    if token.dep_ == "pobj" and head.dep_ == "prep" and head.head.pos_ in ("VERB", "AUX"):
        return head.head
    return None


def _hedged(token: Token) -> bool:
    node: Token | None = token
    for _ in range(6):
        if node is None:
            break
        if node.lemma_ in _HEDGES or any(c.lemma_ in _HEDGES and c.dep_ == "aux" for c in node.children):
            return True
        node = None if node.head is node else node.head
    return False


def _nearest(token: Token, names: _MentionIndex) -> tuple[str | None, str | None]:
    """Without a parser: the nearest name before the trigger acts, the nearest after undergoes."""
    before = [m for i, m in names.ordered if i < token.i and m.label in ("PERSON", "ORG", "GPE", "NORP")]
    after = [m for i, m in names.ordered if i > token.i and m.label in ("PERSON", "ORG", "GPE", "NORP")]
    return (before[-1].canonical if before else None), (after[0].canonical if after else None)


def _amount(sent: Span, at: int) -> tuple[float | None, str | None]:
    moneys = sorted((abs(e.start - sent.start - at), e.text) for e in sent.ents if e.label_ == "MONEY")
    for _, text in moneys:
        money = parse_money(text)
        if money is not None:
            return money.amount, money.currency
    return None, None


def _date(sent: Span, at: int, published_at: datetime | None) -> str | None:
    dates = sorted((abs(e.start - sent.start - at), e.text) for e in sent.ents if e.label_ == "DATE")
    for _, text in dates:
        resolved = resolve_date(text, published_at)
        if resolved is not None:
            return resolved[0]
    return None


def _legal_basis(sent: Span, parsed: Span) -> str | None:
    """A named law in the sentence: a LAW entity, else "<modifiers> law/act/code"."""
    for ent in sent.ents:
        if ent.label_ == "LAW":
            return " ".join(ent.text.split())
    for token in parsed:
        if token.lemma_.lower() in _BASIS_HEADS and token.pos_ in ("NOUN", "PROPN"):
            mods = [t for t in token.subtree if t.i < token.i and t.lower_ not in _NOT_BASIS
                    and t.dep_ in ("compound", "amod", "nmod", "npadvmod", "nummod")]
            if mods:
                return " ".join(t.text for t in parsed.doc[mods[0].i:token.i + 1])
    return None


def _trimmed(sent: Span) -> tuple[int, int]:
    text = sent.text
    start = sent.start_char + (len(text) - len(text.lstrip()))
    return start, start + len(text.strip())


@dataclass(slots=True)
class _Resources:
    by_word: dict[str, list[Trigger]]  # lemma or inflected form -> triggers
    lemma_ids: numpy.ndarray  # LEMMA ids of the trigger lemmas (candidate words after parsing)
    word_ids: numpy.ndarray  # LOWER ids of every inflected trigger form (the sentence prefilter too)
    prefilter: list[tuple[frozenset[int], frozenset[int], frozenset[int]]]  # (trigger, argument, context ids)


_RESOURCES: weakref.WeakKeyDictionary[Language, _Resources] = weakref.WeakKeyDictionary()


def _resources(nlp: Language) -> _Resources:
    if nlp not in _RESOURCES:
        by_word: dict[str, list[Trigger]] = {}
        for trigger in TRIGGERS:
            # inflected forms too: the lemmatizer has blind spots ("fined" -> "fin")
            for word in inflect(trigger.lemma):
                by_word.setdefault(word, []).append(trigger)
        prefilter = [(_ids(nlp, inflect(t.lemma)), _forms(nlp, t.needs), _forms(nlp, t.near)) for t in TRIGGERS]
        _RESOURCES[nlp] = _Resources(by_word, _array(_ids(nlp, {t.lemma for t in TRIGGERS})),
                                     _array(_ids(nlp, by_word)), list(dict.fromkeys(prefilter)))
    return _RESOURCES[nlp]


def _array(ids: frozenset[int]) -> numpy.ndarray:
    return numpy.array(sorted(ids), dtype="uint64")


def _forms(nlp: Language, lemmas: Iterable[str]) -> frozenset[int]:
    return _ids(nlp, {form for lemma in lemmas for form in inflect(lemma)})


def _ids(nlp: Language, words: Iterable[str]) -> frozenset[int]:
    return frozenset(nlp.vocab.strings.add(word) for word in words)


def inflect(lemma: str) -> set[str]:
    """Generous English inflections of a lemma, used only to skip sentences cheaply."""
    forms = {lemma, lemma + "s", lemma + "es", lemma + "ed", lemma + "ing", lemma + lemma[-1] + "ed",
             lemma + lemma[-1] + "ing"}
    if lemma.endswith("e"):
        forms |= {lemma + "d", lemma[:-1] + "ing"}
    if lemma.endswith("y"):
        forms |= {lemma[:-1] + "ies", lemma[:-1] + "ied"}
    return forms
