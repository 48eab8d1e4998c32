"""The `live_pages` table: each live page kept (issue 12, docs/live-paging.md "Kept").

Who paged which speakers when, how the page ended for each of them, and the clip it was kept
as. The downgrade drops the table (the kept WAV files stay under the data folder).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from broadcaster.store.coltypes import UtcDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_pages",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("by_name", sa.Text(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("ended_at", UtcDateTime(), nullable=True),
        sa.Column("ended_reason", sa.Text(), nullable=True),
        sa.Column("override_window", sa.Boolean(), nullable=False),
        sa.Column("take_over", sa.Boolean(), nullable=False),
        sa.Column("speaker_ids", sa.JSON(), nullable=False),
        sa.Column("area_ids", sa.JSON(), nullable=False),
        sa.Column("targets", sa.JSON(), nullable=False),
        sa.Column("recording", sa.Text(), nullable=True),
        sa.Column("clip_key", sa.String(128), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_pages")),
    )
    op.create_index(op.f("ix_live_pages_started_at"), "live_pages", ["started_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_live_pages_started_at"), table_name="live_pages")
    op.drop_table("live_pages")
