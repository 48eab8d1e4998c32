"""Messages (with version and recording reference) and programs (ordered messages + gap)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Connection, RowMapping

from broadcaster.errors import Conflict, NotFound, ValidationError
from broadcaster.models import Message, Program, VoiceSettings
from broadcaster.store import schema as t
from broadcaster.store.base import StoreBase
from broadcaster.store.places import exists, names_where, refuse_if_used
from broadcaster.store.records import MessageRecord


def _message(r: RowMapping) -> Message:
    voice = VoiceSettings(r["voice"], r["rate"], r["volume"], r["chime"])
    return Message(r["id"], r["title"], r["text"], voice, r["recording"])


def _record(r: RowMapping) -> MessageRecord:
    return MessageRecord(_message(r), r["version"], r["updated_at"], r["recording_sha256"])


def load_messages(conn: Connection) -> tuple[Message, ...]:
    rows = conn.execute(select(t.messages).order_by(t.messages.c.id)).mappings()
    return tuple(_message(r) for r in rows)


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


def insert_message(
    conn: Connection, message: Message, now: datetime, recording_sha256: str | None = None
) -> MessageRecord:
    if exists(conn, t.messages.c.id, message.id):
        raise Conflict(f"message {message.id!r} already exists")
    row = _message_row(message) | {
        "recording_sha256": recording_sha256,
        "version": 1,
        "updated_at": now,
    }
    conn.execute(insert(t.messages).values(row))
    return MessageRecord(message, 1, now, recording_sha256)


def insert_program(conn: Connection, program: Program) -> None:
    if exists(conn, t.programs.c.id, program.id):
        raise Conflict(f"program {program.id!r} already exists")
    _check_program(conn, program)
    conn.execute(insert(t.programs).values(id=program.id, name=program.name, gap_s=program.gap_s))
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


class ContentStore(StoreBase):
    """Messages and programs."""

    def list_messages(self) -> tuple[Message, ...]:
        """Every message, by id."""
        with self.transaction(write=False) as conn:
            return load_messages(conn)

    def get_message(self, message_id: str) -> Message:
        return self.message_record(message_id).message

    def message_record(self, message_id: str) -> MessageRecord:
        """A message with its version, update time and recording checksum."""
        with self.transaction(write=False) as conn:
            row = (
                conn.execute(select(t.messages).where(t.messages.c.id == message_id))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound(f"no message {message_id!r}")
        return _record(row)

    def create_message(
        self, message: Message, now: datetime, *, recording_sha256: str | None = None
    ) -> MessageRecord:
        """Add a message at version 1."""
        with self.transaction() as conn:
            record = insert_message(conn, message, now, recording_sha256)
            self._touch_catalog(conn)
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
        with self.transaction() as conn:
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
            self._touch_catalog(conn)
        return MessageRecord(message, version + 1, now, sha256)

    def delete_message(self, message_id: str, now: datetime) -> None:
        """Remove a message no program and no live urgent announcement uses."""
        with self.transaction() as conn:
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
            self._touch_catalog(conn)

    def list_programs(self) -> tuple[Program, ...]:
        """Every program, by id."""
        with self.transaction(write=False) as conn:
            return load_programs(conn)

    def get_program(self, program_id: str) -> Program:
        with self.transaction(write=False) as conn:
            found = load_programs(conn, [program_id])
        if not found:
            raise NotFound(f"no program {program_id!r}")
        return found[0]

    def create_program(self, program: Program) -> Program:
        """Add a program; every message it names must exist."""
        with self.transaction() as conn:
            insert_program(conn, program)
            self._touch_catalog(conn)
        return program

    def update_program(self, program: Program) -> Program:
        """Replace a program's name, gap and message order."""
        with self.transaction() as conn:
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
            self._touch_catalog(conn)
        return program

    def delete_program(self, program_id: str) -> None:
        """Remove a program no schedule uses."""
        with self.transaction() as conn:
            if not exists(conn, t.programs.c.id, program_id):
                raise NotFound(f"no program {program_id!r}")
            users = names_where(conn, t.schedules.c.id, t.schedules.c.program_id == program_id)
            refuse_if_used(f"program {program_id!r}", [("schedule", users)])
            conn.execute(delete(t.programs).where(t.programs.c.id == program_id))
            self._touch_catalog(conn)
