"""The `live` event kind: a live page starts on a speaker (issue 12, docs/live-paging.md).

The events' kind check grows by one value (batch mode: SQLite cannot alter a check constraint
in place). The downgrade drops the live events, which an older server would not know.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 04:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_KINDS = "kind IN ('urgent', 'urgent_clip', 'stop', 'resync', 'cancel')"
_NEW_KINDS = "kind IN ('urgent', 'urgent_clip', 'stop', 'resync', 'cancel', 'live')"


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_constraint(op.f("ck_events_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_events_kind"), sa.text(_NEW_KINDS))


def downgrade() -> None:
    op.execute("DELETE FROM events WHERE kind = 'live'")
    with op.batch_alter_table("events") as batch:
        batch.drop_constraint(op.f("ck_events_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_events_kind"), sa.text(_OLD_KINDS))
