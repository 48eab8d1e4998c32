"""Load `config.yaml` into a typed, validated `Settings` (the deployment's seed and settings).

Every error is a `ConfigError` naming the file, the key path and what was expected.
Cross-references (a schedule naming an unknown program...) are checked by
`broadcaster.checks`, which lists every problem at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from audio.render import RenderSettings
from broadcaster import limits
from broadcaster.cap.settings import CapSettings
from broadcaster.cap.settings import load as load_cap
from broadcaster.errors import ConfigError, ValidationError
from broadcaster.models import (
    Area,
    Message,
    Program,
    QuietHours,
    QuietZone,
    Route,
    Schedule,
    Speaker,
    Stop,
    User,
    VoiceSettings,
)
from broadcaster.yamlload import Node, read_yaml

T = TypeVar("T")

WEEKDAY_NAMES = {
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
    "周一": 0, "周二": 1, "周三": 2, "周四": 3, "周五": 4, "周六": 5, "周日": 6, "周天": 6,
}  # fmt: skip
WEEKDAY_SETS = {
    "daily": frozenset(range(7)),
    "每天": frozenset(range(7)),
    "workdays": frozenset(range(5)),
    "工作日": frozenset(range(5)),
    "weekends": frozenset({5, 6}),
    "周末": frozenset({5, 6}),
}


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """How `broadcaster serve` runs and how it judges speakers."""

    host: str = "127.0.0.1"
    port: int = 8080
    heartbeat_s: int = 30
    offline_after_missed: int = 3
    prerender_hours: int = 36
    long_poll_max_s: int = 60
    # How long a connection may keep the server waiting (broadcaster/deadlines.py): request
    # line and headers in total; between kept-alive requests; a body (plus one second per
    # `body_min_bytes_per_s` bytes received); handing over an answer (plus the same rate).
    # A long poll is the server waiting, not the client: these never cut one.
    header_timeout_s: int = 10
    # Longer than the 30 s heartbeat: a speaker's kept-alive connection is used again for its
    # next heartbeat and plan check instead of a new TCP (and TLS) connection each time.
    idle_timeout_s: int = 45
    body_timeout_s: int = 20
    body_min_bytes_per_s: int = 500
    send_timeout_s: int = 60
    # Mark the session cookie Secure: set true when the panel is served over HTTPS.
    secure_cookies: bool = False
    # Reverse proxies (addresses or networks) whose X-Forwarded-For is believed: the client
    # is the right-most hop in it that is not one of them. Empty: the header is ignored.
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    # Rendering (issue 10, item 5): clips made at once, people's renders admitted at once
    # (running and waiting; more get 429), per person, and the clip cache's size budget.
    render_slots: int = 2
    render_queue: int = 8
    renders_per_user: int = 2
    clip_cache_mb: int = 2048


@dataclass(frozen=True, slots=True)
class RetentionSettings:
    """How long growing data keeps its rows (issue 14, docs/design.md "Storage").

    `plays_days`: a play's own row (the per-play detail of reports and the CSV) is kept this
    many days after its day; then the `retire-plays` job folds it into the daily totals per
    loudspeaker and message (`play_days`, kept for good) and deletes the row. 400: more
    than the 366 days a client may upload a play late (its id still finds the row, so a
    resent play is not counted twice) and a month of last year still has its plays.
    `track_days`: the vehicles' GPS points (the map, the coverage report: a quarter).
    `events_days`: the long-poll events; a client away longer resyncs from its plan.
    The audit log is kept whole (append-only by design)."""

    plays_days: int = 400
    track_days: int = 90
    events_days: int = 7


@dataclass(frozen=True, slots=True)
class Settings:
    """The whole deployment as read from the configuration file."""

    source: Path
    name: str
    zone: ZoneInfo
    default_voice: VoiceSettings
    render: RenderSettings
    selftest_text: str
    server: ServerSettings
    lexicon: Mapping[str, str]
    areas: tuple[Area, ...] = ()
    speakers: tuple[Speaker, ...] = ()
    messages: tuple[Message, ...] = ()
    programs: tuple[Program, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    users: tuple[User, ...] = ()
    # Quiet zones (issue 13): hospitals, schools during exams.
    quiet_zones: tuple[QuietZone, ...] = ()
    default_window: tuple[dt.time, dt.time] = limits.DEFAULT_WINDOW
    extra: Mapping[str, object] = field(default_factory=dict)
    # `live.max_minutes`: a live page's longest length (issue 12, docs/live-paging.md).
    live_max_minutes: int = limits.LIVE_MIN.default
    # `cap:` CAP 1.2 in and out (issue 15, broadcaster/cap/settings.py, docs/cap.md).
    cap: CapSettings = field(default_factory=CapSettings)
    # `retention:` how long plays, tracks and events keep their rows (issue 14).
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    # `coverage.min_minutes`: villages heard less on a day are flagged (issue 13, item 5).
    coverage_min_minutes: int = limits.COVERAGE_MIN.default


TOP_KEYS = {
    "deployment", "audio", "server", "lexicon", "areas", "speakers", "messages",
    "programs", "schedules", "users", "live", "cap", "quiet_zones", "retention",
    "coverage",
}  # fmt: skip


def load_settings(path: Path) -> Settings:
    """Read and validate the configuration file at `path`."""
    root = Node(read_yaml(path), path)
    if root.value is None:
        root.fail("a mapping with at least `deployment`")
    top = root.mapping(TOP_KEYS)
    deployment = root.get("deployment")
    deployment.mapping({"name", "timezone", "default_window"})
    zone = _zone(deployment.get("timezone"))
    window = _window(deployment.get("default_window", {}))
    default_voice, render, selftest = _audio(root.get("audio", {}))
    lexicon = _lexicon(root.get("lexicon", {}))
    render = dataclasses.replace(render, lexicon=lexicon)
    return Settings(
        source=path,
        name=deployment.get("name").str(),
        zone=zone,
        default_voice=default_voice,
        render=render,
        selftest_text=selftest,
        server=_server(root.get("server", {})),
        lexicon=lexicon,
        areas=tuple(_areas(root.get("areas", []), None)),
        speakers=tuple(_speaker(n) for n in _list(top, "speakers")),
        messages=tuple(_message(n, default_voice) for n in _list(top, "messages")),
        programs=tuple(_program(n) for n in _list(top, "programs")),
        schedules=tuple(_schedule(n, window) for n in _list(top, "schedules")),
        users=tuple(_user(n) for n in _list(top, "users")),
        quiet_zones=tuple(_quiet_zone(n) for n in _list(top, "quiet_zones")),
        default_window=window,
        live_max_minutes=_int(
            root.get("live", {}).mapping({"max_minutes"}), "max_minutes", limits.LIVE_MIN
        ),
        cap=load_cap(root.get("cap", {})),
        retention=_retention(root.get("retention", {})),
        coverage_min_minutes=_int(
            root.get("coverage", {}).mapping({"min_minutes"}), "min_minutes", limits.COVERAGE_MIN
        ),
    )


def _retention(node: Node) -> RetentionSettings:
    """`retention: {plays_days, track_days, events_days}`, each a whole number of days."""
    r = node.mapping(set(RetentionSettings.__dataclass_fields__))
    base = RetentionSettings()
    return RetentionSettings(
        plays_days=r["plays_days"].int(1, 36_500) if "plays_days" in r else base.plays_days,
        track_days=r["track_days"].int(1, 36_500) if "track_days" in r else base.track_days,
        events_days=r["events_days"].int(1, 365) if "events_days" in r else base.events_days,
    )


def _list(top: dict[str, Node], key: str) -> list[Node]:
    node = top.get(key)
    return list(node.items()) if node is not None else []


def _built(node: Node, build: type[T], **kwargs: Any) -> T:
    """Construct a model; its own validation errors become ConfigErrors at `node`'s path."""
    try:
        return build(**kwargs)
    except ValidationError as exc:
        raise ConfigError(f"{node.file}: {node.path}: {exc}") from exc


def _int(
    keys: dict[str, Node], key: str, bound: limits.Bound[int], default: int | None = None
) -> int:
    """`key` as a whole number within `bound`; the bound's default (or `default`) if absent."""
    if key not in keys:
        return bound.default if default is None else default
    return keys[key].int(bound.low, bound.high)


def _float(
    keys: dict[str, Node], key: str, bound: limits.Bound[float], default: float | None = None
) -> float:
    """`key` as a number within `bound`; the bound's default (or `default`) if absent."""
    if key not in keys:
        return bound.default if default is None else default
    return keys[key].float(bound.low, bound.high)


def _zone(node: Node) -> ZoneInfo:
    name = node.str()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        node.fail("an IANA time zone name such as Asia/Shanghai")


def parse_time(node: Node) -> dt.time:
    """`HH:MM` (or `HH:MM:SS`) wall time; `24:00` is accepted as the end of the day (00:00)."""
    text = node.str()
    parts = text.replace("：", ":").split(":")
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        hour, minute = int(parts[0]), int(parts[1])
        second = int(parts[2]) if len(parts) == 3 else 0
        if (hour, minute, second) == (24, 0, 0):
            return dt.time(0, 0)
        return dt.time(hour, minute, second)
    except ValueError:
        node.fail('a time of day as "HH:MM", e.g. "19:00"')


def parse_date(node: Node) -> dt.date:
    """A calendar date, `YYYY-MM-DD`."""
    if isinstance(node.value, dt.date) and not isinstance(node.value, dt.datetime):
        return node.value
    try:
        return dt.date.fromisoformat(node.str())
    except ValueError:
        node.fail('a date as "YYYY-MM-DD"')


def parse_weekdays(node: Node) -> frozenset[int]:
    """Weekdays as Monday=0..Sunday=6 from names (mon, 周一), or daily/workdays/weekends."""
    if isinstance(node.value, str):
        key = node.value.strip().lower()
        if key in WEEKDAY_SETS:
            return WEEKDAY_SETS[key]
        node.fail("a list of weekdays (mon..sun) or one of " + ", ".join(WEEKDAY_SETS))
    days = set()
    for item in node.items():
        key = item.str().lower()
        if key not in WEEKDAY_NAMES:
            item.fail("a weekday: mon, tue, wed, thu, fri, sat, sun (or 周一..周日)")
        days.add(WEEKDAY_NAMES[key])
    if not days:
        node.fail("at least one weekday")
    return frozenset(days)


def _window(node: Node) -> tuple[dt.time, dt.time]:
    w = node.mapping({"start", "end"})
    start = parse_time(w["start"]) if "start" in w else limits.DEFAULT_WINDOW[0]
    end = parse_time(w["end"]) if "end" in w else limits.DEFAULT_WINDOW[1]
    return start, end


def _audio(node: Node) -> tuple[VoiceSettings, RenderSettings, str]:
    allowed = {
        "voice", "rate", "volume", "chime", "target_lufs", "true_peak_dbtp", "lead_ms",
        "tail_ms", "max_chars", "mp3_bitrate", "selftest_text",
    }  # fmt: skip
    a = node.mapping(allowed)
    voice = _built(
        node,
        VoiceSettings,
        voice=a["voice"].str() if "voice" in a else limits.DEFAULT_VOICE,
        rate=_int(a, "rate", limits.RATE_WPM),
        volume=_float(a, "volume", limits.VOLUME),
        chime=a["chime"].bool() if "chime" in a else True,
    )
    render = RenderSettings(
        target_lufs=a["target_lufs"].float(-40, -5) if "target_lufs" in a else -16.0,
        true_peak_dbtp=a["true_peak_dbtp"].float(-10, 0) if "true_peak_dbtp" in a else -1.0,
        lead_ms=a["lead_ms"].int(0, 5000) if "lead_ms" in a else 300,
        tail_ms=a["tail_ms"].int(0, 10000) if "tail_ms" in a else 700,
        max_chars=_int(a, "max_chars", limits.MAX_CHARS),
        mp3_bitrate=a["mp3_bitrate"].str() if "mp3_bitrate" in a else "64k",
    )
    selftest = a["selftest_text"].str() if "selftest_text" in a else "广播测试，喇叭工作正常。"
    return voice, render, selftest


def _server(node: Node) -> ServerSettings:
    s = node.mapping(set(ServerSettings.__dataclass_fields__))
    base = ServerSettings()
    return ServerSettings(
        host=s["host"].str() if "host" in s else base.host,
        port=s["port"].int(1, 65535) if "port" in s else base.port,
        heartbeat_s=s["heartbeat_s"].int(1, 3600) if "heartbeat_s" in s else base.heartbeat_s,
        offline_after_missed=(
            s["offline_after_missed"].int(1, 100)
            if "offline_after_missed" in s
            else base.offline_after_missed
        ),
        prerender_hours=(
            s["prerender_hours"].int(1, 240) if "prerender_hours" in s else base.prerender_hours
        ),
        long_poll_max_s=(
            s["long_poll_max_s"].int(1, 600) if "long_poll_max_s" in s else base.long_poll_max_s
        ),
        header_timeout_s=(
            s["header_timeout_s"].int(1, 300) if "header_timeout_s" in s else base.header_timeout_s
        ),
        idle_timeout_s=(
            s["idle_timeout_s"].int(1, 3600) if "idle_timeout_s" in s else base.idle_timeout_s
        ),
        body_timeout_s=(
            s["body_timeout_s"].int(1, 3600) if "body_timeout_s" in s else base.body_timeout_s
        ),
        body_min_bytes_per_s=(
            s["body_min_bytes_per_s"].int(1, 10**9)
            if "body_min_bytes_per_s" in s
            else base.body_min_bytes_per_s
        ),
        send_timeout_s=(
            s["send_timeout_s"].int(1, 3600) if "send_timeout_s" in s else base.send_timeout_s
        ),
        secure_cookies=s["secure_cookies"].bool() if "secure_cookies" in s else base.secure_cookies,
        trusted_proxies=(
            tuple(_network(n) for n in s["trusted_proxies"].items())
            if "trusted_proxies" in s
            else base.trusted_proxies
        ),
        render_slots=s["render_slots"].int(1, 64) if "render_slots" in s else base.render_slots,
        render_queue=s["render_queue"].int(1, 1000) if "render_queue" in s else base.render_queue,
        renders_per_user=(
            s["renders_per_user"].int(1, 100) if "renders_per_user" in s else base.renders_per_user
        ),
        clip_cache_mb=(
            s["clip_cache_mb"].int(1, 10_000_000) if "clip_cache_mb" in s else base.clip_cache_mb
        ),
    )


def _network(node: Node) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """An address ("10.0.0.2", "::1") or a network ("10.0.0.0/24") of a trusted proxy."""
    if not isinstance(node.value, str):
        node.fail('an IP address or network as a string, e.g. "127.0.0.1" or "10.0.0.0/24"')
    try:
        return ipaddress.ip_network(node.value.strip())
    except ValueError as exc:
        node.fail(f'an IP address or network such as "127.0.0.1" or "10.0.0.0/24" ({exc})')


def _lexicon(node: Node) -> dict[str, str]:
    return {key: child.str() for key, child in node.mapping().items()}


def _areas(node: Node, parent: str | None) -> list[Area]:
    out: list[Area] = []
    for item in node.items():
        a = item.mapping({"id", "name", "kind", "children", "polygon"})
        area = _built(
            item,
            Area,
            id=item.get("id").str(),
            name=item.get("name").str(),
            kind=item.get("kind").str(),
            parent_id=parent,
            polygon=_polygon(a["polygon"]) if "polygon" in a else None,
        )
        out.append(area)
        if "children" in a:
            out.extend(_areas(a["children"], area.id))
    return out


def _polygon(node: Node) -> list[Any]:
    """`[[lat, lon], ...]` as read; the model checks the ring (broadcaster/geometry.py)."""
    if not isinstance(node.value, list):
        node.fail("a list of [lat, lon] points, e.g. [[36.08, 111.52], [36.09, 111.52], ...]")
    return list(node.value)


def _location(node: Node) -> tuple[float, float]:
    """`{lat: ..., lon: ...}` in degrees."""
    node.mapping({"lat", "lon"})
    lat, lon = node.get("lat"), node.get("lon")
    return (lat.float(limits.LAT.low, limits.LAT.high), lon.float(limits.LON.low, limits.LON.high))


def _quiet_hours(node: Node) -> QuietHours:
    node.mapping({"start", "end"})
    start, end = parse_time(node.get("start")), parse_time(node.get("end"))
    return _built(node, QuietHours, start=start, end=end)


def _quiet_zone(node: Node) -> QuietZone:
    """`{id, name, polygon, hours: [{start, end}], action: mute}` or `... volume: N` (percent;
    `action: volume` may be left out then)."""
    q = node.mapping({"id", "name", "polygon", "hours", "action", "volume"})
    hours = tuple(_quiet_hours(n) for n in q["hours"].items()) if "hours" in q else ()
    action = q["action"].str() if "action" in q else ("volume" if "volume" in q else "mute")
    volume = (
        q["volume"].int(limits.QUIET_VOLUME.low, limits.QUIET_VOLUME.high)
        if "volume" in q
        else None
    )
    return _built(
        node,
        QuietZone,
        id=node.get("id").str(),
        name=q["name"].str() if "name" in q else node.get("id").str(),
        polygon=_polygon(node.get("polygon")),
        hours=hours,
        action=action,
        volume=volume,
    )


def _stop(node: Node) -> Stop:
    if isinstance(node.value, str):
        return _built(node, Stop, name=node.str())
    s = node.mapping({"name", "lat", "lon", "note"})
    return _built(
        node,
        Stop,
        name=node.get("name").str(),
        lat=s["lat"].float(limits.LAT.low, limits.LAT.high) if "lat" in s else None,
        lon=s["lon"].float(limits.LON.low, limits.LON.high) if "lon" in s else None,
        note=s["note"].str(allow_empty=True) if "note" in s else "",
    )


def _speaker(node: Node) -> Speaker:
    s = node.mapping({"id", "name", "kind", "area", "volume", "route", "location"})
    route = Route(tuple(_stop(n) for n in s["route"].items())) if "route" in s else None
    return _built(
        node,
        Speaker,
        id=node.get("id").str(),
        name=node.get("name").str(),
        kind=node.get("kind").str(),
        area_id=node.get("area").str(),
        volume=_int(s, "volume", limits.SPEAKER_VOLUME),
        route=route,
        location=_location(s["location"]) if "location" in s else None,
    )


def _message(node: Node, default: VoiceSettings) -> Message:
    m = node.mapping({"id", "title", "text", "voice", "rate", "volume", "chime", "areas"})
    voice = _built(
        node,
        VoiceSettings,
        voice=m["voice"].str() if "voice" in m else default.voice,
        rate=_int(m, "rate", limits.RATE_WPM, default.rate),
        volume=_float(m, "volume", limits.VOLUME, default.volume),
        chime=m["chime"].bool() if "chime" in m else default.chime,
    )
    return _built(
        node,
        Message,
        id=node.get("id").str(),
        title=node.get("title").str(),
        text=node.get("text").str(),
        voice=voice,
        area_ids=_ids(m["areas"]) if "areas" in m else (),
    )


def _ids(node: Node) -> tuple[str, ...]:
    if isinstance(node.value, str):
        return (node.str(),)
    return tuple(item.str() for item in node.items())


def _program(node: Node) -> Program:
    p = node.mapping({"id", "name", "messages", "gap_s"})
    messages = _ids(node.get("messages"))
    if not messages:
        node.get("messages").fail("at least one message id")
    return _built(
        node,
        Program,
        id=node.get("id").str(),
        name=p["name"].str() if "name" in p else node.get("id").str(),
        message_ids=messages,
        gap_s=_float(p, "gap_s", limits.GAP_S),
    )


def _schedule(node: Node, window: tuple[dt.time, dt.time]) -> Schedule:
    allowed = {
        "id", "program", "speakers", "areas", "weekdays", "start", "end", "from", "until",
        "except", "priority", "enabled",
    }  # fmt: skip
    s = node.mapping(allowed)
    speakers = _ids(s["speakers"]) if "speakers" in s else ()
    areas = _ids(s["areas"]) if "areas" in s else ()
    if not speakers and not areas:
        node.fail("a schedule with `speakers` or `areas` to play on")
    return _built(
        node,
        Schedule,
        id=node.get("id").str(),
        program_id=node.get("program").str(),
        speaker_ids=speakers,
        area_ids=areas,
        weekdays=parse_weekdays(s["weekdays"]) if "weekdays" in s else frozenset(range(7)),
        start=parse_time(s["start"]) if "start" in s else window[0],
        end=parse_time(s["end"]) if "end" in s else window[1],
        first_date=parse_date(s["from"]) if "from" in s else None,
        last_date=parse_date(s["until"]) if "until" in s else None,
        exceptions=frozenset(parse_date(n) for n in s["except"].items())
        if "except" in s
        else frozenset(),
        priority=_int(s, "priority", limits.PRIORITY),
        enabled=s["enabled"].bool() if "enabled" in s else True,
    )


def _user(node: Node) -> User:
    u = node.mapping({"name", "role", "areas", "vehicle"})
    return _built(
        node,
        User,
        name=node.get("name").str(),
        role=node.get("role").str(),
        area_ids=_ids(u["areas"]) if "areas" in u else (),
        vehicle_id=u["vehicle"].str() if "vehicle" in u else None,
    )
