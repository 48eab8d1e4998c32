"""Alembic migrations, run in code: no alembic.ini is needed at run time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from broadcaster.store.engine import WRITE_OPTION
from broadcaster.store.schema import metadata

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any constant: serializes concurrent upgrades of one PostgreSQL database.
_PG_LOCK_KEY = 0x62726F6164  # "broad"


def alembic_config() -> Config:
    """An Alembic configuration pointing at the package's migration scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest revision in `migrations/versions`."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migration scripts found")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None if Alembic never ran on it)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to `revision` in one transaction; safe when two processes start."""
    config = alembic_config()
    with engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            config.attributes["connection"] = conn
            command.upgrade(config, revision)


def schema_differences(engine: Engine) -> list[Any]:
    """What differs between the database and the ORM metadata (empty when in sync)."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))
