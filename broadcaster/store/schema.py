"""The database schema (SQLAlchemy Core), portable between SQLite and PostgreSQL.

Times are aware UTC (`UtcDateTime`); wall times of schedules are plain `Time`; JSON columns
use the portable `JSON` type. Ordered children (route stops, program messages, targets)
carry a `position`. History tables (play log, events, audit log, urgent targets and
acknowledgements) hold plain speaker ids without foreign keys: a deleted speaker's history
stays readable. Changing anything here needs a new Alembic revision in `migrations/versions`.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Time,
)

from broadcaster import limits
from broadcaster.store.coltypes import UtcDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

ID = String(100)
# SQLite only auto-numbers an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
SEQ = BigInteger().with_variant(Integer(), "sqlite")


def _fk(target: str, ondelete: str = "RESTRICT") -> ForeignKey:
    return ForeignKey(target, ondelete=ondelete)


areas = Table(
    "areas",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("parent_id", ID, _fk("areas.id"), nullable=True, index=True),
    # Its outline (issue 13, migration 0008): [[lat, lon], ...] as validated by
    # broadcaster.geometry (the ring not repeated closed); None: no shape.
    Column("polygon", JSON(none_as_null=True), nullable=True),
    CheckConstraint("kind IN ('district', 'township', 'village', 'community')", name="kind"),
)

speakers = Table(
    "speakers",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("area_id", ID, _fk("areas.id"), nullable=False, index=True),
    Column("volume", Integer, nullable=False),
    # A vehicle with an empty route differs from one without a route.
    Column("has_route", Boolean, nullable=False),
    # Where a fixed loudspeaker stands (issue 13, migration 0008): both or neither.
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
    CheckConstraint("kind IN ('vehicle', 'fixed')", name="kind"),
    CheckConstraint("volume BETWEEN 0 AND 100", name="volume"),
)

route_stops = Table(
    "route_stops",
    metadata,
    Column("speaker_id", ID, _fk("speakers.id", "CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
    Column("note", Text, nullable=False),
)

messages = Table(
    "messages",
    metadata,
    Column("id", ID, primary_key=True),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("voice", String(100), nullable=False),
    Column("rate", Integer, nullable=False),
    Column("volume", Float, nullable=False),
    Column("chime", Boolean, nullable=False),
    Column("recording", Text, nullable=True),
    Column("recording_sha256", String(64), nullable=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # The area whose chiefs own it (migration 0005); None: district-wide. An area that owns
    # messages or programs cannot be deleted (RESTRICT): they never silently change hands.
    Column("owner_area_id", ID, _fk("areas.id"), nullable=True, index=True),
)

programs = Table(
    "programs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", Text, nullable=False),
    Column("gap_s", Float, nullable=False),
    Column("owner_area_id", ID, _fk("areas.id"), nullable=True, index=True),
)

program_messages = Table(
    "program_messages",
    metadata,
    Column("program_id", ID, _fk("programs.id", "CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("message_id", ID, _fk("messages.id"), nullable=False, index=True),
)

# Areas a message is bound to (issue 13, migration 0008): a vehicle plays it only while inside
# one of them. None listed: it plays everywhere, as before.
message_areas = Table(
    "message_areas",
    metadata,
    Column("message_id", ID, _fk("messages.id", "CASCADE"), primary_key=True),
    Column("area_id", ID, _fk("areas.id"), primary_key=True, index=True),
    Column("position", Integer, nullable=False),
)

# Quiet zones (issue 13, migration 0008): hospitals, schools during exams. Inside the polygon
# during `hours` ([{"start": "HH:MM", "end": "HH:MM"}, ...]; empty: always) a vehicle mutes
# or plays at `volume` percent.
quiet_zones = Table(
    "quiet_zones",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", Text, nullable=False),
    Column("polygon", JSON, nullable=False),
    Column("hours", JSON, nullable=False),
    Column("action", String(10), nullable=False),
    Column("volume", Integer, nullable=True),
    CheckConstraint("action IN ('mute', 'volume')", name="action"),
    CheckConstraint(
        "(action = 'mute' AND volume IS NULL) OR (action = 'volume' AND volume BETWEEN 0 AND 100)",
        name="volume",
    ),
)

schedules = Table(
    "schedules",
    metadata,
    Column("id", ID, primary_key=True),
    Column("program_id", ID, _fk("programs.id"), nullable=False, index=True),
    # Bit d set = weekday d plays (Monday = bit 0).
    Column("weekdays", Integer, nullable=False),
    Column("start_time", Time, nullable=False),
    Column("end_time", Time, nullable=False),
    Column("first_date", Date, nullable=True),
    Column("last_date", Date, nullable=True),
    Column("priority", Integer, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("weekdays BETWEEN 0 AND 127", name="weekdays"),
)

schedule_speakers = Table(
    "schedule_speakers",
    metadata,
    Column("schedule_id", ID, _fk("schedules.id", "CASCADE"), primary_key=True),
    Column("speaker_id", ID, _fk("speakers.id"), primary_key=True, index=True),
    Column("position", Integer, nullable=False),
)

schedule_areas = Table(
    "schedule_areas",
    metadata,
    Column("schedule_id", ID, _fk("schedules.id", "CASCADE"), primary_key=True),
    Column("area_id", ID, _fk("areas.id"), primary_key=True, index=True),
    Column("position", Integer, nullable=False),
)

schedule_exceptions = Table(
    "schedule_exceptions",
    metadata,
    Column("schedule_id", ID, _fk("schedules.id", "CASCADE"), primary_key=True),
    Column("day", Date, primary_key=True),
)

urgents = Table(
    "urgents",
    metadata,
    Column("id", ID, primary_key=True),
    Column("text", Text, nullable=True),
    Column("message_id", ID, nullable=True),
    Column("repeats", Integer, nullable=False),
    Column("interval_s", Float, nullable=False),
    Column("override_window", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False, index=True),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
    Column("cancelled_at", UtcDateTime, nullable=True),
    Column("created_by", Text, nullable=False),
    CheckConstraint("(text IS NULL) <> (message_id IS NULL)", name="text_or_message"),
)

urgent_speakers = Table(
    "urgent_speakers",
    metadata,
    Column("urgent_id", ID, _fk("urgents.id", "CASCADE"), primary_key=True),
    Column("speaker_id", ID, primary_key=True),
    Column("position", Integer, nullable=False),
)

urgent_areas = Table(
    "urgent_areas",
    metadata,
    Column("urgent_id", ID, _fk("urgents.id", "CASCADE"), primary_key=True),
    Column("area_id", ID, primary_key=True),
    Column("position", Integer, nullable=False),
)

urgent_acks = Table(
    "urgent_acks",
    metadata,
    Column("urgent_id", ID, _fk("urgents.id", "CASCADE"), primary_key=True),
    Column("speaker_id", ID, primary_key=True),
    Column("received_at", UtcDateTime, nullable=True),
    Column("playing_at", UtcDateTime, nullable=True),
    Column("played_at", UtcDateTime, nullable=True),
    Column("cut_at", UtcDateTime, nullable=True),
)

# Live pages (issue 12, migration 0007): who paged which speakers when, how it ended for each
# of them, and the clip it was kept as. A row with no `ended_at` is a page running now (or
# cut by a server that died: the next start marks it).
live_pages = Table(
    "live_pages",
    metadata,
    Column("id", ID, primary_key=True),
    Column("created_by", Text, nullable=False),
    Column("by_name", Text, nullable=False),
    Column("started_at", UtcDateTime, nullable=False, index=True),
    Column("ended_at", UtcDateTime, nullable=True),
    Column("ended_reason", Text, nullable=True),
    Column("override_window", Boolean, nullable=False),
    Column("take_over", Boolean, nullable=False),
    Column("speaker_ids", JSON, nullable=False),
    Column("area_ids", JSON, nullable=False),
    Column("targets", JSON, nullable=False),
    Column("recording", Text, nullable=True),
    Column("clip_key", String(128), nullable=True),
    Column("duration_ms", Integer, nullable=True),
)

users = Table(
    "users",
    metadata,
    Column("name", ID, primary_key=True),
    Column("role", String(20), nullable=False),
    Column("password_hash", Text, nullable=True),
    Column("disabled", Boolean, nullable=False),
    Column("vehicle_id", ID, _fk("speakers.id"), nullable=True, index=True),
    Column("created_at", UtcDateTime, nullable=False),
    # Part of every panel session's epoch: moved by a sign-out everywhere (migration 0005).
    Column("session_generation", String(32), nullable=False, server_default=""),
    # Shown in the panel instead of the login name (e.g. in Chinese); None: the login name.
    Column("display_name", String(limits.DISPLAY_NAME_MAX), nullable=True),
    CheckConstraint("role IN ('admin', 'chief', 'operator')", name="role"),
)

user_areas = Table(
    "user_areas",
    metadata,
    Column("user_name", ID, _fk("users.name", "CASCADE"), primary_key=True),
    Column("area_id", ID, _fk("areas.id"), primary_key=True, index=True),
    Column("position", Integer, nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("subject", ID, nullable=False),
    # sha256 of the token; the token itself is never stored.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("label", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
    CheckConstraint("kind IN ('device', 'user')", name="kind"),
    Index("ix_tokens_kind_subject", "kind", "subject"),
)

speaker_status = Table(
    "speaker_status",
    metadata,
    Column("speaker_id", ID, _fk("speakers.id", "CASCADE"), primary_key=True),
    Column("last_heartbeat", UtcDateTime, nullable=True),
    Column("state", String(40), nullable=False),
    Column("now_playing", JSON(none_as_null=True), nullable=True),
    Column("position_ms", Integer, nullable=True),
    Column("volume", Integer, nullable=True),
    # 64-bit: an unset client clock (1970) is ~1.8e12 ms off (migration 0004).
    Column("clock_offset_ms", BigInteger, nullable=True),
    Column("selftest_ok", Boolean, nullable=True),
    Column("selftest_at", UtcDateTime, nullable=True),
    Column("selftest_detail", Text, nullable=False),
    Column("cache_health", JSON(none_as_null=True), nullable=True),
    Column("last_sync", UtcDateTime, nullable=True),
    Column("plan_etag", Text, nullable=True),
    Column("client_version", Text, nullable=False),
    # The vehicle's latest GPS fix from its heartbeat (issue 13, migration 0008): degrees,
    # the fix's own time, m/s and degrees from north; all None until a fix arrives.
    Column("fix_lat", Float, nullable=True),
    Column("fix_lon", Float, nullable=True),
    Column("fix_at", UtcDateTime, nullable=True),
    Column("fix_speed", Float, nullable=True),
    Column("fix_heading", Float, nullable=True),
)

play_log = Table(
    "play_log",
    metadata,
    # The client's entry id: uploads are idempotent by it, per speaker (migration 0004):
    # one device's ids never shadow another's.
    Column("id", ID, nullable=False),
    Column("speaker_id", ID, nullable=False),
    Column("clip", Text, nullable=False),
    Column("message_id", ID, nullable=True),
    Column("kind", String(20), nullable=False),
    Column("planned_start", UtcDateTime, nullable=True),
    Column("started_at", UtcDateTime, nullable=False, index=True),
    Column("ended_at", UtcDateTime, nullable=False),
    Column("completed", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("speaker_id", "id"),
    Index("ix_play_log_speaker_started", "speaker_id", "started_at"),
)

# The vehicles' GPS tracks (issue 13, migration 0010): one row per uploaded point, keyed by
# the client's id per speaker (uploads are idempotent by it); `at` is the fix's own time.
track_points = Table(
    "track_points",
    metadata,
    Column("speaker_id", ID, nullable=False),
    Column("id", ID, nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("at", UtcDateTime, nullable=False, index=True),
    Column("speed", Float, nullable=True),
    Column("heading", Float, nullable=True),
    Column("received_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("speaker_id", "id"),
    Index("ix_track_points_speaker_at", "speaker_id", "at"),
)

events = Table(
    "events",
    metadata,
    # Numbered from the `events` counter under its row lock: commit order == seq order.
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("speaker_id", ID, nullable=True),
    Column("kind", String(20), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False, index=True),
    CheckConstraint(
        "kind IN ('urgent', 'urgent_clip', 'stop', 'resync', 'cancel', 'live')", name="kind"
    ),
    Index("ix_events_speaker_seq", "speaker_id", "seq"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False, index=True),
    Column("actor", Text, nullable=False),
    Column("action", String(100), nullable=False),
    Column("object", Text, nullable=False),
    Column("detail", JSON, nullable=False),
    Column("remote_addr", String(64), nullable=True),
)

# Daily totals of the plays whose own rows were retired (issue 14, migration 0011): the
# `retire-plays` job folds a play older than `retention.plays_days` into its row here (local
# day in the deployment's zone, loudspeaker, message, kind) and deletes the play, in one
# transaction; kept for good. `message_id` is '' for a play without a message (a typed
# urgent). A report's totals are these rows plus the plays still kept.
play_days = Table(
    "play_days",
    metadata,
    Column("day", Date, nullable=False),
    Column("speaker_id", ID, nullable=False),
    Column("message_id", ID, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("plays", Integer, nullable=False),
    Column("completed", Integer, nullable=False),
    Column("urgent", Integer, nullable=False),
    Column("seconds", Float, nullable=False),
    PrimaryKeyConstraint("day", "speaker_id", "message_id", "kind"),
    Index("ix_play_days_speaker_day", "speaker_id", "day"),
)

# Indexes for the panel's reads (migration 0011): the audit page filtered by action, newest
# first; the live pages' outcomes from the play log (`store.live.played`).
Index("ix_audit_log_action_seq", audit_log.c.action, audit_log.c.seq)
Index(
    "ix_play_log_live_clip",
    play_log.c.clip,
    sqlite_where=play_log.c.kind == "live",
    postgresql_where=play_log.c.kind == "live",
)

# Failed sign-ins, read by the login throttle: counted per (name, client address) and per
# client address within a window, each by an index; rows older than the window are deleted.
login_failures = Table(
    "login_failures",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("address", String(64), nullable=False),
    Index("ix_login_failures_name_address_at", "name", "address", "at"),
    Index("ix_login_failures_address_at", "address", "at"),
)

clips = Table(
    "clips",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("fmt", String(10), primary_key=True),
    Column("message_id", ID, nullable=True, index=True),
    Column("urgent_id", ID, nullable=True),
    Column("duration_ms", Integer, nullable=True),
    Column("sha256", String(64), nullable=True),
    Column("size", BigInteger, nullable=True),
    Column("rendered_at", UtcDateTime, nullable=False),
    Column("error", Text, nullable=True),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

counters = Table(
    "counters",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("owner", Text, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

# Every (kind, id) ever seeded from config.yaml: an object deleted in the panel stays deleted.
seeded = Table(
    "seeded",
    metadata,
    Column("kind", String(20), primary_key=True),
    Column("id", ID, primary_key=True),
    Column("seeded_at", UtcDateTime, nullable=False),
)
