"""Seeding the database from `config.yaml`: the config seeds, the database is the truth.

Policy:

- The first `seed_from` on an empty database inserts every area, speaker, message,
  program, schedule and user of the configuration and records `seeded_at` in `meta`.
- Later calls insert only objects whose id the database has never seen seeded: an object
  newly added to `config.yaml` appears on the next start. Nothing that already exists is
  updated, and nothing is deleted, so edits made in the panel survive every restart.
- Every seeded `(kind, id)` is remembered in the `seeded` table. An object deleted in the
  panel therefore stays deleted even though `config.yaml` still lists it; an object the
  panel created under the same id as a config object wins, and the config's is ignored.
- A new config object that cannot be inserted (it names a program, message, area or
  speaker the database lacks, e.g. deleted in the panel) is skipped and reported in
  `SeedReport.skipped`; it is tried again on the next start.
- Users are created without a password: they cannot sign in until one is set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from broadcaster.config import Settings
from broadcaster.errors import Conflict, ValidationError
from broadcaster.store import schema as t
from broadcaster.store.base import Database, insert_if_absent, touch_catalog
from broadcaster.store.content import insert_message, insert_program
from broadcaster.store.people import insert_user
from broadcaster.store.places import exists, insert_area, insert_quiet_zone, insert_speaker
from broadcaster.store.records import SeedReport
from broadcaster.store.schedules import insert_schedule

SEEDED_AT = "seeded_at"
Inserter = Callable[[Connection, Any, datetime], object]


def _kinds(settings: Settings) -> list[tuple[str, Iterable[Any], Any, Inserter]]:
    """(kind, objects, id column, insert) in foreign-key order."""
    return [
        ("area", settings.areas, t.areas.c.id, lambda c, o, now: insert_area(c, o)),
        ("speaker", settings.speakers, t.speakers.c.id, lambda c, o, now: insert_speaker(c, o)),
        ("message", settings.messages, t.messages.c.id, insert_message),
        ("program", settings.programs, t.programs.c.id, lambda c, o, now: insert_program(c, o)),
        ("schedule", settings.schedules, t.schedules.c.id, insert_schedule),
        ("user", settings.users, t.users.c.name, insert_user),
        (
            "quiet_zone",
            settings.quiet_zones,
            t.quiet_zones.c.id,
            lambda c, o, now: insert_quiet_zone(c, o),
        ),
    ]


def _key(obj: Any) -> str:
    return str(obj.name if hasattr(obj, "role") else obj.id)


def seed_from(db: Database, settings: Settings, now: datetime) -> SeedReport:
    """Insert the configuration's objects the database has never seen; see the policy."""
    inserted: dict[str, list[str]] = {}
    skipped: list[str] = []
    with db.transaction() as conn:
        first = conn.execute(select(t.meta.c.key).where(t.meta.c.key == SEEDED_AT)).first()
        seen = {(kind, key) for kind, key in conn.execute(select(t.seeded.c.kind, t.seeded.c.id))}
        for kind, objects, column, insert_one in _kinds(settings):
            for obj in objects:
                key = _key(obj)
                if (kind, key) in seen:
                    continue
                if not exists(conn, column, key):
                    try:
                        with conn.begin_nested():
                            insert_one(conn, obj, now)
                    except (ValidationError, Conflict) as exc:
                        skipped.append(f"{kind} {key!r}: {exc}")
                        continue
                    inserted.setdefault(kind, []).append(key)
                conn.execute(insert(t.seeded).values(kind=kind, id=key, seeded_at=now))
        if first is None:
            insert_if_absent(conn, t.meta, {"key": SEEDED_AT, "value": now.isoformat()})
        if inserted:
            touch_catalog(conn)
    return SeedReport(
        first=first is None,
        inserted={kind: tuple(ids) for kind, ids in inserted.items()},
        skipped=tuple(skipped),
    )
