"""Alembic environment: runs on the connection `broadcaster.store.migrate` passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from broadcaster.store.schema import metadata

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("run migrations through broadcaster.store.migrate.upgrade()")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        # SQLite can only change most table definitions by copying the table.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
