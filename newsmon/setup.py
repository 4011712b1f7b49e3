"""First-run helpers: the starter configuration and a crontab line."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

from newsmon.errors import ConfigError

STARTER = Path(__file__).parent / "templates" / "newsmon.yaml"


def write_starter_config(path: Path, force: bool = False) -> None:
    if path.exists() and not force:
        raise ConfigError(f"{path} exists; pass --force to overwrite it")
    path.write_text(STARTER.read_text(encoding="utf-8"), encoding="utf-8")


def cron_line(every_seconds: float, timeout_seconds: float, config_path: str | None) -> str:
    """A crontab line: absolute paths, flock so runs never overlap, a timeout and a log file."""
    minutes = max(1, round(every_seconds / 60))
    when = f"*/{minutes} * * * *" if minutes < 60 else f"0 */{max(1, minutes // 60)} * * *"
    newsmon = shutil.which("newsmon") or f"{sys.executable} -m newsmon"
    config = Path(config_path or "newsmon.yaml").resolve()
    workdir = config.parent
    lock = workdir / "newsmon.cron.lock"
    log = workdir / "newsmon.log"
    command = (f"cd {shlex.quote(str(workdir))} && flock -n {shlex.quote(str(lock))} "
               f"timeout {int(timeout_seconds)} {newsmon} --quiet --config {shlex.quote(str(config))} run "
               f">> {shlex.quote(str(log))} 2>&1")
    return f"{when} {command}"
