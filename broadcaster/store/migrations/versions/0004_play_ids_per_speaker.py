"""Play-log ids per speaker; 64-bit clock offsets.

`play_log` was keyed by the client's entry id alone, so one device's ids could shadow
another's (its entries were answered as duplicates and never stored). The key becomes
(speaker_id, id): two speakers may both upload "p1", and a speaker's resend is still a
duplicate. Existing rows are carried over unchanged.

`speaker_status.clock_offset_ms` becomes 64-bit: a client whose clock is unset (1970) reports
an offset of ~1.8e12 ms, which PostgreSQL's 32-bit integer refused (a 500 on every heartbeat).

Batch mode: SQLite cannot change a primary key or a column type in place (the table is copied
with its rows); PostgreSQL alters in place. Downgrading keeps, of entries that share an id,
the one received first (what the old key would have stored) and clears offsets that do not
fit 32 bits.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INT32 = 2**31


def upgrade() -> None:
    with op.batch_alter_table("play_log") as batch:
        batch.drop_constraint(op.f("pk_play_log"), type_="primary")
        batch.create_primary_key(op.f("pk_play_log"), ["speaker_id", "id"])
    with op.batch_alter_table("speaker_status") as batch:
        batch.alter_column(
            "clock_offset_ms",
            existing_type=sa.Integer(),
            type_=sa.BigInteger(),
            existing_nullable=True,
        )


def downgrade() -> None:
    op.execute(
        "DELETE FROM play_log WHERE EXISTS (SELECT 1 FROM play_log AS kept"
        " WHERE kept.id = play_log.id AND (kept.received_at < play_log.received_at"
        " OR (kept.received_at = play_log.received_at"
        " AND kept.speaker_id < play_log.speaker_id)))"
    )
    with op.batch_alter_table("play_log") as batch:
        batch.drop_constraint(op.f("pk_play_log"), type_="primary")
        batch.create_primary_key(op.f("pk_play_log"), ["id"])
    op.execute(
        "UPDATE speaker_status SET clock_offset_ms = NULL"
        f" WHERE clock_offset_ms >= {_INT32} OR clock_offset_ms < {-_INT32}"
    )
    with op.batch_alter_table("speaker_status") as batch:
        batch.alter_column(
            "clock_offset_ms",
            existing_type=sa.BigInteger(),
            type_=sa.Integer(),
            existing_nullable=True,
        )
