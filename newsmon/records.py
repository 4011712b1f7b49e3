"""Typed records passed between newsmon's stages.

Every stage takes and returns these plain dataclasses; no stage passes dicts with
magic keys or ORM rows across a module boundary.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class SourceKind(str, enum.Enum):
    FEED = "feed"
    SITEMAP = "sitemap"
    SITE = "site"


class ArticleStatus(str, enum.Enum):
    """Where an article is in the flow; each stage claims rows by status."""

    FETCHED = "fetched"  # extracted and stored, waiting for NLP
    ANALYSED = "analysed"  # entities/events stored, waiting for rule evaluation
    ALERTED = "alerted"  # rules evaluated
    FAILED = "failed"  # a stage failed permanently on this article (reason kept)


class NotificationStatus(str, enum.Enum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class EventType(str, enum.Enum):
    """The one list of event types; rules, storage and the CLI all use it."""

    FINE = "FINE"
    LAW = "LAW"
    BAN = "BAN"
    BLOCK_OR_THROTTLE = "BLOCK_OR_THROTTLE"
    COURT_ACTION = "COURT_ACTION"
    ORDER = "ORDER"
    DATA_BREACH = "DATA_BREACH"
    RANSOMWARE = "RANSOMWARE"
    PHISHING = "PHISHING"
    VULNERABILITY = "VULNERABILITY"
    PATCH = "PATCH"


@dataclass(slots=True)
class FeedEntry:
    """What a feed says about one article; used where the page itself lacks data."""

    link: str
    title: str | None = None
    entry_id: str | None = None
    published_at: datetime | None = None
    authors: list[str] = field(default_factory=list)
    summary: str | None = None


@dataclass(slots=True)
class FetchedPage:
    """One HTTP response as downloaded, before extraction."""

    url: str  # the URL requested
    final_url: str  # after redirects
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: datetime
    source: str
    entry: FeedEntry | None = None


@dataclass(slots=True)
class Article:
    """A news article as extracted from a page (id is None until stored)."""

    url: str  # canonical URL
    source: str
    title: str | None
    text: str
    fetched_at: datetime
    authors: list[str] = field(default_factory=list)
    published_at: datetime | None = None
    date_source: str | None = None  # e.g. "json-ld", "meta", "htmldate", "feed", "url"
    language: str | None = None
    site_name: str | None = None
    summary: str | None = None
    content_hash: str = ""
    extractor: str = ""
    urls: list[str] = field(default_factory=list)  # every URL that led here (aliases)
    signature: list[int] = field(default_factory=list)  # MinHash of the text (near duplicates)
    id: int | None = None
    story_id: int | None = None
    notes: list[str] = field(default_factory=list)  # what extraction worked around (logged, not stored)


@dataclass(slots=True)
class WatchEntity:
    """A watch-list entry from the configuration."""

    name: str
    type: str
    aliases: list[str] = field(default_factory=list)
    wikidata: str | None = None


@dataclass(slots=True)
class Mention:
    """One entity mention in an article's text (character offsets into Article.text)."""

    text: str
    label: str
    start: int
    end: int
    sentence: str
    canonical: str  # canonical name: the watch-list name or the normalised surface form
    watched: bool = False  # resolved to a watch-list entity


@dataclass(slots=True)
class Money:
    amount: float
    currency: str | None  # ISO 4217 where known


@dataclass(slots=True)
class Event:
    """A structured fact: who did what to whom, how much, when."""

    type: EventType
    trigger: str
    sentence: str
    start: int  # sentence span in the article text
    end: int
    actor: str | None = None
    target: str | None = None
    amount: float | None = None
    currency: str | None = None
    date: str | None = None  # ISO date or range "2021-05-01/2021-05-31"
    legal_basis: str | None = None
    confidence: float = 0.5


@dataclass(slots=True)
class Analysis:
    """The NLP stage's output for one article."""

    mentions: list[Mention]
    events: list[Event] = field(default_factory=list)


@dataclass(slots=True)
class MatchReason:
    """Why a rule fired: what matched and the sentence that says so."""

    kind: str  # "entity", "type", "query", "event"
    value: str
    sentence: str


@dataclass(slots=True)
class Match:
    rule: str
    article_id: int
    story_id: int
    reasons: list[MatchReason]
    id: int | None = None
    created_at: datetime | None = None


@dataclass(slots=True)
class Notification:
    channel: str
    title: str
    body: str
    key: str  # idempotency key: (rule, story, channel, version)
    body_format: str = "markdown"  # apprise NotifyFormat: text, markdown or html
    status: NotificationStatus = NotificationStatus.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    sent_at: datetime | None = None
    match_id: int | None = None
    id: int | None = None


@dataclass(slots=True)
class SearchHit:
    article_id: int
    title: str | None
    source: str
    url: str
    published_at: datetime | None
    snippet: str
    story_id: int | None = None
    score: float | None = None
    sources: int = 1  # distinct sources carrying the story


@dataclass(slots=True)
class SourceState:
    """Per-source crawl state kept in the database between runs."""

    name: str
    etag: str | None = None
    last_modified: str | None = None
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    failures: int = 0
    last_error: str | None = None


@dataclass(slots=True)
class SavedArticle:
    """What `save_article` did: a new article, or an existing one the page duplicates."""

    article_id: int
    created: bool
    story_id: int | None = None
