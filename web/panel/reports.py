"""Reports: the play log by day, area and speaker (chart per hour, CSV); the coverage of the
villages by day (issue 13); the audit log."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, request, stream_with_context
from werkzeug.exceptions import BadRequest

from broadcaster import coverage
from broadcaster.coverage import Village, VillageCoverage
from broadcaster.editing import Scope
from broadcaster.models import Area, AreaKind, PlayKind, PlayLogEntry, Role, SpeakerKind
from broadcaster.planning import area_chain
from broadcaster.store.devices import PlayTotal, day_bounds
from broadcaster.store.retention import first_detail_day, seconds_span
from web.panel.common import local, now, page, require
from web.panel.i18n import _
from web.panel.wording import ACTIONS, Names, audit_line, kind_text, names_for, reason_text
from web.runtime import runtime

bp = Blueprint("reports", __name__)

# Days whose bounds exist in UTC in every zone (0001-01-01 00:00 +08:00 and the end of
# 9999-12-31 do not: they were a 500).
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(9998, 12, 31)
MAX_AUDIT_SEQ = 2**63 - 1  # the database's integer column
# A cell starting with one of these is a formula to a spreadsheet program (CSV injection:
# `=HYPERLINK(...)` in a device-reported reason); full-width forms too (Chinese input).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def csv_cell(value: object) -> str:
    """A CSV cell that spreadsheet programs show as text: a cell that would start a
    formula gets a leading apostrophe (the usual neutralization; the rest is unchanged)."""
    text = str(value)
    if text.lstrip(" ").startswith(FORMULA_STARTS):
        return "'" + text
    return text


MAX_DAYS = 31  # one report or CSV covers at most a month
SHOWN = 500  # plays listed on the page (the CSV has them all; the page's note says 500)
CSV_PAGE = 2000  # plays read from the database (and written out) at a time


def _parse_day(raw: str) -> tuple[date | None, str | None]:
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        return None, _("Enter a date like 2025-05-01.")
    if not FIRST_DAY <= day <= LAST_DAY:
        return None, _(
            "Enter a date from %(first)s to %(last)s.",
            first=FIRST_DAY.isoformat(),
            last=LAST_DAY.isoformat(),
        )
    return day, None


def _days() -> tuple[date, date, str | None]:
    """The days asked for (`day`, or `from` and `to`), or today and why they cannot be shown."""
    today = now().astimezone(runtime().settings.zone).date()
    one = (request.args.get("day") or "").strip()
    first_raw = one or (request.args.get("from") or "").strip()
    last_raw = one or (request.args.get("to") or "").strip()
    first, last = today, today
    if first_raw:
        found, error = _parse_day(first_raw)
        if found is None:
            return today, today, error
        first = last = found
    if last_raw:
        found, error = _parse_day(last_raw)
        if found is None:
            return today, today, error
        last = found
        if not first_raw:
            first = last
    if last < first:
        return today, today, _("The last day is before the first day.")
    if (last - first).days >= MAX_DAYS:
        return today, today, _("Choose at most %(n)s days.", n=MAX_DAYS)
    return first, last, None


@dataclass
class Query:
    """The plays asked for: the days, the area and loudspeaker chosen, and the loudspeakers
    the user may see (the store reads only theirs)."""

    first: date
    last: date
    area: str
    speaker: str
    error: str | None
    bad_days: bool
    start: datetime
    end: datetime
    speaker_ids: list[str]
    # The first day whose plays keep their own rows (`retention.plays_days`): earlier days
    # have their daily totals only (no list of plays, no plays per hour).
    detail_from: date

    @property
    def retired(self) -> bool:
        """True when some of the days asked for have their totals only."""
        return self.first < self.detail_from

    @property
    def where(self) -> dict[str, Any]:
        """The store's filter for these plays."""
        return {"speaker_ids": self.speaker_ids, "area_id": self.area or None}


def _query() -> Query:
    me = require(Role.ADMIN, Role.CHIEF)
    rt = runtime()
    zone = rt.settings.zone
    first, last, error = _days()
    bad_days = error is not None
    area = request.args.get("area") or ""
    speaker = request.args.get("speaker") or ""
    if area and area not in me.reach:
        area, error = "", _("Choose areas from the list.")
    if speaker and speaker not in me.speakers:
        speaker, error = "", _("Choose loudspeakers from the list.")
    start = day_bounds(first, zone)[0]
    end = day_bounds(last, zone)[1]
    # Only the user's loudspeakers are read (a chief's few rows of a month of the district's).
    speaker_ids = [speaker] if speaker else sorted(me.speakers)
    today = now().astimezone(zone).date()
    detail_from = first_detail_day(today, rt.settings.retention.plays_days)
    return Query(first, last, area, speaker, error, bad_days, start, end, speaker_ids, detail_from)


@dataclass
class Total:
    """Plays of one message or one loudspeaker: how many, played to the end, urgent, minutes."""

    name: str
    area: str = ""
    plays: int = 0
    completed: int = 0
    urgent: int = 0
    seconds: float = 0.0

    def add(self, counted: PlayTotal) -> None:
        self.plays += counted.plays
        self.completed += counted.completed
        self.urgent += counted.urgent
        self.seconds += counted.seconds

    @property
    def minutes(self) -> str:
        return f"{self.seconds / 60:.1f}"


def _what(message_id: str | None, kind: PlayKind, names: Names) -> str:
    """What was played, by name: the message's title, else its kind (a spoken urgent text)."""
    if message_id:
        return names.message(message_id)
    if kind is PlayKind.URGENT:
        return _("Urgent announcement (typed text)")
    return kind_text(kind.value)


def totals(q: Query, names: Names, areas: dict[str, str]) -> tuple[list[Total], list[Total]]:
    """Totals per message (by what was played) and per loudspeaker, most played first:
    counted by the database (one GROUP BY), never by loading the plays. The plays still
    kept and the daily totals of the plays retired (`retention.plays_days`) are added, read
    in one snapshot: the numbers are the same before and after a play is retired."""
    store = runtime().service.store
    span = seconds_span(runtime().settings.zone)
    with store.snapshot():
        counted = store.devices.play_totals(
            q.start, q.end, by="speaker_message", seconds_within=span, **q.where
        )  # one scan: a row per loudspeaker and message, folded both ways here
        retired = store.retention.play_day_totals(
            q.first, q.last, by="speaker_message", **q.where
        )  # empty unless some of the days are older than the per-play detail
    per_message: dict[str, Total] = {}  # by name: kinds of one message, typed urgents
    per_speaker: dict[str, Total] = {}
    for (speaker_id, message_id, kind), total in [*counted.items(), *retired.items()]:
        what = _what(message_id, kind, names)
        per_message.setdefault(what, Total(what)).add(total)
        if speaker_id not in per_speaker:
            name = names.speaker(speaker_id)
            per_speaker[speaker_id] = Total(name, areas.get(speaker_id, ""))
        per_speaker[speaker_id].add(total)
    order = lambda t: (-t.plays, t.name)  # noqa: E731
    return sorted(per_message.values(), key=order), sorted(per_speaker.values(), key=order)


def _names() -> tuple[Names, dict[str, str]]:
    me = require(Role.ADMIN, Role.CHIEF)
    names = names_for(me)
    speaker_areas = {s.id: names.area(s.area_id) for s in me.speakers.values()}
    return names, speaker_areas


def detail_note(q: Query) -> str:
    """What the page and the CSV say when some days have their daily totals only."""
    return _(
        "Each play is kept %(n)s days: before %(day)s the totals count every play, but the "
        "plays themselves and the plays per hour are no longer there.",
        n=runtime().settings.retention.plays_days,
        day=q.detail_from.isoformat(),
    )


@bp.get("/reports")
def plays() -> tuple[str, int]:
    me = require(Role.ADMIN, Role.CHIEF)
    q = _query()
    zone = runtime().settings.zone
    devices = runtime().service.store.devices
    per_hour = [0] * 24
    for quarter, count in devices.plays_per_quarter_hour(q.start, q.end, **q.where).items():
        per_hour[quarter.astimezone(zone).hour] += count
    peak = max(per_hour) or 1
    names, speaker_areas = _names()
    per_message, per_speaker = totals(q, names, speaker_areas)
    shown = list(islice(devices.iter_plays(q.start, q.end, page=SHOWN, **q.where), SHOWN))
    body = page(
        "panel/reports.html",
        first=q.first,
        last=q.last,
        area=q.area,
        speaker=q.speaker,
        entries=shown,
        total=sum(t.plays for t in per_speaker),
        per_hour=per_hour,
        peak=peak,
        error=q.error,
        names=names,
        what=lambda e: _what(e.message_id, e.kind, names),
        reason_text=reason_text,
        kind_text=kind_text,
        per_message=per_message,
        per_speaker=per_speaker,
        speakers=list(me.speakers.values()),
        areas=me.own_areas(),
        local=local,
        time_format="%H:%M:%S" if q.first == q.last else "%m-%d %H:%M:%S",
        max_days=MAX_DAYS,
        retired_note=detail_note(q) if q.retired else "",
        kept=sum(per_hour),  # the plays that still have their rows (the chart counts them)
    )
    return body, 400 if q.bad_days else 200


def _seconds(entry: PlayLogEntry) -> float | None:
    """How long a play lasted; None when a time is beyond what the zone can show (a bad row)."""
    for moment in (entry.started_at, entry.ended_at):
        if not 1 < moment.year < 9999 and not _csv_time(moment, runtime().settings.zone):
            return None
    return max(0.0, (entry.ended_at - entry.started_at).total_seconds())


def _csv_time(moment: datetime | None, zone: ZoneInfo) -> str:
    """`2026-12-01 08:00:00` (local), which spreadsheet programs read as a date and time;
    empty when unknown or beyond what the zone can show."""
    if moment is None:
        return ""
    try:
        shown = moment.astimezone(zone)
    except (OverflowError, ValueError):
        return ""
    return shown.isoformat(" ", "seconds")[:19]  # without the offset


@bp.get("/reports/plays.csv")
def plays_csv() -> Response:
    """The plays of the chosen days for a spreadsheet: a row per play with names and local
    times Excel reads as dates, then the totals per message and per loudspeaker."""
    q = _query()
    if q.bad_days:  # not today's file under another day's name
        raise BadRequest(q.error)
    names, speaker_areas = _names()
    zone = runtime().settings.zone
    yes, no = csv_cell(_("yes")), csv_cell(_("no"))
    kinds = {k: csv_cell(kind_text(k.value)) for k in PlayKind}
    whats: dict[tuple[str | None, PlayKind], str] = {}
    devices = runtime().service.store.devices
    out = io.StringIO()
    writer = csv.writer(out)

    def row(cells: Iterable[object]) -> None:
        writer.writerow(csv_cell(cell) for cell in cells)

    def take() -> str:
        text = out.getvalue()
        out.seek(0)
        out.truncate()
        return text

    row(
        [
            _("Loudspeaker"),
            _("Area"),
            _("Message"),
            _("Kind"),
            _("Urgent play"),
            _("Planned start"),
            _("Started"),
            _("Ended"),
            _("Seconds"),
            _("Played to the end"),
            _("Why it stopped early"),
        ]
    )
    head = "\ufeff" + take()  # a BOM so spreadsheet programs read the Chinese names
    counts = [_("Plays"), _("Played to the end"), _("Urgent plays"), _("Minutes")]
    by_message, by_speaker = _("Totals per message"), _("Totals per loudspeaker")
    area_word = _("Area")
    retired_note = detail_note(q)

    def rows() -> Iterator[str]:
        """The file in pieces: a month of a district's plays is tens of MB, written while
        other requests (long polls, heartbeats) get their turn between the pieces."""
        yield head
        # Every text cell once through csv_cell (names, kinds and reasons repeat); times and
        # numbers start with a digit.
        speakers: dict[str, tuple[str, str]] = {}
        reasons: dict[str, str] = {}
        plays = devices.iter_plays(q.start, q.end, page=CSV_PAGE, **q.where)
        for n, e in enumerate(plays, start=1):
            key = (e.message_id, e.kind)
            if key not in whats:
                whats[key] = csv_cell(_what(e.message_id, e.kind, names))
            if e.speaker_id not in speakers:
                speakers[e.speaker_id] = (
                    csv_cell(names.speaker(e.speaker_id)),
                    csv_cell(speaker_areas.get(e.speaker_id, "")),
                )
            if e.reason not in reasons:
                if len(reasons) > 1000:  # device-reported texts: a bounded cache
                    reasons.clear()
                reasons[e.reason] = csv_cell(reason_text(e.reason))
            writer.writerow(
                (
                    *speakers[e.speaker_id],
                    whats[key],
                    kinds[e.kind],
                    yes if e.kind is PlayKind.URGENT else "",
                    _csv_time(e.planned_start, zone),
                    _csv_time(e.started_at, zone),
                    _csv_time(e.ended_at, zone),
                    "" if (seconds := _seconds(e)) is None else f"{seconds:.1f}",
                    yes if e.completed else no,
                    reasons[e.reason],
                )
            )
            if n % CSV_PAGE == 0:
                yield take()
                time.sleep(0)  # gevent: let the other greenlets run
        per_message, per_speaker = totals(q, names, speaker_areas)
        writer.writerow([])
        row([by_message, "", *counts])
        for t in per_message:
            row([t.name, "", t.plays, t.completed, t.urgent, t.minutes])
        writer.writerow([])
        row([by_speaker, area_word, *counts])
        for t in per_speaker:
            row([t.name, t.area, t.plays, t.completed, t.urgent, t.minutes])
        if q.retired:
            writer.writerow([])
            row([retired_note])
        yield take()

    span = q.first.isoformat() if q.first == q.last else f"{q.first}_{q.last}"
    return Response(
        stream_with_context(rows()),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=plays-{span}.csv"},
    )


# -- coverage: did every village hear it (issue 13, item 5; broadcaster/coverage.py) -----------

VILLAGE_KINDS = (AreaKind.VILLAGE, AreaKind.COMMUNITY)


@dataclass
class CoverageRow:
    """One village's day: names, minutes from vehicles and fixed loudspeakers, by message."""

    area: Area
    parent: str
    found: VillageCoverage
    messages: list[tuple[str, str, str, str]]  # (what, vehicle, fixed, total minutes)

    @property
    def vehicle_minutes(self) -> str:
        return _minutes(self.found.vehicle_seconds)

    @property
    def fixed_minutes(self) -> str:
        return _minutes(self.found.fixed_seconds)

    @property
    def total_minutes(self) -> str:
        return _minutes(self.found.total_seconds)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


def _coverage_day() -> tuple[date, str | None]:
    today = now().astimezone(runtime().settings.zone).date()
    raw = (request.args.get("day") or "").strip()
    if not raw:
        return today, None
    day, error = _parse_day(raw)
    return (day, None) if day is not None else (today, error)


def coverage_rows(me: Scope, day: date) -> list[CoverageRow]:
    """The villages the user may see (areas with an outline), worst heard first: flagged,
    then by minutes and name. Every vehicle counts (a township's vehicle is heard in a
    chief's village too); a message the user may not see is named as another area's."""
    rt = runtime()
    zone = rt.settings.zone
    deployment = me.deployment
    areas = {a.id: a for a in deployment.areas}
    shown = [
        me.areas[a]
        for a in sorted(me.reach)
        if a in me.areas and me.areas[a].polygon and me.areas[a].kind in VILLAGE_KINDS
    ]
    fixed = [s for s in deployment.speakers if s.kind is SpeakerKind.FIXED]
    villages = [
        Village(
            a.id,
            a.polygon or (),
            frozenset(s.id for s in fixed if a.id in area_chain(s.area_id, areas)),
        )
        for a in shown
    ]
    vehicle_ids = [s.id for s in deployment.speakers if s.kind is SpeakerKind.VEHICLE]
    start, end = day_bounds(day, zone)
    if day == now().astimezone(zone).date():
        tracks = rt.service.today_tracks.get(vehicle_ids, now())
    else:  # a straight step may reach across midnight: the neighbours' edges too
        tracks = {}
        for vehicle in vehicle_ids:  # a vehicle at a time (~20 ms), other requests between
            where = rt.service.store.tracks.positions(
                vehicle, start - coverage.MAX_GAP, end + coverage.MAX_GAP
            )
            if where:
                tracks[vehicle] = coverage.track_from_rows(where)
            time.sleep(0)
    wanted = set(vehicle_ids) | {i for v in villages for i in v.fixed_speaker_ids}
    plays = rt.service.store.devices.iter_plays(start, end, speaker_ids=wanted, page=CSV_PAGE)
    found = coverage.coverage(
        villages,
        plays,
        tracks,
        min_minutes=rt.settings.coverage_min_minutes,
        between=lambda: time.sleep(0),  # gevent: other requests run between villages
    )
    names = names_for(me)
    rows = []
    for area, village in zip(shown, found, strict=True):
        messages = [
            (
                _covered_what(key, names),
                _minutes(moving),
                _minutes(still),
                _minutes(moving + still),
            )
            for key, moving, still in village.messages()
        ]
        parent = names.area(area.parent_id) if area.parent_id in me.areas else ""
        rows.append(CoverageRow(area, parent, village, messages))
    rows.sort(key=lambda r: (not r.found.flagged, r.found.total_seconds, r.area.name))
    return rows


def _covered_what(key: coverage.MessageKey, names: Names) -> str:
    message_id, kind = key
    if message_id and message_id not in names.messages:
        return _("A message of another area")
    return _what(message_id, kind, names)


def _coverage_words(day: date) -> dict[str, Any]:
    settings = runtime().settings
    today = now().astimezone(settings.zone).date()
    old = (today - day).days > settings.retention.track_days
    return {
        "min_minutes": settings.coverage_min_minutes,
        "track_note": _(
            "GPS tracks are kept %(n)s days: the vehicles' minutes of this day are no longer "
            "known.",
            n=settings.retention.track_days,
        )
        if old
        else "",
    }


@bp.get("/reports/coverage")
def coverage_page() -> tuple[str, int]:
    me = require(Role.ADMIN, Role.CHIEF)
    day, error = _coverage_day()
    rows = coverage_rows(me, day)
    body = page(
        "panel/coverage.html",
        day=day,
        rows=rows,
        error=error,
        flagged=sum(1 for r in rows if r.found.flagged),
        **_coverage_words(day),
    )
    return body, 400 if error else 200


@bp.get("/reports/coverage.csv")
def coverage_csv() -> Response:
    """The coverage of one day for a spreadsheet: a row per village and message, then a row
    per village with its totals and whether it is below the minimum."""
    me = require(Role.ADMIN, Role.CHIEF)
    day, error = _coverage_day()
    if error:
        raise BadRequest(error)
    rows = coverage_rows(me, day)
    out = io.StringIO()
    writer = csv.writer(out)

    def row(cells: Iterable[object]) -> None:
        writer.writerow(csv_cell(cell) for cell in cells)

    minutes = [_("Minutes from vehicles"), _("Minutes from fixed loudspeakers"), _("Minutes")]
    row([_("Village"), _("Township"), _("Message"), *minutes])
    for r in rows:
        for what, moving, still, total in r.messages:
            row([r.area.name, r.parent, what, moving, still, total])
    writer.writerow([])
    row([_("Totals per village"), _("Township"), *minutes, _("Below the minimum")])
    for r in rows:
        flag = _("yes") if r.found.flagged else _("no")
        row([r.area.name, r.parent, r.vehicle_minutes, r.fixed_minutes, r.total_minutes, flag])
    writer.writerow([])
    row([_("Minimum per village and day (minutes)"), runtime().settings.coverage_min_minutes])
    return Response(
        "\ufeff" + out.getvalue(),  # a BOM so spreadsheet programs read the Chinese names
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=coverage-{day.isoformat()}.csv"},
    )


@bp.get("/audit")
def audit() -> tuple[str, int]:
    me = require(Role.ADMIN)
    raw = (request.args.get("before") or "").strip()
    before, error = None, None
    if raw:
        try:
            before = int(raw)
        except ValueError:
            before = None
        if before is None or not 1 <= before <= MAX_AUDIT_SEQ:
            # A number beyond the database's integer column was a 500.
            before, error = None, _("“Older than” must be an entry number (#) from the list.")
    action = request.args.get("action") or None
    store = runtime().service.store
    entries = store.journal.list_audit(limit=100, before_seq=before, action=action)
    names = names_for(me, store.people.list_users(), store.urgents.list_urgents(limit=500))
    lines = [audit_line(e, names, local(e.at)) for e in entries]
    actions = sorted(ACTIONS.items(), key=lambda kv: kv[0])
    body = page(
        "panel/audit.html",
        entries=lines,
        action=action or "",
        actions=[(code, _(label)) for code, label in actions],
        error=error,
    )
    return body, 400 if error else 200
