"""Shapes and positions (issue 13): areas' polygons, fixed loudspeakers' locations, quiet
zones, messages bound to areas, and each speaker's latest GPS fix.

- `areas.polygon` (JSON, None: no shape) and `speakers.lat`/`speakers.lon` (both or
  neither: where a fixed loudspeaker stands) are new nullable columns;
- `quiet_zones` (id, name, polygon, hours, action 'mute' or 'volume' with a volume) and
  `message_areas` (a message's areas, in order) are new tables;
- `speaker_status.fix_lat/fix_lon/fix_at/fix_speed/fix_heading`: the latest fix a
  heartbeat carried.

Every column is added as nullable (SQLite's ALTER TABLE ADD COLUMN: no table is copied).
Downgrade drops them and the two tables: shapes, zones, bindings and fixes are lost, nothing
else changes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from broadcaster.store.coltypes import UtcDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FIX = ("fix_lat", "fix_lon", "fix_at", "fix_speed", "fix_heading")


def upgrade() -> None:
    with op.batch_alter_table("areas") as batch:
        batch.add_column(sa.Column("polygon", sa.JSON(none_as_null=True), nullable=True))
    with op.batch_alter_table("speakers") as batch:
        batch.add_column(sa.Column("lat", sa.Float(), nullable=True))
        batch.add_column(sa.Column("lon", sa.Float(), nullable=True))
    with op.batch_alter_table("speaker_status") as batch:
        for name in _FIX:
            kind = UtcDateTime() if name == "fix_at" else sa.Float()
            batch.add_column(sa.Column(name, kind, nullable=True))
    op.create_table(
        "quiet_zones",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("polygon", sa.JSON(), nullable=False),
        sa.Column("hours", sa.JSON(), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("volume", sa.Integer(), nullable=True),
        sa.CheckConstraint("action IN ('mute', 'volume')", name=op.f("ck_quiet_zones_action")),
        sa.CheckConstraint(
            "(action = 'mute' AND volume IS NULL) OR "
            "(action = 'volume' AND volume BETWEEN 0 AND 100)",
            name=op.f("ck_quiet_zones_volume"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quiet_zones")),
    )
    op.create_table(
        "message_areas",
        sa.Column("message_id", sa.String(100), nullable=False),
        sa.Column("area_id", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_areas_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["area_id"],
            ["areas.id"],
            name=op.f("fk_message_areas_area_id_areas"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("message_id", "area_id", name=op.f("pk_message_areas")),
    )
    op.create_index(op.f("ix_message_areas_area_id"), "message_areas", ["area_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_message_areas_area_id"), table_name="message_areas")
    op.drop_table("message_areas")
    op.drop_table("quiet_zones")
    with op.batch_alter_table("speaker_status") as batch:
        for name in reversed(_FIX):
            batch.drop_column(name)
    with op.batch_alter_table("speakers") as batch:
        batch.drop_column("lon")
        batch.drop_column("lat")
    with op.batch_alter_table("areas") as batch:
        batch.drop_column("polygon")
