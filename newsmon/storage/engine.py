"""Engines for SQLite (WAL, busy timeout, foreign keys) and PostgreSQL, with one-line errors."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.exc import DatabaseError as SADatabaseError

from newsmon.config import mask_secrets
from newsmon.errors import ConfigError, DatabaseError


def create_db_engine(url: str) -> Engine:
    """An engine for `url`; raises ConfigError for a malformed URL."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"database: not a database URL: {mask_secrets(url)!r}") from None
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3 is what we install
    return create_engine(parsed, pool_pre_ping=True, connect_args=_pg_args(parsed.get_backend_name()))


def _pg_args(backend: str) -> dict[str, Any]:
    return {"connect_timeout": 10} if backend == "postgresql" else {}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache: search and counts stay in memory
    cursor.execute("PRAGMA mmap_size=268435456")
    cursor.close()


def check_connection(engine: Engine) -> None:
    """Raise DatabaseError with one line if the database cannot be reached."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except (OperationalError, SADatabaseError) as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc).splitlines()[0]
        where = mask_secrets(engine.url.render_as_string(hide_password=True))
        raise DatabaseError(f"cannot connect to database {where}: {reason}") from None
