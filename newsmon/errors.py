"""Exceptions that the CLI maps to exit codes (see newsmon.cli)."""

from __future__ import annotations


class NewsmonError(Exception):
    """A failure the user should read as one line; exit code 1."""

    exit_code = 1


class ConfigError(NewsmonError):
    """Wrong configuration or usage; exit code 2."""

    exit_code = 2


class LockHeld(NewsmonError):
    """Another run holds the lock."""

    exit_code = 1


class DatabaseError(NewsmonError):
    """The database cannot be reached or is not migrated."""

    exit_code = 1


class QuerySyntaxError(NewsmonError):
    """A boolean query could not be parsed; `position` is 1-based."""

    exit_code = 2

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"bad query at position {position}: {message}")
        self.position = position
