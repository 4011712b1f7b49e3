"""The CLI edge: exit codes, one-line errors, init, schedule, the run lock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsmon.cli import cli
from newsmon.pipeline import run_lock


def invoke(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_init_writes_config_and_database(tmp_path: Path) -> None:
    config = tmp_path / "newsmon.yaml"
    db = tmp_path / "n.db"
    code, _, err = invoke("--database", f"sqlite:///{db}", "init", "--path", str(config))
    assert code == 0, err
    assert "watchlist:" in config.read_text() and db.exists()
    code, _, err = invoke("init", "--path", str(config))
    assert code == 2 and "exists; pass --force" in err


def test_wrong_config_key_exits_2_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("crawl: {timout: 5}\n")
    code, out, err = invoke("--config", str(config), "run")
    assert code == 2
    assert err.strip() == f"Error: {config}: crawl.timout: unknown key"
    assert out == ""


def test_invalid_rule_stops_run_with_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "newsmon.yaml"
    config.write_text(f"database: sqlite:///{tmp_path / 'n.db'}\nrules: [{{name: r, events: [FINED]}}]\n")
    code, _, err = invoke("--config", str(config), "run")
    assert code == 2 and "FINED" in err


def test_second_run_exits_at_once_when_lock_is_held(tmp_path: Path) -> None:
    config = tmp_path / "newsmon.yaml"
    db = tmp_path / "n.db"
    config.write_text(f"database: sqlite:///{db}\n")
    with run_lock(Path(f"{db}.lock")):
        # a real second process, as cron would start it
        proc = subprocess.run([sys.executable, "-m", "newsmon", "--config", str(config), "run"],
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "another newsmon run holds the lock" in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_bad_search_query_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = invoke("--database", f"sqlite:///{tmp_path / 'n.db'}", "search", "(Twitter AND")
    assert code == 2 and "bad query at position" in err


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    code, _, err = invoke("--database", "postgresql+psycopg://nobody@127.0.0.1:1/x", "search", "Twitter")
    assert code == 1 and err.startswith("Error: cannot connect to database") and err.count("\n") == 1


def test_schedule_prints_a_working_cron_line(tmp_path: Path) -> None:
    code, out, _ = invoke("--config", str(tmp_path / "newsmon.yaml"), "schedule", "--every", "15m")
    assert code == 0
    line = out.strip()
    assert line.startswith("*/15 * * * * cd ") and "flock -n" in line and "timeout 1800" in line
    assert f"--config {tmp_path / 'newsmon.yaml'} run" in line and ">> " in line


COMMANDS = ["init", "run", "crawl", "enrich", "alert", "deliver", "search", "extract", "analyze",
            "demo", "schedule"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    code, out, _ = invoke(command, "--help")
    assert code == 0 and "Usage:" in out and len(out.splitlines()) > 4
