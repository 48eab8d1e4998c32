"""The `cap_alerts` table: CAP alerts received (issue 15, docs/cap.md).

One row per info block acted on, keyed by (sender, identifier, part) so that a repeated
alert is recognised; what became of it (held, broadcast, approved, rejected, cancelled,
superseded, ignored), the urgent made from it, and the document as received. The downgrade
drops the table (the urgents made from alerts stay).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 07:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from broadcaster.store.coltypes import UtcDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cap_alerts",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("sender", sa.Text(), nullable=False),
        sa.Column("identifier", sa.Text(), nullable=False),
        sa.Column("sent", UtcDateTime(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("msg_type", sa.String(10), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("urgent_id", sa.String(100), nullable=True),
        sa.Column("language", sa.Text(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("urgency", sa.String(20), nullable=False),
        sa.Column("certainty", sa.String(20), nullable=False),
        sa.Column("headline", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("area_ids", sa.JSON(), nullable=False),
        sa.Column("speaker_ids", sa.JSON(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("override_window", sa.Boolean(), nullable=False),
        sa.Column("refs", sa.JSON(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("decided_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cap_alerts")),
        sa.UniqueConstraint(
            "sender", "identifier", "part", name=op.f("uq_cap_alerts_sender_identifier_part")
        ),
    )
    op.create_index(op.f("ix_cap_alerts_received_at"), "cap_alerts", ["received_at"])
    op.create_index(op.f("ix_cap_alerts_state"), "cap_alerts", ["state"])
    op.create_index(op.f("ix_cap_alerts_urgent_id"), "cap_alerts", ["urgent_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_cap_alerts_urgent_id"), table_name="cap_alerts")
    op.drop_index(op.f("ix_cap_alerts_state"), table_name="cap_alerts")
    op.drop_index(op.f("ix_cap_alerts_received_at"), table_name="cap_alerts")
    op.drop_table("cap_alerts")
