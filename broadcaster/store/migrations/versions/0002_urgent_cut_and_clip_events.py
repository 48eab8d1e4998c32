"""Urgent announcements heard in part: `urgent_acks.cut_at`; the `urgent_clip` event kind.

A speaker acknowledges `cut` when a cancel, the expiry or a stop ended an urgent before it
was heard whole. The server sends an urgent event before its speech is rendered and an
`urgent_clip` event when the clip is ready, so the events' kind check grows by one value
(batch mode: SQLite cannot alter a check constraint in place).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 19:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from broadcaster.store.coltypes import UtcDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_KINDS = "kind IN ('urgent', 'stop', 'resync', 'cancel')"
_NEW_KINDS = "kind IN ('urgent', 'urgent_clip', 'stop', 'resync', 'cancel')"


def upgrade() -> None:
    op.add_column("urgent_acks", sa.Column("cut_at", UtcDateTime(), nullable=True))
    with op.batch_alter_table("events") as batch:
        batch.drop_constraint(op.f("ck_events_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_events_kind"), sa.text(_NEW_KINDS))


def downgrade() -> None:
    op.execute("DELETE FROM events WHERE kind = 'urgent_clip'")
    with op.batch_alter_table("events") as batch:
        batch.drop_constraint(op.f("ck_events_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_events_kind"), sa.text(_OLD_KINDS))
    with op.batch_alter_table("urgent_acks") as batch:
        batch.drop_column("cut_at")
