"""Owners of messages and programs, users' session generation and display name: columns.

Who owns a message or a program was a JSON object in `meta` under `panel.owners`
(`{"message:<id>": "<area id>", ...}`) and each user's session generation a `meta` key
`sessions:<name>`. They become columns: `messages.owner_area_id` and
`programs.owner_area_id` (None: district-wide; a foreign key to `areas`, ON DELETE RESTRICT:
an area that owns something cannot be deleted), `users.session_generation` ('' until the
first sign-out everywhere, as the missing key read before) and the new
`users.display_name` (up to 40 characters, None: the login name).

Upgrade: the blob's entries go into the columns and the keys leave `meta`. An entry whose
message or program no longer exists is dropped (it named nothing); one whose area no longer
exists (an area deleted before areas were checked for owned objects) leaves the object
district-wide, and says so in a warning. Generations of users that no longer exist are
dropped. Downgrade: the columns go back into the same `meta` keys (the blob written as the
old code wrote it), then the columns are dropped; display names are lost.

Batch mode on SQLite (the tables are copied: `migrate` keeps foreign keys off meanwhile and
checks them before the commit); PostgreSQL alters in place.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger(__name__)

OWNERS_KEY = "panel.owners"
SESSIONS_PREFIX = "sessions:"
_TABLES = {"message": "messages", "program": "programs"}

_meta = sa.table("meta", sa.column("key", sa.String), sa.column("value", sa.Text))
_users = sa.table("users", sa.column("name", sa.String), sa.column("session_generation", sa.String))
_owned = {
    kind: sa.table(table, sa.column("id", sa.String), sa.column("owner_area_id", sa.String))
    for kind, table in _TABLES.items()
}


def upgrade() -> None:
    for table in _TABLES.values():
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("owner_area_id", sa.String(100), nullable=True))
            batch.create_index(op.f(f"ix_{table}_owner_area_id"), ["owner_area_id"])
            batch.create_foreign_key(
                op.f(f"fk_{table}_owner_area_id_areas"),
                "areas",
                ["owner_area_id"],
                ["id"],
                ondelete="RESTRICT",
            )
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("session_generation", sa.String(32), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("display_name", sa.String(40), nullable=True))
    conn = op.get_bind()
    _owners_to_columns(conn)
    _sessions_to_column(conn)


def _owners_to_columns(conn: sa.Connection) -> None:
    raw = conn.execute(sa.select(_meta.c.value).where(_meta.c.key == OWNERS_KEY)).scalar()
    try:
        owners = json.loads(raw) if raw else {}
    except ValueError:
        owners = None
    if not isinstance(owners, dict):
        log.warning("meta %s is not a JSON object: every message and program is district-wide",
                    OWNERS_KEY)  # fmt: skip
        owners = {}
    areas = set(conn.execute(sa.text("SELECT id FROM areas")).scalars())
    for key, area in sorted(owners.items()):
        kind, _sep, object_id = str(key).partition(":")
        table = _owned.get(kind)
        if table is None:
            log.warning("meta %s: %r is not a message or a program: dropped", OWNERS_KEY, key)
            continue
        if area not in areas:
            log.warning("%s %r was owned by area %r, which no longer exists: now district-wide",
                        kind, object_id, area)  # fmt: skip
            continue
        conn.execute(
            sa.update(table).where(table.c.id == object_id).values(owner_area_id=str(area))
        )
    conn.execute(sa.delete(_meta).where(_meta.c.key == OWNERS_KEY))


def _sessions_to_column(conn: sa.Connection) -> None:
    keys = _meta.c.key.startswith(SESSIONS_PREFIX, autoescape=True)
    for key, value in conn.execute(sa.select(_meta.c.key, _meta.c.value).where(keys)).all():
        name = key[len(SESSIONS_PREFIX) :]
        conn.execute(
            sa.update(_users).where(_users.c.name == name).values(session_generation=value[:32])
        )
    conn.execute(sa.delete(_meta).where(keys))


def downgrade() -> None:
    conn = op.get_bind()
    sessions = _meta.c.key.startswith(SESSIONS_PREFIX, autoescape=True)
    conn.execute(sa.delete(_meta).where((_meta.c.key == OWNERS_KEY) | sessions))
    owners: dict[str, str] = {}
    for kind, table in _owned.items():
        rows = conn.execute(
            sa.select(table.c.id, table.c.owner_area_id).where(table.c.owner_area_id.is_not(None))
        )
        owners.update({f"{kind}:{object_id}": area for object_id, area in rows})
    if owners:
        conn.execute(
            sa.insert(_meta).values(key=OWNERS_KEY, value=json.dumps(owners, sort_keys=True))
        )
    generations = conn.execute(
        sa.select(_users.c.name, _users.c.session_generation).where(
            _users.c.session_generation != ""
        )
    ).all()
    if generations:
        conn.execute(
            sa.insert(_meta),
            [{"key": SESSIONS_PREFIX + name, "value": value} for name, value in generations],
        )
    with op.batch_alter_table("users") as batch:
        batch.drop_column("display_name")
        batch.drop_column("session_generation")
    for name in reversed(_TABLES.values()):
        with op.batch_alter_table(name) as batch:
            batch.drop_constraint(op.f(f"fk_{name}_owner_area_id_areas"), type_="foreignkey")
            batch.drop_index(op.f(f"ix_{name}_owner_area_id"))
            batch.drop_column("owner_area_id")
