"""A speaker's plan as the device API serves it: the planner's timeline plus its clips.

Pure apart from rendering through the `ClipLibrary`: the deployment and `now` come in.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from audio.errors import AudioError
from broadcaster import planning, schema
from broadcaster.clips import ClipFile, ClipLibrary
from broadcaster.errors import NotFound
from broadcaster.models import Message, Schedule, Speaker, SpeakerKind, Urgent, VoiceSettings
from broadcaster.store.records import Deployment

log = logging.getLogger(__name__)

# A plan covers today from local midnight and the next two days: always 36 h ahead or more,
# and its content (so its ETag) only changes with an edit, an urgent or a new day.
PLAN_DAYS = 2.5


@dataclass(frozen=True, slots=True)
class ClipProblem:
    """A clip that could not be rendered: what it was for and why."""

    message_id: str | None
    urgent_id: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class PlanDocument:
    """A plan: its content, ETag, timeline and the content already serialized.

    Speakers with the same schedules and urgents share one document; the device API puts
    the speaker id, `generated_at` and `server_time` in front of `core_json` (or of
    `core_gzip`, as a first gzip member) so a request costs no serialization.
    """

    speaker_id: str
    body: Mapping[str, Any]
    etag: str
    items: tuple[planning.PlanItem, ...]
    problems: tuple[ClipProblem, ...]
    generated_at: str
    core_json: bytes  # the content as a JSON object, without "speaker"
    core_gzip: bytes  # gzip of core_json without its opening brace

    def response(self, speaker_id: str, server_time: str, *, gzipped: bool) -> bytes:
        """The JSON answer for one speaker (gzip-encoded when `gzipped`)."""
        head = (
            json.dumps(
                {
                    "speaker": speaker_id,
                    "generated_at": self.generated_at,
                    "server_time": server_time,
                },
                ensure_ascii=False,
            ).encode()[:-1]
            + b","
        )
        if gzipped:
            return gzip.compress(head, compresslevel=1) + self.core_gzip
        return head + self.core_json[1:]


def plan_span(now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[local midnight of `now`'s day, + 2.5 days): the span a served plan covers."""
    local = now.astimezone(zone)
    start = planning.wall_time(local.date(), datetime.min.time(), zone)
    end = planning.from_ms(planning.to_ms(start) + int(PLAN_DAYS * 86_400_000), zone)
    return start, end


def iso(moment: datetime | None, zone: ZoneInfo) -> str | None:
    """ISO 8601 with the UTC offset, in the deployment's zone, to the millisecond."""
    return None if moment is None else moment.astimezone(zone).isoformat(timespec="milliseconds")


def etag_of(content: Mapping[str, Any]) -> str:
    """A strong ETag over canonical JSON."""
    raw = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return '"' + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32] + '"'


def resolve_clips(
    deployment: Deployment,
    library: ClipLibrary,
    default_voice: VoiceSettings,
    message_ids: set[str] | None = None,
) -> tuple[dict[str, ClipFile], dict[str, ClipFile], ClipFile | None, list[ClipProblem]]:
    """Render (or find) the clips of messages, live urgents and the self-test.

    Returns (clips by message id, clips by urgent id, self-test clip, problems). A clip that
    fails is left out (the planner skips it) and reported, so one bad message never
    silences a speaker.
    """
    problems: list[ClipProblem] = []
    messages: dict[str, Message] = {m.id: m for m in deployment.messages}
    by_message: dict[str, ClipFile] = {}
    wanted = set(messages) if message_ids is None else message_ids & set(messages)
    for message_id in sorted(wanted):
        clip = _attempt(
            partial(library.for_message, messages[message_id]), problems, message_id, None
        )
        if clip is not None:
            by_message[message_id] = clip
    by_urgent: dict[str, ClipFile] = {}
    for urgent in deployment.urgents:
        clip = _attempt(
            partial(_urgent_clip, urgent, messages, library, default_voice),
            problems,
            None,
            urgent.id,
        )
        if clip is not None:
            by_urgent[urgent.id] = clip
    selftest = _attempt(lambda: library.selftest(default_voice), problems, None, None)
    return by_message, by_urgent, selftest, problems


def _urgent_clip(
    urgent: Urgent, messages: Mapping[str, Message], library: ClipLibrary, voice: VoiceSettings
) -> ClipFile:
    if urgent.text is not None:
        return library.for_text(urgent.text, voice)
    message = messages.get(urgent.message_id or "")
    if message is None:
        raise NotFound(f"urgent {urgent.id} names unknown message {urgent.message_id!r}")
    return library.for_message(message)


def _attempt(
    render: Callable[[], ClipFile],
    problems: list[ClipProblem],
    message_id: str | None,
    urgent_id: str | None,
) -> ClipFile | None:
    try:
        return render()
    except (AudioError, NotFound) as exc:
        log.warning("clip for message %s / urgent %s failed: %s", message_id, urgent_id, exc)
        problems.append(ClipProblem(message_id, urgent_id, str(exc)))
        return None


def build_plan(
    deployment: Deployment,
    speaker_id: str,
    library: ClipLibrary,
    *,
    zone: ZoneInfo,
    default_voice: VoiceSettings,
    now: datetime,
    heartbeat_s: int,
    span: tuple[datetime, datetime] | None = None,
) -> PlanDocument:
    """The plan document for one speaker at `now`."""
    speakers = {s.id: s for s in deployment.speakers}
    speaker = speakers.get(speaker_id)
    if speaker is None:
        raise NotFound(f"no speaker {speaker_id!r}")
    start, end = span or plan_span(now, zone)
    areas = {a.id: a for a in deployment.areas}
    programs = {p.id: p for p in deployment.programs}
    mine = planning.schedules_for(speaker, deployment.schedules, areas)
    needed = {
        m for s in mine if s.program_id in programs for m in programs[s.program_id].message_ids
    }
    chain = set(planning.area_chain(speaker.area_id, areas))
    urgent_list = [
        u for u in deployment.urgents if speaker_id in u.speaker_ids or chain & set(u.area_ids)
    ]
    scoped = Deployment(
        deployment.areas, deployment.speakers, deployment.messages, deployment.programs,
        deployment.schedules, tuple(urgent_list), deployment.revision,
    )  # fmt: skip
    by_message, by_urgent, selftest, problems = resolve_clips(
        scoped, library, default_voice, needed
    )
    items = planning.plan(
        speaker,
        schedules=mine,
        programs=programs,
        clips={mid: clip.ref for mid, clip in by_message.items()},
        urgents=[(u, by_urgent[u.id].ref) for u in urgent_list if u.id in by_urgent],
        areas=areas,
        zone=zone,
        start=start,
        end=end,
        now=now,
        selftest=selftest.ref if selftest else None,
    )
    windows = windows_union(mine, zone, start, end)
    files = {c.key: c for c in [*by_message.values(), *by_urgent.values()]}
    if selftest is not None:
        files[selftest.key] = selftest
    used = {item.clip for item in items}
    chime = _attempt(library.chime, problems, None, None)
    if chime is not None:  # cached on every speaker before any urgent needs it
        files[chime.key] = chime
        used.add(chime.key)
    content = schema.dump(
        schema.PlanContent(
            zone=zone.key,
            valid_from=start.astimezone(zone),
            valid_until=end.astimezone(zone),
            windows=tuple(
                schema.Window(start=a.astimezone(zone), end=b.astimezone(zone)) for a, b in windows
            ),
            items=tuple(planning.item_wire(item) for item in items),
            clips={key: schema.Clip.model_validate(files[key].to_json()) for key in sorted(used)},
            chime=chime.key if chime is not None else None,
            heartbeat_s=heartbeat_s,
            **_shapes(deployment, speaker, {i.message_id for i in items if i.message_id}),
        )
    )
    etag = etag_of(content)
    core = json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()
    return PlanDocument(
        speaker_id=speaker_id,
        body=content,
        etag=etag,
        items=items,
        problems=tuple(problems),
        generated_at=iso(now, zone) or "",
        core_json=core,
        core_gzip=gzip.compress(core[1:], compresslevel=6),
    )


def _shapes(deployment: Deployment, speaker: Speaker, played: set[str]) -> dict[str, Any]:
    """What a vehicle decides with offline (issue 13): the quiet zones, and for each message
    it plays that is bound to areas, those areas' polygons. A bound area without a polygon
    stands for those below it that have one (a township: its villages); a message none of
    whose areas has a shape plays everywhere, as without GPS. Fixed loudspeakers get none."""
    if speaker.kind is not SpeakerKind.VEHICLE:
        return {}
    areas = {a.id: a for a in deployment.areas}
    children: dict[str, list[str]] = {}
    for a in deployment.areas:
        if a.parent_id is not None:
            children.setdefault(a.parent_id, []).append(a.id)

    def shaped(area_id: str, seen: frozenset[str] = frozenset()) -> list[str]:
        area = areas.get(area_id)
        if area is None or area_id in seen:
            return []
        if area.polygon is not None:
            return [area_id]
        below = sorted(children.get(area_id, ()))
        return [found for child in below for found in shaped(child, seen | {area_id})]

    bound: dict[str, tuple[str, ...]] = {}
    for message in deployment.messages:
        if message.id in played and message.area_ids:
            ids = tuple(dict.fromkeys(x for a in message.area_ids for x in shaped(a)))
            if ids:
                bound[message.id] = ids
    used = sorted({a for ids in bound.values() for a in ids})
    zones = [
        schema.QuietZone(
            id=z.id,
            name=z.name,
            polygon=z.polygon,
            hours=tuple(schema.QuietHours(start=_hhmm(h.start), end=_hhmm(h.end)) for h in z.hours),
            action=z.action.value,
            volume=z.volume,
        )
        for z in deployment.quiet_zones
    ]
    return {
        "quiet_zones": tuple(zones),
        "message_areas": bound,
        "areas": {a: areas[a].polygon for a in used},
    }


def _hhmm(value: time) -> str:
    return value.isoformat("minutes" if value.second == 0 else "seconds")


def windows_union(
    schedules: Sequence[Schedule], zone: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The union of the speaker's windows over the span (the client's hard stops)."""
    spans = sorted(
        (planning.to_ms(w.start), planning.to_ms(w.end))
        for s in schedules
        if s.enabled
        for w in planning.windows(s, zone, start - timedelta(days=1), end)
    )
    merged: list[list[int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    lo, hi = planning.to_ms(start), planning.to_ms(end)
    return [
        (planning.from_ms(a, zone), planning.from_ms(b, zone))
        for a, b in merged
        if b > lo and a < hi
    ]
