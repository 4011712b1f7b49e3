"""First-run helpers: the starter configuration, a crontab line, and installing it."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from newsmon.errors import ConfigError, NewsmonError

STARTER = Path(__file__).parent / "templates" / "newsmon.yaml"
NO_CRONTAB = "crontab not found: install cron, or run `newsmon run --every 15m` under a service manager"


def write_starter_config(path: Path, force: bool = False) -> None:
    if path.exists() and not force:
        raise ConfigError(f"{path} exists; pass --force to overwrite it")
    path.write_text(STARTER.read_text(encoding="utf-8"), encoding="utf-8")


def newsmon_command(argv0: str | None = None) -> str:
    """How cron should start this newsmon: the running console script by absolute path, else
    this interpreter with ``-m newsmon`` (cron's PATH is minimal and has no virtualenv)."""
    script = Path(sys.argv[0] if argv0 is None else argv0)
    if script.name == "newsmon" and script.is_file():
        return shlex.quote(str(script.resolve()))
    return f"{shlex.quote(sys.executable)} -m newsmon"


def cron_line(every_seconds: float, timeout_seconds: float, config_path: str | None,
              command: str | None = None) -> str:
    """A crontab line: absolute paths, flock so runs never overlap, a timeout and a log file."""
    minutes = max(1, round(every_seconds / 60))
    when = f"*/{minutes} * * * *" if minutes < 60 else f"0 */{max(1, minutes // 60)} * * *"
    newsmon = command or newsmon_command()
    config = Path(config_path or "newsmon.yaml").resolve()
    workdir = config.parent
    lock = workdir / "newsmon.cron.lock"
    log = workdir / "newsmon.log"
    command = (f"cd {shlex.quote(str(workdir))} && flock -n {shlex.quote(str(lock))} "
               f"timeout {int(timeout_seconds)} {newsmon} --quiet --config {shlex.quote(str(config))} run "
               f">> {shlex.quote(str(log))} 2>&1")
    return f"{when} {command}"


def install_cron_line(line: str) -> bool:
    """Append `line` to the user's crontab unless it is there already; True if it was added.

    Raises NewsmonError (one line) when `crontab` is missing (a fresh Debian has no cron) or fails.
    """
    crontab = shutil.which("crontab")
    if crontab is None:
        raise NewsmonError(NO_CRONTAB)
    current = subprocess.run([crontab, "-l"], check=False, capture_output=True, text=True, timeout=30)
    # `crontab -l` exits 1 with "no crontab for USER" when the user has none yet; any other
    # failure must stop us, or `crontab -` would replace the user's crontab with our one line
    if current.returncode != 0 and "no crontab" not in current.stderr:
        raise NewsmonError(f"crontab -l failed: {_first_line(current.stderr, current.returncode)}")
    existing = current.stdout if current.returncode == 0 else ""
    if line.strip() in (entry.strip() for entry in existing.splitlines()):
        return False
    new = existing + ("" if not existing or existing.endswith("\n") else "\n") + line + "\n"
    result = subprocess.run([crontab, "-"], check=False, input=new, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise NewsmonError(f"crontab - failed: {_first_line(result.stderr, result.returncode)}")
    return True


def _first_line(stderr: str, code: int) -> str:
    return (stderr.strip().splitlines() or [f"exit status {code}"])[0]
