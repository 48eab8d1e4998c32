"""The `play_days` table (daily totals of retired plays) and indexes for the panel's reads
(issue 14, docs/design.md "Storage").

`play_days`: one row per local day, loudspeaker, message ('' for none) and kind with plays,
played to the end, urgent plays and seconds; the `retire-plays` job fills it from plays older
than `retention.plays_days` as it deletes them. Starts empty: the plays already stored are
kept plays until the job retires them. Indexes: `audit_log (action, seq)` for the audit page
filtered by action (newest first) and `play_log (clip) WHERE kind = 'live'` for the live
pages' outcomes. The downgrade drops the indexes and the table: the totals of plays retired
before it are lost with it (the older schema has no place for them).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 10:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("kind = 'live'")


def upgrade() -> None:
    op.create_table(
        "play_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("speaker_id", sa.String(100), nullable=False),
        sa.Column("message_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("plays", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("urgent", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "speaker_id", "message_id", "kind", name=op.f("pk_play_days")
        ),
    )
    op.create_index("ix_play_days_speaker_day", "play_days", ["speaker_id", "day"])
    op.create_index("ix_audit_log_action_seq", "audit_log", ["action", "seq"])
    op.create_index(
        "ix_play_log_live_clip",
        "play_log",
        ["clip"],
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )


def downgrade() -> None:
    op.drop_index("ix_play_log_live_clip", table_name="play_log")
    op.drop_index("ix_audit_log_action_seq", table_name="audit_log")
    op.drop_index("ix_play_days_speaker_day", table_name="play_days")
    op.drop_table("play_days")
