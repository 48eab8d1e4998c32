"""Persistence: SQLAlchemy 2 schema, Alembic migrations, seeding, and the `Store` API.

The only package with SQL. SQLite (WAL) under the data folder by default; PostgreSQL by
giving a `postgresql+psycopg://` URL.
"""

from broadcaster.store.engine import sqlite_url
from broadcaster.store.records import (
    AckState,
    AuditEntry,
    ClipStatus,
    Deployment,
    Event,
    EventKind,
    MessageRecord,
    PlayUpload,
    SeedReport,
    SpeakerStatus,
    TokenKind,
    TokenRecord,
    UrgentAck,
    UserRecord,
)
from broadcaster.store.store import Store

__all__ = [
    "AckState",
    "AuditEntry",
    "ClipStatus",
    "Deployment",
    "Event",
    "EventKind",
    "MessageRecord",
    "PlayUpload",
    "SeedReport",
    "SpeakerStatus",
    "Store",
    "TokenKind",
    "TokenRecord",
    "UrgentAck",
    "UserRecord",
    "sqlite_url",
]
