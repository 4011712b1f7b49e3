"""Pure text normalisation: entity names, money amounts and relative dates.

No spaCy here: these functions take strings and return records or plain values, so they
are cheap to test with tables of cases.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta
from functools import lru_cache

from dateparser.date import DateDataParser

from newsmon.records import Money

# --- names -----------------------------------------------------------------------------

_POSSESSIVE = re.compile(r"(?:['’ʼ]s|(?<=s)['’ʼ])$", re.IGNORECASE)
_LEADING_THE = re.compile(r"^the\s+", re.IGNORECASE)
_ACRONYM_MAX = 4  # all-caps words this short (RKN, NATO, FSB) are kept as written


def strip_possessive(text: str) -> str:
    """"Russia's" -> "Russia", "Reuters'" -> "Reuters"; anything else unchanged."""
    return _POSSESSIVE.sub("", text)


def normalise_name(text: str, label: str) -> str:
    """A deterministic display name for an entity mention.

    Whitespace collapsed, possessive stripped, a leading "the" dropped (not for works of
    art or laws, where it is part of the title), and an all-caps name title-cased word by
    word unless the word looks like an acronym (at most four letters).
    """
    name = " ".join(text.split())
    name = strip_possessive(name).strip(" ,;:")
    if label not in ("WORK_OF_ART", "LAW"):
        name = _LEADING_THE.sub("", name)
    letters = [c for c in name if c.isalpha()]
    if letters and all(c.isupper() for c in letters):
        name = " ".join(_title_word(word) for word in name.split(" "))
    return name


def _title_word(word: str) -> str:
    # short or dotted all-caps words (RKN, NATO, U.S.) read as acronyms and stay as written
    letters = sum(c.isalpha() for c in word)
    return word if "." in word or letters <= _ACRONYM_MAX else word.capitalize()


# --- money -----------------------------------------------------------------------------

_CURRENCY_SYMBOLS = {"$": "USD", "us$": "USD", "€": "EUR", "£": "GBP", "₽": "RUB"}
_CURRENCY_WORDS = {
    "usd": "USD", "dollar": "USD", "dollars": "USD",
    "eur": "EUR", "euro": "EUR", "euros": "EUR",
    "gbp": "GBP", "pound": "GBP", "pounds": "GBP", "sterling": "GBP",
    "rub": "RUB", "rur": "RUB", "ruble": "RUB", "rubles": "RUB", "rouble": "RUB", "roubles": "RUB",
}
_MAGNITUDES = {
    "thousand": 1e3, "k": 1e3,
    "million": 1e6, "mn": 1e6, "mln": 1e6, "m": 1e6,
    "billion": 1e9, "bn": 1e9, "b": 1e9,
    "trillion": 1e12, "tn": 1e12,
}
_MONEY = re.compile(
    r"(?P<pre>us\$|[$€£₽]|\b(?:usd|eur|gbp|rub)\b)?\s*"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s*"
    r"(?P<mag>thousand|million|billion|trillion|mln|mn|bn|tn|k|m|b)?\b\.?\s*"
    r"(?P<post>[a-z]+|[$€£₽])?",
    re.IGNORECASE,
)


def parse_money(text: str) -> Money | None:
    """"$1.2 million" -> Money(1200000.0, "USD"); None when there is no number.

    Knows USD, EUR, GBP and RUB by symbol, ISO code or word; an amount with no
    recognisable currency keeps currency None.
    """
    for match in _MONEY.finditer(text):
        amount = float(match["num"].replace(",", ""))
        if match["mag"]:
            amount *= _MAGNITUDES[match["mag"].lower()]
        return Money(amount, _currency(match["pre"]) or _currency(match["post"]))
    return None


def _currency(token: str | None) -> str | None:
    if not token:
        return None
    token = token.lower()
    return _CURRENCY_SYMBOLS.get(token) or _CURRENCY_WORDS.get(token)


# --- dates -----------------------------------------------------------------------------

_PREPOSITION = re.compile(r"^(?:on|in|at|by|during|since|until|from|as of|the)\s+", re.IGNORECASE)
# "later this month": the part of the period after (or before) publication
_LATER = re.compile(r"^(?:later|late)\s+(?=this\b)", re.IGNORECASE)
_EARLIER = re.compile(r"^(?:earlier|early)\s+(?=this\b)", re.IGNORECASE)
# "early May", "the end of 2020": the whole period is the honest answer
_VAGUE = re.compile(
    r"^(?:(?:early|late|mid|later|earlier)[\s-]+|(?:the\s+)?(?:end|start|beginning|middle)\s+of\s+)",
    re.IGNORECASE,
)
_WEEKDAYS = {name.lower(): index for index, name in enumerate(calendar.day_name)}


def resolve_date(text: str, published_at: datetime | None) -> tuple[str, str] | None:
    """Resolve a date phrase against the publication date.

    Returns (ISO date, "day") or ("start/end", "week" | "month" | "year"), or None when
    the phrase is not a date ("daily", "the past two years") or there is no publication
    date to resolve a relative phrase against. Bare weekdays mean the latest such day on
    or before publication ("on Thursday" in Thursday's paper is that day).
    """
    phrase = " ".join(text.split()).strip(" .,")
    while _PREPOSITION.match(phrase):
        phrase = _PREPOSITION.sub("", phrase)
    clip = "after" if _LATER.match(phrase) else "before" if _EARLIER.match(phrase) else None
    phrase = _VAGUE.sub("", phrase)
    if not phrase:
        return None
    base = published_at or datetime.now()
    weekday = _WEEKDAYS.get(phrase.lower())
    if weekday is not None:
        if published_at is None:
            return None
        day = base.date() - timedelta(days=(base.weekday() - weekday) % 7)
        return day.isoformat(), "day"
    midnight = datetime.combine(base.date(), datetime.min.time())
    resolved = _parse_date(phrase, midnight)
    if resolved is None:
        return None
    if published_at is None and not re.search(r"\d{4}", phrase):
        return None  # "in May" means nothing without a publication date
    return _as_range(*resolved, clip=clip, base=base.date())


@lru_cache(maxsize=1024)
def _parse_date(phrase: str, base: datetime) -> tuple[date, str] | None:
    parser = _date_parser(base)
    data = parser.get_date_data(phrase)
    if data.date_obj is None:
        return None
    return data.date_obj.date(), data.period or "day"


@lru_cache(maxsize=64)
def _date_parser(base: datetime) -> DateDataParser:
    settings = {"RELATIVE_BASE": base, "PREFER_DATES_FROM": "past", "RETURN_TIME_AS_PERIOD": True}
    return DateDataParser(languages=["en"], settings=settings)


def _as_range(day: date, period: str, clip: str | None, base: date) -> tuple[str, str]:
    if period in ("day", "time"):
        return day.isoformat(), "day"
    if period == "week":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=6)
    elif period == "month":
        start = day.replace(day=1)
        end = day.replace(day=calendar.monthrange(day.year, day.month)[1])
    else:
        period = "year"
        start, end = date(day.year, 1, 1), date(day.year, 12, 31)
    if clip == "after" and start <= base <= end:
        start = base
    elif clip == "before" and start <= base <= end:
        end = base
    return f"{start.isoformat()}/{end.isoformat()}", period
