"""The CLI edge: exit codes, one-line errors, init, schedule, the run lock."""

from __future__ import annotations

import os
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
                              check=False, capture_output=True, text=True, timeout=60)
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


FAKE_CRONTAB = """#!/bin/sh
# stands in for cron's crontab(1): -l prints $CRONTAB_FILE, - replaces it with stdin
if [ "$1" = "-l" ]; then
  [ -f "$CRONTAB_FILE" ] || { echo "no crontab for $(id -un)" >&2; exit 1; }
  cat "$CRONTAB_FILE"
else
  cat > "$CRONTAB_FILE"
fi
"""


@pytest.fixture
def fake_crontab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "crontab"
    script.write_text(FAKE_CRONTAB)
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("CRONTAB_FILE", str(tmp_path / "crontab.txt"))
    return tmp_path / "crontab.txt"


def test_schedule_install_appends_once_keeping_other_entries(tmp_path: Path, fake_crontab: Path) -> None:
    fake_crontab.write_text("MAILTO=ops@example.org\n0 3 * * * /usr/local/bin/backup")  # no final newline
    args = ("--config", str(tmp_path / "newsmon.yaml"), "schedule", "--every", "15m", "--install")
    code, out, err = invoke(*args)
    assert code == 0 and err == "added to your crontab\n"
    line = out.strip()
    assert fake_crontab.read_text() == f"MAILTO=ops@example.org\n0 3 * * * /usr/local/bin/backup\n{line}\n"
    code, out, err = invoke(*args)
    assert code == 0 and err == "already in your crontab\n" and out.strip() == line
    assert fake_crontab.read_text().splitlines().count(line) == 1


def test_schedule_install_starts_an_empty_crontab(tmp_path: Path, fake_crontab: Path) -> None:
    code, out, _ = invoke("--config", str(tmp_path / "newsmon.yaml"), "schedule", "--install")
    assert code == 0 and fake_crontab.read_text() == out


def test_schedule_install_without_cron_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    code, out, err = invoke("--config", str(tmp_path / "newsmon.yaml"), "schedule", "--install")
    assert code == 1 and out.startswith("*/15 * * * * ")  # the line is still printed for copying
    assert err == ("Error: crontab not found: install cron, or run `newsmon run --every 15m` under a "
                   "service manager\n")


def test_schedule_install_never_overwrites_an_unreadable_crontab(tmp_path: Path, fake_crontab: Path) -> None:
    script = tmp_path / "bin" / "crontab"
    script.write_text("#!/bin/sh\necho 'crontab: cannot open spool' >&2\nexit 1\n")
    code, _, err = invoke("--config", str(tmp_path / "newsmon.yaml"), "schedule", "--install")
    assert code == 1 and err == "Error: crontab -l failed: crontab: cannot open spool\n"
    assert not fake_crontab.exists()


@pytest.mark.parametrize(("argv0", "expected"), [
    ("console-script", "{script}"),
    ("/usr/lib/python3/dist-packages/pytest", "{python} -m newsmon"),
])
def test_cron_command_is_an_absolute_newsmon(tmp_path: Path, argv0: str, expected: str) -> None:
    from newsmon.setup import newsmon_command

    script = tmp_path / "venv" / "bin" / "newsmon"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    given = str(script) if argv0 == "console-script" else argv0
    assert newsmon_command(given) == expected.format(script=script, python=sys.executable)


def test_run_stays_quiet_without_a_terminal(tmp_path: Path) -> None:
    config = tmp_path / "newsmon.yaml"
    config.write_text(f"database: sqlite:///{tmp_path / 'n.db'}\n")
    proc = subprocess.run([sys.executable, "-m", "newsmon", "--config", str(config), "db", "upgrade"],
                          check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([sys.executable, "-m", "newsmon", "--quiet", "--config", str(config), "run",
                           "--no-crawl"], check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stderr and "⠋" not in proc.stderr  # no spinner frames in a cron log


COMMANDS = ["init", "run", "crawl", "enrich", "alert", "deliver", "search", "extract", "analyze",
            "demo", "schedule", "doctor"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    code, out, _ = invoke(command, "--help")
    assert code == 0 and "Usage:" in out and len(out.splitlines()) > 4


def _stderr_on_a_terminal(*args: str) -> str:
    import pty

    leader, follower = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "newsmon", *args], stdout=subprocess.PIPE, stderr=follower,
                              check=False, timeout=120, env={**os.environ, "TERM": "xterm"})
    finally:
        os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal's other end is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.returncode == 0
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.parametrize(("quiet", "shown"), [((), True), (("--quiet",), False)])
def test_enrich_shows_a_spinner_on_a_terminal_unless_quiet(tmp_path: Path, quiet: tuple[str, ...],
                                                           shown: bool) -> None:
    database = f"sqlite:///{tmp_path / 'n.db'}"
    assert invoke("--database", database, "db", "upgrade")[0] == 0
    err = _stderr_on_a_terminal(*quiet, "--database", database, "enrich")
    assert ("newsmon enrich: finding entities and events" in err) is shown
