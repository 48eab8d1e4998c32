"""The `track_points` table: the vehicles' journaled GPS tracks (issue 13, docs/device-api.md).

One row per point a vehicle uploaded, keyed by (speaker_id, id): the id is the client's own,
so a resent batch is recognised and two vehicles may use the same ids. Indexed by
(speaker_id, at) for a vehicle's track of a day (the map, route progress, the coverage
report) and by `at` for pruning old points. History: plain speaker ids, no foreign key (a
deleted vehicle's track stays readable). The downgrade drops the table and its points.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 10:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from broadcaster.store.coltypes import UtcDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "track_points",
        sa.Column("speaker_id", sa.String(100), nullable=False),
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("speed", sa.Float(), nullable=True),
        sa.Column("heading", sa.Float(), nullable=True),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("speaker_id", "id", name=op.f("pk_track_points")),
    )
    op.create_index("ix_track_points_speaker_at", "track_points", ["speaker_id", "at"])
    op.create_index(op.f("ix_track_points_at"), "track_points", ["at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_track_points_at"), table_name="track_points")
    op.drop_index("ix_track_points_speaker_at", table_name="track_points")
    op.drop_table("track_points")
