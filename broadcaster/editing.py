"""Panel use cases: who may see and edit what, message ownership, recordings and the lexicon.

Scoping (decided for the panel, documented in docs/panel.md):

- Messages and programs without an owner are district-wide: every admin and chief sees them
  and may use them in their programs; only an admin edits or deletes them.
- A message or program a chief creates is owned by one of the chief's areas. It is seen,
  used and edited by the admin and by chiefs whose reach covers that area; for anyone else
  it does not exist (404).
- A schedule is seen and edited by a chief when every speaker and area it targets is within
  the chief's reach, and its program is visible to them.
- Operators see their vehicle: status, plan, route (which they may reorder), route sheet.

Every object a request names (in its path, query, JSON body or form) is looked up through the
Scope (`message`, `program`, `schedule`, `speaker`, `area`, and `usable` for lists): the panel,
the JSON APIs and urgent sends use these same checks, and an object the user may not see gets
exactly the answer of an id that does not exist. Answers that mention other objects (what uses
a message, overlapping schedules) name only those the user may see.

Owners are the `owner_area_id` column of messages and programs (None: district-wide); an
area that owns something cannot be deleted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audio import decode
from audio.errors import InvalidInput
from broadcaster import access
from broadcaster.errors import NotFound
from broadcaster.models import Area, Message, Program, Role, Schedule, Speaker, Urgent, User
from broadcaster.service import Service
from broadcaster.store import Deployment, Store

LEXICON_KEY = "panel.lexicon"
RECORDING_TYPES = ("wav", "mp3", "m4a", "aac", "mp4", "webm", "ogg", "oga", "opus")
SILENCE_DBFS = -45.0
MAX_RECORDING_BYTES = 30 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Scope:
    """What one user may see: their speakers and areas, and the owners of messages/programs."""

    user: User
    deployment: Deployment
    areas: Mapping[str, Area]
    reach: frozenset[str]
    speakers: Mapping[str, Speaker]
    owners: Mapping[str, str]

    @property
    def is_admin(self) -> bool:
        return self.user.role is Role.ADMIN

    @property
    def is_chief(self) -> bool:
        return self.user.role is Role.CHIEF

    def owner(self, kind: str, object_id: str) -> str | None:
        return self.owners.get(f"{kind}:{object_id}")

    def sees_owned(self, kind: str, object_id: str) -> bool:
        """District-wide objects are seen by admins and chiefs; owned ones within reach."""
        if self.user.role is Role.OPERATOR:
            return False
        owner = self.owner(kind, object_id)
        return owner is None or self.is_admin or owner in self.reach

    def edits_owned(self, kind: str, object_id: str) -> bool:
        owner = self.owner(kind, object_id)
        return self.is_admin or (self.is_chief and owner is not None and owner in self.reach)

    def messages(self) -> list[Message]:
        return [m for m in self.deployment.messages if self.sees_owned("message", m.id)]

    def programs(self) -> list[Program]:
        return [p for p in self.deployment.programs if self.sees_owned("program", p.id)]

    def sees_schedule(self, schedule: Schedule) -> bool:
        if self.is_admin:
            return True
        if not self.is_chief:
            return False
        return (
            all(s in self.speakers for s in schedule.speaker_ids)
            and all(a in self.reach for a in schedule.area_ids)
            and self.sees_owned("program", schedule.program_id)
        )

    def schedules(self) -> list[Schedule]:
        return [s for s in self.deployment.schedules if self.sees_schedule(s)]

    def sees_urgent(self, urgent: Urgent) -> bool:
        """Whether every loudspeaker an urgent announcement targets is the user's (admins see
        all); what the urgent list shows (an operator's, for their vehicle alone)."""
        if self.is_admin:
            return True
        in_areas = access.speakers_in(urgent.area_ids, self.deployment.speakers, self.areas)
        targets = set(urgent.speaker_ids) | {s.id for s in in_areas}
        return targets <= self.speakers.keys()

    def own_areas(self) -> list[Area]:
        """Areas the user may act on, by id."""
        return [self.areas[a] for a in sorted(self.reach)]

    # -- references: the one check behind the panel, the JSON APIs and urgent sends ----------

    def message(self, message_id: str) -> Message:
        """The message if the user may see (and so use) it; else NotFound, worded exactly as
        for an id that does not exist."""
        return _one(self.messages(), message_id, "message")

    def program(self, program_id: str) -> Program:
        return _one(self.programs(), program_id, "program")

    def schedule(self, schedule_id: str) -> Schedule:
        return _one(self.schedules(), schedule_id, "schedule")

    def speaker(self, speaker_id: str) -> Speaker:
        if speaker_id in self.speakers:
            return self.speakers[speaker_id]
        raise NotFound(f"no speaker {speaker_id!r}")

    def area(self, area_id: str) -> Area:
        """An area the user may act on (theirs or below); NotFound otherwise."""
        if area_id in self.reach:
            return self.areas[area_id]
        raise NotFound(f"no area {area_id!r}")

    def usable(self, kind: str, ids: Iterable[str]) -> bool:
        """Whether the user may name every one of `ids` (message, program, speaker or area);
        a hidden id and one that does not exist are refused alike."""
        if kind == "message":
            known: Set[str] = {m.id for m in self.messages()}
        elif kind == "program":
            known = {p.id for p in self.programs()}
        elif kind == "speaker":
            known = set(self.speakers)
        elif kind == "area":
            known = self.reach
        else:
            raise ValueError(f"unknown kind {kind!r}")
        return all(i in known for i in ids)

    def programs_playing(self, message_id: str) -> tuple[list[Program], bool]:
        """The programs the user may see that play a message, and whether others do too."""
        using = [p for p in self.deployment.programs if message_id in p.message_ids]
        shown = [p for p in using if self.sees_owned("program", p.id)]
        return shown, len(shown) < len(using)

    def schedules_using(self, program_id: str) -> tuple[list[Schedule], bool]:
        """The schedules the user may see that use a program, and whether others do too."""
        using = [s for s in self.deployment.schedules if s.program_id == program_id]
        shown = [s for s in using if self.sees_schedule(s)]
        return shown, len(shown) < len(using)


def _one(objects: Iterable[Any], object_id: str, kind: str) -> Any:
    for found in objects:
        if found.id == object_id:
            return found
    raise NotFound(f"no {kind} {object_id!r}")


def scope_for(user: User, store: Store, deployment: Deployment) -> Scope:
    """The scope of `user` in the current deployment."""
    areas = {a.id: a for a in deployment.areas}
    speakers = access.visible_speakers(user, deployment.speakers, areas)
    return Scope(
        user=user,
        deployment=deployment,
        areas=areas,
        reach=frozenset(access.area_ids_within(user, areas)),
        speakers={s.id: s for s in speakers},
        owners=owners(store),
    )


def owners(store: Store) -> dict[str, str]:
    """Owner area of every owned message and program ("message:<id>" -> area id)."""
    return store.content.owners()


def set_owner(store: Store, kind: str, object_id: str, area_id: str | None) -> None:
    """Record (or clear, with None) the owner area of an existing message or program."""
    store.content.set_owner(kind, object_id, area_id)


# -- recordings -----------------------------------------------------------------------------


class RecordingRefused(Exception):
    """An uploaded recording cannot be used; `code` says why (empty, type, format,
    undecodable, silent, too_long, too_long_stream, too_big, busy, slow), `detail` carries
    numbers and names for the message."""

    def __init__(self, code: str, **detail: Any) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


def recording_type(filename: str, content_type: str) -> str:
    """The file extension to store an upload under, from its name or its MIME type."""
    ext = Path(filename or "").suffix.lower().lstrip(".")
    if ext in RECORDING_TYPES:
        return ext
    mime = (content_type or "").split(";")[0].strip().lower()
    by_mime = {
        "audio/wav": "wav",
        "audio/x-wav": "wav",
        "audio/wave": "wav",
        "audio/mpeg": "mp3",
        "audio/mp4": "m4a",
        "audio/x-m4a": "m4a",
        "audio/aac": "aac",
        "audio/webm": "webm",
        "video/webm": "webm",
        "audio/ogg": "ogg",
    }
    if mime in by_mime:
        return by_mime[mime]
    raise RecordingRefused("type", ext=ext or mime or "?")


def save_recording(
    folder: Path,
    data: bytes,
    ext: str,
    *,
    sample_rate: int,
    max_s: float,
    max_bytes: int = MAX_RECORDING_BYTES,
) -> tuple[str, str, float]:
    """Check an upload and keep it as `<sha256>.<ext>` in `folder`.

    Returns (file name, sha256, duration in seconds). Empty, oversized, unknown or
    mismatched formats and too long recordings (by the container's own account) are refused
    before any decoding; the decode itself is streamed with a hard cap on samples and time
    and holds one of the few decode slots (`audio.decode`). Undecodable and silent
    recordings are refused too; nothing is kept on refusal.
    """
    if not data:
        raise RecordingRefused("empty")
    if len(data) > max_bytes:
        raise RecordingRefused("too_big", mb=round(len(data) / 2**20), limit=max_bytes // 2**20)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".upload-", suffix=f".{ext}", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        samples = _decode_upload(tmp, ext, sample_rate, max_s)
        duration_s = len(samples) / sample_rate
        if duration_s > max_s:
            raise RecordingRefused("too_long", seconds=round(duration_s), limit=round(max_s))
        peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
        del samples
        if peak <= 10 ** (SILENCE_DBFS / 20) or duration_s < 0.2:
            raise RecordingRefused("silent")
        digest = hashlib.sha256(data).hexdigest()
        name = f"{digest}.{ext}"
        with tmp.open("rb") as kept:  # durable only once accepted: a refusal costs no fsync
            os.fsync(kept.fileno())
        os.replace(tmp, folder / name)
        return name, digest, duration_s
    finally:
        tmp.unlink(missing_ok=True)


def _decode_upload(path: Path, ext: str, sample_rate: int, max_s: float) -> np.ndarray:
    """Probe, check and decode an upload within the limits; RecordingRefused otherwise."""
    try:
        return decode.decode_bounded(path, sample_rate, ext, max_s)
    except decode.UnknownFormat as exc:
        raise RecordingRefused("format", found=exc.found, ext=exc.ext) from exc
    except decode.TooLong as exc:
        if exc.seconds is None:
            raise RecordingRefused("too_long_stream", limit=round(max_s)) from exc
        raise RecordingRefused("too_long", seconds=round(exc.seconds), limit=round(max_s)) from exc
    except decode.DecodeBusy as exc:
        raise RecordingRefused("busy") from exc
    except decode.DecodeTimeout as exc:
        raise RecordingRefused("slow") from exc
    except InvalidInput as exc:
        raise RecordingRefused("empty" if "no sound" in str(exc) else "undecodable") from exc


# -- lexicon ----------------------------------------------------------------------------------


def lexicon(service: Service) -> dict[str, str]:
    """The pronunciation lexicon in use: the panel's saved one, else config.yaml's."""
    raw = service.store.get_meta(LEXICON_KEY)
    if raw:
        return dict(json.loads(raw))
    return dict(service.settings.lexicon)


def save_lexicon(service: Service, entries: Mapping[str, str]) -> None:
    """Store the lexicon (it replaces config.yaml's) and render with it from now on."""
    service.store.set_meta(LEXICON_KEY, json.dumps(dict(entries), ensure_ascii=False))
    apply_lexicon(service, entries)


def apply_lexicon(service: Service, entries: Mapping[str, str]) -> None:
    """Make the renderer use `entries`, and forget clips and plans made with the old one
    (a changed lexicon changes every synthesized clip's key)."""
    renderer = service.library.renderer
    if dict(renderer.settings.lexicon) == dict(entries):
        return
    renderer.settings = dataclasses.replace(renderer.settings, lexicon=dict(entries))
    service.library.forget()
    service.forget_plans()


def parse_lexicon(text: str) -> tuple[dict[str, str], list[int]]:
    """`word = reading` lines into a mapping; returns it and the numbers of bad lines."""
    entries: dict[str, str] = {}
    bad: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        word, sep, reading = line.partition("=")
        if not sep or not word.strip() or not reading.strip() or _bad_pinyin(reading):
            bad.append(number)
            continue
        entries[word.strip()] = reading.strip()
    return entries, bad


def _bad_pinyin(reading: str) -> bool:
    """A reading written in pinyin with a syllable Mandarin does not have (issue 16)."""
    from audio.textnorm.pinyin import looks_like_pinyin, reading_of

    return looks_like_pinyin(reading) and reading_of(reading) is None


def format_lexicon(entries: Mapping[str, str]) -> str:
    return "\n".join(f"{k} = {v}" for k, v in sorted(entries.items()))
