"""Frozen values for stored rows that have no domain model in `broadcaster.models`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from broadcaster.models import Area, Message, Program, QuietZone, Schedule, Speaker, Urgent, User


class TokenKind(StrEnum):
    DEVICE = "device"
    USER = "user"


class EventKind(StrEnum):
    URGENT = "urgent"
    URGENT_CLIP = "urgent_clip"
    STOP = "stop"
    RESYNC = "resync"
    CANCEL = "cancel"
    LIVE = "live"  # a live page starts (issue 12, docs/live-paging.md)


class AckState(StrEnum):
    RECEIVED = "received"
    PLAYING = "playing"
    PLAYED = "played"
    CUT = "cut"


@dataclass(frozen=True, slots=True)
class Deployment:
    """What the planner needs, read in one transaction; `revision` changes on every edit."""

    areas: tuple[Area, ...]
    speakers: tuple[Speaker, ...]
    messages: tuple[Message, ...]
    programs: tuple[Program, ...]
    schedules: tuple[Schedule, ...]
    urgents: tuple[Urgent, ...]
    revision: int
    # Where vehicles go quiet (issue 13).
    quiet_zones: tuple[QuietZone, ...] = ()


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """A message with its bookkeeping: `version` grows by one on every update."""

    message: Message
    version: int
    updated_at: datetime
    recording_sha256: str | None = None


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user with what the panel's sign-in needs; `password_hash` is None until one is set."""

    user: User
    disabled: bool
    created_at: datetime
    password_hash: str | None = field(default=None, repr=False)
    # Shown in the panel instead of the login name (None: the login name).
    display_name: str | None = None
    # Part of every panel session's epoch ('' until the first sign-out everywhere).
    session_generation: str = field(default="", repr=False)

    @property
    def shown_name(self) -> str:
        """What the panel calls the user: the display name, else the login name."""
        return self.display_name or self.user.name


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A device or personal API token as stored: never the token itself."""

    id: str
    kind: TokenKind
    subject: str
    label: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Fix:
    """A vehicle's position as its GPS reported it (issue 13): degrees, the fix's own time
    (UTC), speed in m/s and heading in degrees from north when known."""

    lat: float
    lon: float
    at: datetime
    speed: float | None = None
    heading: float | None = None


@dataclass(frozen=True, slots=True)
class SpeakerStatus:
    """The last heartbeat of one speaker, as its client reported it."""

    speaker_id: str
    last_heartbeat: datetime | None
    state: str = "unknown"
    now_playing: Mapping[str, Any] | None = None
    position_ms: int | None = None
    volume: int | None = None
    clock_offset_ms: int | None = None
    selftest_ok: bool | None = None
    selftest_at: datetime | None = None
    selftest_detail: str = ""
    cache_health: Mapping[str, Any] | None = None
    last_sync: datetime | None = None
    plan_etag: str | None = None
    client_version: str = ""
    # The latest GPS fix its heartbeat carried (issue 13); None until one arrives.
    fix: Fix | None = None

    def online(self, now: datetime, silence: timedelta) -> bool:
        """True if the last heartbeat is less than `silence` old at `now`."""
        return self.last_heartbeat is not None and now - self.last_heartbeat < silence


@dataclass(frozen=True, slots=True)
class UrgentAck:
    """When one speaker received, started and finished an urgent announcement."""

    urgent_id: str
    speaker_id: str
    received_at: datetime | None = None
    playing_at: datetime | None = None
    played_at: datetime | None = None
    cut_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PlayUpload:
    """The outcome of one play-log upload: ids stored now, and ids the server already had."""

    accepted: tuple[str, ...]
    duplicates: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Event:
    """A command for one speaker (or all: `speaker_id` None), numbered for long-polling."""

    seq: int
    speaker_id: str | None
    kind: EventKind
    payload: Mapping[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the append-only audit log."""

    seq: int
    at: datetime
    actor: str
    action: str
    object: str
    detail: Mapping[str, Any]
    remote_addr: str | None = None


@dataclass(frozen=True, slots=True)
class ClipStatus:
    """The outcome of rendering one clip in one format: its file facts, or the error."""

    key: str
    fmt: str
    rendered_at: datetime
    message_id: str | None = None
    urgent_id: str | None = None
    duration_ms: int | None = None
    sha256: str | None = None
    size: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class SeedReport:
    """What one `seed_from` did: ids inserted per kind, and new objects it had to skip."""

    first: bool
    inserted: Mapping[str, tuple[str, ...]]
    skipped: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return sum(len(ids) for ids in self.inserted.values())
