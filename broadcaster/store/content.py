"""Messages (with version and recording reference) and programs (ordered messages + gap)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Table, delete, insert, or_, select, update
from sqlalchemy.engine import Connection, RowMapping

from broadcaster.errors import Conflict, NotFound, ValidationError
from broadcaster.models import Message, Program, VoiceSettings
from broadcaster.store import schema as t
from broadcaster.store.base import Part, touch_catalog
from broadcaster.store.places import exists, names_where, refuse_if_used
from broadcaster.store.records import MessageRecord


def _message(r: RowMapping, area_ids: tuple[str, ...] = ()) -> Message:
    voice = VoiceSettings(r["voice"], r["rate"], r["volume"], r["chime"])
    return Message(r["id"], r["title"], r["text"], voice, r["recording"], area_ids)


def _record(r: RowMapping, area_ids: tuple[str, ...] = ()) -> MessageRecord:
    message = _message(r, area_ids)
    return MessageRecord(message, r["version"], r["updated_at"], r["recording_sha256"])


def _bound_areas(conn: Connection, message_id: str | None = None) -> dict[str, tuple[str, ...]]:
    """The areas each message is bound to (issue 13), in order; messages bound to none are
    absent."""
    query = select(t.message_areas).order_by(
        t.message_areas.c.message_id, t.message_areas.c.position
    )
    if message_id is not None:
        query = query.where(t.message_areas.c.message_id == message_id)
    found: dict[str, list[str]] = {}
    for r in conn.execute(query).mappings():
        found.setdefault(r["message_id"], []).append(r["area_id"])
    return {m: tuple(ids) for m, ids in found.items()}


def _bind_areas(conn: Connection, message: Message) -> None:
    """Replace the message's area binding with `message.area_ids` (each must exist)."""
    conn.execute(delete(t.message_areas).where(t.message_areas.c.message_id == message.id))
    if not message.area_ids:
        return
    for area_id in message.area_ids:
        if not exists(conn, t.areas.c.id, area_id):
            raise ValidationError(f"message {message.id}.areas: no area {area_id!r}")
    rows = [
        {"message_id": message.id, "area_id": a, "position": i}
        for i, a in enumerate(dict.fromkeys(message.area_ids))
    ]
    conn.execute(insert(t.message_areas), rows)


def load_messages(conn: Connection) -> tuple[Message, ...]:
    rows = conn.execute(select(t.messages).order_by(t.messages.c.id)).mappings()
    bound = _bound_areas(conn)
    return tuple(_message(r, bound.get(r["id"], ())) for r in rows)


def load_programs(conn: Connection, ids: Iterable[str] | None = None) -> tuple[Program, ...]:
    query = select(t.programs).order_by(t.programs.c.id)
    items = select(t.program_messages).order_by(
        t.program_messages.c.program_id, t.program_messages.c.position
    )
    if ids is not None:
        wanted = list(ids)
        query = query.where(t.programs.c.id.in_(wanted))
        items = items.where(t.program_messages.c.program_id.in_(wanted))
    message_ids: dict[str, list[str]] = {}
    for r in conn.execute(items).mappings():
        message_ids.setdefault(r["program_id"], []).append(r["message_id"])
    return tuple(
        Program(r["id"], r["name"], tuple(message_ids.get(r["id"], ())), r["gap_s"])
        for r in conn.execute(query).mappings()
    )


def _message_row(m: Message) -> dict[str, object]:
    v = m.voice
    return {
        "id": m.id,
        "title": m.title,
        "text": m.text,
        "voice": v.voice,
        "rate": v.rate,
        "volume": v.volume,
        "chime": v.chime,
        "recording": m.recording,
    }


# The kinds of object an area can own, and their tables.
OWNED = {"message": t.messages, "program": t.programs}


def load_owners(conn: Connection) -> dict[str, str]:
    """The owner area of every owned message and program ("message:<id>" -> area id)."""
    found: dict[str, str] = {}
    for kind, table in OWNED.items():
        rows = conn.execute(
            select(table.c.id, table.c.owner_area_id).where(table.c.owner_area_id.is_not(None))
        )
        found.update({f"{kind}:{object_id}": area for object_id, area in rows})
    return found


def _check_owner(conn: Connection, kind: str, object_id: str, area_id: str | None) -> None:
    if area_id is not None and not exists(conn, t.areas.c.id, area_id):
        raise ValidationError(f"{kind} {object_id}.owner_area_id: no area {area_id!r}")


def insert_message(
    conn: Connection,
    message: Message,
    now: datetime,
    recording_sha256: str | None = None,
    owner_area_id: str | None = None,
) -> MessageRecord:
    if exists(conn, t.messages.c.id, message.id):
        raise Conflict(f"message {message.id!r} already exists")
    _check_owner(conn, "message", message.id, owner_area_id)
    row = _message_row(message) | {
        "recording_sha256": recording_sha256,
        "version": 1,
        "updated_at": now,
        "owner_area_id": owner_area_id,
    }
    conn.execute(insert(t.messages).values(row))
    _bind_areas(conn, message)
    return MessageRecord(message, 1, now, recording_sha256)


def insert_program(conn: Connection, program: Program, owner_area_id: str | None = None) -> None:
    if exists(conn, t.programs.c.id, program.id):
        raise Conflict(f"program {program.id!r} already exists")
    _check_program(conn, program)
    _check_owner(conn, "program", program.id, owner_area_id)
    conn.execute(
        insert(t.programs).values(
            id=program.id, name=program.name, gap_s=program.gap_s, owner_area_id=owner_area_id
        )
    )
    _insert_items(conn, program)


def _check_program(conn: Connection, program: Program) -> None:
    if not program.message_ids:
        raise ValidationError(f"program {program.id}.message_ids: needs at least one message")
    known = set(
        conn.execute(
            select(t.messages.c.id).where(t.messages.c.id.in_(set(program.message_ids)))
        ).scalars()
    )
    missing = [m for m in program.message_ids if m not in known]
    if missing:
        raise ValidationError(f"program {program.id}.message_ids: no message {missing[0]!r}")


def _insert_items(conn: Connection, program: Program) -> None:
    rows = [
        {"program_id": program.id, "position": i, "message_id": m}
        for i, m in enumerate(program.message_ids)
    ]
    conn.execute(insert(t.program_messages), rows)


def _owned_table(kind: str) -> Table:
    try:
        return OWNED[kind]
    except KeyError:
        raise ValueError(f"only messages and programs have owners, not {kind!r}") from None


class Content(Part):
    """Messages and programs."""

    def list_messages(self) -> tuple[Message, ...]:
        """Every message, by id."""
        with self._db.transaction(write=False) as conn:
            return load_messages(conn)

    def get_message(self, message_id: str) -> Message:
        return self.message_record(message_id).message

    def message_record(self, message_id: str) -> MessageRecord:
        """A message with its version, update time and recording checksum."""
        with self._db.transaction(write=False) as conn:
            row = (
                conn.execute(select(t.messages).where(t.messages.c.id == message_id))
                .mappings()
                .first()
            )
            bound = _bound_areas(conn, message_id)
        if row is None:
            raise NotFound(f"no message {message_id!r}")
        return _record(row, bound.get(message_id, ()))

    def create_message(
        self,
        message: Message,
        now: datetime,
        *,
        recording_sha256: str | None = None,
        owner_area_id: str | None = None,
    ) -> MessageRecord:
        """Add a message at version 1, owned by `owner_area_id` (None: district-wide) from
        the start: it is never district-wide for a moment."""
        with self._db.transaction() as conn:
            record = insert_message(conn, message, now, recording_sha256, owner_area_id)
            touch_catalog(conn)
        return record

    def update_message(
        self,
        message: Message,
        now: datetime,
        *,
        expected_version: int | None = None,
        recording_sha256: str | None = None,
    ) -> MessageRecord:
        """Replace a message's text, voice and recording; its version grows by one.

        With `expected_version`, refuse (Conflict) if someone saved it in between.
        """
        with self._db.transaction() as conn:
            version = conn.execute(
                select(t.messages.c.version).where(t.messages.c.id == message.id)
            ).scalar()
            if version is None:
                raise NotFound(f"no message {message.id!r}")
            if expected_version is not None and version != expected_version:
                raise Conflict(
                    f"message {message.id!r} was changed by someone else "
                    f"(version {version}, you edited version {expected_version})"
                )
            sha256 = recording_sha256 if message.recording else None
            values = _message_row(message) | {
                "recording_sha256": sha256,
                "version": version + 1,
                "updated_at": now,
            }
            conn.execute(update(t.messages).where(t.messages.c.id == message.id).values(values))
            _bind_areas(conn, message)
            touch_catalog(conn)
        return MessageRecord(message, version + 1, now, sha256)

    def delete_message(self, message_id: str, now: datetime) -> None:
        """Remove a message no program and no live urgent announcement uses."""
        with self._db.transaction() as conn:
            if not exists(conn, t.messages.c.id, message_id):
                raise NotFound(f"no message {message_id!r}")
            live = (t.urgents.c.message_id == message_id) & (t.urgents.c.expires_at > now)
            live &= or_(t.urgents.c.cancelled_at.is_(None), t.urgents.c.cancelled_at > now)
            uses = [
                (
                    "program",
                    names_where(
                        conn,
                        t.program_messages.c.program_id,
                        t.program_messages.c.message_id == message_id,
                    ),
                ),
                ("urgent announcement", names_where(conn, t.urgents.c.id, live)),
            ]
            refuse_if_used(f"message {message_id!r}", uses)
            conn.execute(delete(t.clips).where(t.clips.c.message_id == message_id))
            conn.execute(delete(t.messages).where(t.messages.c.id == message_id))
            touch_catalog(conn)

    def owners(self) -> dict[str, str]:
        """The owner area of every owned message and program ("message:<id>" -> area id);
        those not listed are district-wide."""
        with self._db.transaction(write=False) as conn:
            return load_owners(conn)

    def owner(self, kind: str, object_id: str) -> str | None:
        """The owner area of one message or program (None: district-wide); NotFound if it
        does not exist."""
        table = _owned_table(kind)
        with self._db.transaction(write=False) as conn:
            row = conn.execute(select(table.c.owner_area_id).where(table.c.id == object_id)).first()
        if row is None:
            raise NotFound(f"no {kind} {object_id!r}")
        return None if row[0] is None else str(row[0])

    def set_owner(self, kind: str, object_id: str, area_id: str | None) -> None:
        """Make `area_id` the owner of a message or program (None: district-wide), in one
        UPDATE; NotFound if it does not exist, ValidationError for an unknown area."""
        table = _owned_table(kind)
        with self._db.transaction() as conn:
            _check_owner(conn, kind, object_id, area_id)
            done = conn.execute(
                update(table).where(table.c.id == object_id).values(owner_area_id=area_id)
            )
            if done.rowcount == 0:
                raise NotFound(f"no {kind} {object_id!r}")

    def list_programs(self) -> tuple[Program, ...]:
        """Every program, by id."""
        with self._db.transaction(write=False) as conn:
            return load_programs(conn)

    def get_program(self, program_id: str) -> Program:
        with self._db.transaction(write=False) as conn:
            found = load_programs(conn, [program_id])
        if not found:
            raise NotFound(f"no program {program_id!r}")
        return found[0]

    def create_program(self, program: Program, *, owner_area_id: str | None = None) -> Program:
        """Add a program; every message it names must exist. Owned by `owner_area_id`
        (None: district-wide) from the start."""
        with self._db.transaction() as conn:
            insert_program(conn, program, owner_area_id)
            touch_catalog(conn)
        return program

    def update_program(self, program: Program) -> Program:
        """Replace a program's name, gap and message order."""
        with self._db.transaction() as conn:
            if not exists(conn, t.programs.c.id, program.id):
                raise NotFound(f"no program {program.id!r}")
            _check_program(conn, program)
            conn.execute(
                update(t.programs)
                .where(t.programs.c.id == program.id)
                .values(name=program.name, gap_s=program.gap_s)
            )
            conn.execute(
                delete(t.program_messages).where(t.program_messages.c.program_id == program.id)
            )
            _insert_items(conn, program)
            touch_catalog(conn)
        return program

    def delete_program(self, program_id: str) -> None:
        """Remove a program no schedule uses."""
        with self._db.transaction() as conn:
            if not exists(conn, t.programs.c.id, program_id):
                raise NotFound(f"no program {program_id!r}")
            users = names_where(conn, t.schedules.c.id, t.schedules.c.program_id == program_id)
            refuse_if_used(f"program {program_id!r}", [("schedule", users)])
            conn.execute(delete(t.programs).where(t.programs.c.id == program_id))
            touch_catalog(conn)
