"""Source scheduling and health on both back ends: due sources, one notice per failure streak."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from newsmon.cli import cli
from newsmon.config import Config
from newsmon.health import due_sources, queue_health_notifications, source_health
from newsmon.records import NotificationStatus
from newsmon.storage.repository import Repository
from tests.test_storage import make_article

NOW = datetime.now(timezone.utc)


def config(**extra: object) -> Config:
    return Config.model_validate({
        "sources": [{"name": "fast", "url": "https://a.example/feed", "poll_interval": "15m"},
                    {"name": "slow", "url": "https://b.example/feed", "poll_interval": "6h"}],
        "channels": {"ops": "json://127.0.0.1:9/x"}, "health": {"failures": 2, "notify": ["ops"]}, **extra})


def test_due_sources_follow_poll_intervals(repo: Repository) -> None:
    cfg = config()
    assert due_sources(cfg, repo, NOW) == ["fast", "slow"]  # never polled
    for name in ("fast", "slow"):
        repo.record_source_result(name, ok=True, when=NOW - timedelta(minutes=14, seconds=30))
    assert due_sources(cfg, repo, NOW) == ["fast"]  # within the slack of its 15 minutes
    assert due_sources(cfg, repo, NOW + timedelta(hours=6)) == ["fast", "slow"]


def _poll(repo: Repository, cfg: Config, ok: bool) -> int:
    before = {"fast": repo.get_source_state("fast")}
    repo.record_source_result("fast", ok=ok, error=None if ok else "HTTP 503")
    return queue_health_notifications(cfg, repo, before)


def test_one_failing_notice_per_streak_and_one_recovery(repo: Repository) -> None:
    cfg = config()
    repo.record_source_result("fast", ok=True)
    assert [_poll(repo, cfg, ok=False) for _ in range(5)] == [0, 1, 0, 0, 0]
    assert _poll(repo, cfg, ok=True) == 1
    assert _poll(repo, cfg, ok=True) == 0
    titles = [n.title for n in repo.list_notifications(NotificationStatus.PENDING)]
    assert sorted(titles) == ["[newsmon] source fast is failing", "[newsmon] source fast recovered"]
    assert [_poll(repo, cfg, ok=False) for _ in range(2)] == [0, 1]  # a new streak, a new notice


def test_source_health_counts_and_field_shares(repo: Repository) -> None:
    repo.save_article(make_article(1, source="fast", fetched_at=NOW, authors=["Jane Doe"]))
    repo.save_article(make_article(2, source="fast", fetched_at=NOW - timedelta(days=3), published_at=None))
    repo.record_source_result("fast", ok=False, error="timeout")
    [fast, slow] = source_health(config(), repo, NOW)
    assert (fast.articles_24h, fast.articles_7d, fast.failures, fast.last_error) == (1, 2, 1, "timeout")
    assert (fast.with_title, fast.with_date, fast.with_author) == (1.0, 0.5, 0.5)
    assert (slow.articles_7d, slow.with_title) == (0, None)


def test_sources_command_prints_health(tmp_path: Path, sqlite_url: str) -> None:
    path = tmp_path / "newsmon.yaml"
    path.write_text(yaml.safe_dump({"database": sqlite_url, "sources": [
        {"name": "fast", "url": "https://a.example/feed"}]}))
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(path), "db", "upgrade"]).exit_code == 0
    result = runner.invoke(cli, ["--config", str(path), "sources", "--json"])
    assert result.exit_code == 0, result.stderr
    [row] = yaml.safe_load(result.stdout)
    assert (row["name"], row["due"], row["failures"], row["articles_7d"]) == ("fast", True, 0, 0)


def test_unknown_health_channel_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="health.notify: unknown channel 'pager'"):
        Config.model_validate({"health": {"notify": ["pager"]}})
