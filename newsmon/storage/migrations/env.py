"""Alembic environment: run with a connection handed over by newsmon.storage.migrate."""

from __future__ import annotations

from alembic import context

from newsmon.storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via newsmon.storage.migrate
    raise RuntimeError("run migrations with `newsmon db upgrade`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
