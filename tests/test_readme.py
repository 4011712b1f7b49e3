"""The README is tested: its session runs offline against the demo database and prints what the
README shows, and every command has help with an example and appears in the README."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import newsmon.demo
from newsmon.cli import cli

README = Path(__file__).resolve().parent.parent / "README.md"
DEMO_PAGE = Path(newsmon.demo.__file__).parent / "site" / "articles" / "putin-twitter-office.html"
ARTICLE = ("President Vladimir Putin signed a law on Thursday. Roskomnadzor, Russia's communications "
           "regulator, said Russia slowed down Twitter in May.")


@dataclass(slots=True)
class Step:
    argv: list[str]
    expected: list[str] = field(default_factory=list)


def console_blocks(text: str, section: str) -> list[str]:
    """The ```console blocks of one `## section` of the README."""
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```console\n(.*?)```", body, flags=re.DOTALL)


def parse_steps(block: str) -> list[Step]:
    """`$ command  # comment` lines and the output lines under each."""
    steps: list[Step] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append(Step(shlex.split(line[2:], comments=True)))
        elif steps:
            steps[-1].expected.append(line)
    return steps


def _normalise(line: str) -> str:
    return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", line.rstrip())


def assert_shows(expected: list[str], output: str) -> None:
    """Each README line is printed as is; `text...` is a line starting with text; `...` skips."""
    actual = [_normalise(line) for line in output.splitlines()]
    for line in map(_normalise, expected):
        if line == "...":
            continue
        if line.endswith("..."):
            assert any(a.startswith(line[:-3]) for a in actual), f"no line starts with {line[:-3]!r}:\n{output}"
        else:
            assert line in actual, f"{line!r} not printed:\n{output}"


def command_for(argv: list[str]) -> list[str] | None:
    """How the test runs a README command: `make demo` is `newsmon demo` on any free port."""
    if argv == ["make", "demo"]:
        return [sys.executable, "-m", "newsmon", "demo", "--port", "0"]
    if argv[0] == "newsmon":
        return [sys.executable, "-m", "newsmon", *argv[1:]]
    assert argv[0] == ".", f"unexpected command in the README session: {argv}"
    return None  # activating the virtualenv: the test already runs in it


def test_session_steps_are_parsed() -> None:
    block = console_blocks(README.read_text(), "A short session")[0]
    steps = parse_steps(block)
    assert [s.argv[:2] for s in steps[:5]] == [["make", "demo"], [".", ".venv/bin/activate"],
                                               ["newsmon", "search"], ["newsmon", "entity"], ["newsmon", "init"]]
    assert ["newsmon", "rules", "test", "russian-regulator", "--since", "520w"] in [s.argv for s in steps]


@pytest.mark.slow
def test_readme_session_runs_offline(tmp_path: Path) -> None:
    (tmp_path / "article.txt").write_text(ARTICLE)
    (tmp_path / "page.html").write_text(DEMO_PAGE.read_text().replace("{{BASE_URL}}", "https://example.org"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSMON_")} | {"COLUMNS": "200"}
    block = console_blocks(README.read_text(), "A short session")[0]
    for step in parse_steps(block):
        command = command_for(step.argv)
        if command is None:
            continue
        proc = subprocess.run(command, check=False, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
        assert proc.returncode == 0, f"{shlex.join(step.argv)}: {proc.stderr}"
        assert_shows(step.expected, proc.stdout + proc.stderr)


def all_commands(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        found.append(((*prefix, name), command))
        if isinstance(command, click.Group):
            found += all_commands(command, (*prefix, name))
    return found


COMMANDS = all_commands()
LEAVES = [(path, c) for path, c in COMMANDS if not isinstance(c, click.Group)]
GROUPS = [(path, c) for path, c in COMMANDS if isinstance(c, click.Group)]
# help texts in files outside this change; add an example there, then drop the entry
WITHOUT_EXAMPLE: dict[tuple[str, ...], str] = {}  # commands allowed to lack an example (none)


def _help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("path", [
    pytest.param(path, marks=pytest.mark.xfail(reason=WITHOUT_EXAMPLE[path], strict=True))
    if path in WITHOUT_EXAMPLE else path for path, _ in LEAVES], ids=" ".join)
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    text = _help(path)
    assert "Usage:" in text and "Example" in text


@pytest.mark.parametrize("path", [path for path, _ in GROUPS], ids=" ".join)
def test_every_group_lists_its_subcommands(path: tuple[str, ...]) -> None:
    group = dict(COMMANDS)[path]
    assert isinstance(group, click.Group)
    text = _help(path)
    assert all(name in text for name in group.commands)


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS], ids=" ".join)
def test_every_command_is_in_the_readme(path: tuple[str, ...]) -> None:
    assert f"newsmon {' '.join(path)}" in README.read_text()
