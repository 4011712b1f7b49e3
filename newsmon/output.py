"""One way to print rows: a table for people, --json / --jsonl / --csv for scripts.

Data goes to stdout; notes (such as "no results") go to stderr.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("table", "json", "jsonl", "csv")


def output_options(func: F) -> F:
    """Add --json, --jsonl and --csv to a listing command (passed on as `fmt`)."""
    for flag in ("csv", "jsonl", "json"):
        func = click.option(f"--{flag}", "fmt", flag_value=flag, help=f"Print {flag.upper()} for scripts.")(func)
    return click.option("--table", "fmt", flag_value="table", default=True, hidden=True)(func)  # type: ignore[return-value]


def to_jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def render_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str,
                title: str | None = None, empty: str = "no results") -> None:
    """Print `rows` (each with at least `columns`) in the chosen format."""
    if not rows and fmt == "table":
        click.echo(empty, err=True)
        return
    if fmt == "json":
        click.echo(json.dumps([to_jsonable(r) for r in rows], ensure_ascii=False, indent=2))
    elif fmt == "jsonl":
        for row in rows:
            click.echo(json.dumps(to_jsonable(row), ensure_ascii=False))
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _cell(row.get(c)) for c in columns})
    else:
        _table(rows, columns, title)
    if not rows:
        click.echo(empty, err=True)


def _cell(value: Any) -> str:
    value = to_jsonable(value)
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(column.replace("_", " "), overflow="fold")
    for row in rows:
        table.add_row(*[_markdown_bold(escape(_cell(row.get(c)))) for c in columns])
    Console(soft_wrap=False).print(table)


def _markdown_bold(text: str) -> str:
    """Show **matched** words in bold in a terminal table."""
    parts = text.split("**")
    return "".join(f"[bold yellow]{p}[/]" if i % 2 else p for i, p in enumerate(parts))


def print_json(obj: Any) -> None:
    click.echo(json.dumps(to_jsonable(obj), ensure_ascii=False, indent=2))
