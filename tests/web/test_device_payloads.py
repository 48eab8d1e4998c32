"""Device input (issue 10, item 2), parsed without a server: every time within the device
window and valid in the deployment's zone, every field bounded in size and shape, each error
naming the field and the bound. The same through real processes: tests/integration/
test_hostile_device.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from broadcaster.errors import ValidationError
from web import payloads

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)  # 10:30 in Shanghai
IN_ZONE = NOW.astimezone(ZONE)


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds")


def play(**changes: Any) -> dict[str, Any]:
    """An entry as broadcaster/client/runner.py writes it."""
    start = NOW - timedelta(minutes=3)
    entry = {"id": "0b8c1b9e-3d6f-4d0e-9a55-1f0a9b6f2c11", "clip": "3f" * 32, "message": "masks",
             "kind": "loop", "urgent": None, "planned_start": _iso(start),
             "started_at": _iso(start + timedelta(milliseconds=40)),
             "ended_at": _iso(start + timedelta(seconds=12)), "completed": True, "reason": ""}  # fmt: skip
    entry.update(changes)
    return entry


def beat(**changes: Any) -> dict[str, Any]:
    """A heartbeat as broadcaster/client/reporting.py sends it."""
    body = {
        "state": "playing",
        "now_playing": {"clip": "3f" * 32, "message": "masks", "kind": "loop",
                        "started_at": _iso(IN_ZONE - timedelta(seconds=4)), "position_ms": 4012},
        "volume": 100, "last_sync": _iso(NOW - timedelta(seconds=20)), "plan_etag": '"ab12"',
        "client_time": _iso(NOW), "clock_offset_ms": -120,
        "cache": {"clips": 12, "bytes": 3456789, "missing": 0, "corrupt": 0},
        "selftest": {"at": _iso(NOW - timedelta(hours=3)), "ok": True, "detail": "played 2.1 s"},
        "version": "0.1.0",
    }  # fmt: skip
    body.update(changes)
    return body


def refused(call: Any, field: str, *words: str) -> str:
    with pytest.raises(ValidationError) as caught:
        call()
    message = str(caught.value)
    assert message.startswith(f"{field}: "), message
    assert all(w in message for w in words), message
    return message


# -- times ------------------------------------------------------------------------------------

HOSTILE_TIMES = {
    # Valid in UTC, but past year 9999 in Shanghai: every page that showed it was a 500.
    "9999-utc": "9999-12-31T20:00:00+00:00",
    "9999-west": "9999-12-31T10:00:00-09:00",
    "year-1": "0001-01-01T00:00:00+00:00",
    "year-1-east": "0001-01-01T12:00:00+08:00",
    "far-future": "2100-01-01T00:00:00+08:00",
    "far-past": "1970-01-01T00:00:00Z",
    "just-beyond-ahead": _iso(NOW + timedelta(days=3, seconds=1)),
    "just-beyond-past": _iso(NOW - timedelta(days=366, seconds=1)),
}


@pytest.mark.parametrize("value", HOSTILE_TIMES.values(), ids=HOSTILE_TIMES.keys())
@pytest.mark.parametrize("key", ["started_at", "ended_at", "planned_start"])
def test_a_play_time_outside_the_device_window_is_refused_naming_the_bound(
    key: str, value: str
) -> None:
    body = {"entries": [play(), play(id="second", **{key: value})]}
    refused(
        lambda: payloads.plays(body, "spk", NOW, ZONE),
        f"entries[1].{key}",
        "366 days before",
        "3 days after",
        "2025-11-30T10:30:00+08:00",
        "2026-12-04T10:30:00+08:00",
    )


@pytest.mark.parametrize("value", HOSTILE_TIMES.values(), ids=HOSTILE_TIMES.keys())
def test_an_ack_time_outside_the_device_window_is_refused(value: str) -> None:
    body = {"urgent": "u-1", "state": "played", "at": value}
    refused(lambda: payloads.ack(body, NOW, ZONE), "at", "366 days before")


@pytest.mark.parametrize(
    "shift",
    [
        timedelta(minutes=-10),
        timedelta(minutes=10),  # a skewed client clock, either way
        timedelta(days=-365),  # a client offline for most of a year sends its journal
        timedelta(days=2, hours=23),  # a client ahead playing the end of its saved plan
    ],
    ids=["10-min-behind", "10-min-ahead", "offline-365-days", "ahead-71h"],
)
def test_times_a_real_client_can_send_are_accepted(shift: timedelta) -> None:
    start = NOW + shift
    entry = play(planned_start=_iso(start), started_at=_iso(start),
                 ended_at=_iso(start + timedelta(seconds=9)))  # fmt: skip
    (parsed,) = payloads.plays({"entries": [entry]}, "spk", NOW, ZONE)
    assert parsed.started_at == start and parsed.speaker_id == "spk"
    urgent, state, at = payloads.ack(
        {"urgent": "u-1", "state": "cut", "at": _iso(start)}, NOW, ZONE
    )
    assert (urgent, state.value, at) == ("u-1", "cut", start)
    hb = payloads.heartbeat(beat(last_sync=_iso(start), selftest={"at": _iso(start), "ok": True}),
                            NOW, ZONE)  # fmt: skip
    assert hb.last_sync == start and hb.selftest == {"ok": True, "at": start, "detail": ""}


def test_an_ack_without_a_time_is_now() -> None:
    assert payloads.ack({"urgent": "u-1", "state": "received"}, NOW, ZONE)[2] == NOW


@pytest.mark.parametrize("value", HOSTILE_TIMES.values(), ids=HOSTILE_TIMES.keys())
def test_a_heartbeat_time_outside_the_window_is_unknown_not_a_refusal(value: str) -> None:
    """A heartbeat carries the device's own clock (unset after a restart without network: a
    304 plan answer does not anchor it), so refusing it would make a working speaker look
    offline: what cannot be right is kept as unknown instead."""
    hb = payloads.heartbeat(
        beat(
            last_sync=value,
            client_time=value,
            selftest={"at": value, "ok": False, "detail": "cut"},
            now_playing={"clip": "ab", "kind": "urgent", "started_at": value},
        ),
        NOW,
        ZONE,
    )
    assert hb.last_sync is None
    assert hb.selftest == {"ok": False, "at": None, "detail": "cut"}
    assert hb.now_playing is not None and hb.now_playing["started_at"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"last_sync": "yesterday"}, "last_sync"),
        ({"client_time": "2026-12-01T10:00:00"}, "client_time"),  # no offset
        ({"selftest": {"at": "0001-01-01T00:00:00+14:00"}}, "selftest.at"),  # before UTC year 1
        ({"now_playing": {"started_at": 17}}, "now_playing.started_at"),
    ],
    ids=["not-a-time", "naive", "no-utc-value", "a-number"],
)
def test_a_malformed_heartbeat_time_is_refused(body: dict[str, Any], field: str) -> None:
    refused(lambda: payloads.heartbeat(beat(**body), NOW, ZONE), field)


def test_now_playing_started_at_is_stored_in_the_deployments_zone() -> None:
    value = (NOW - timedelta(seconds=4)).astimezone(UTC)
    hb = payloads.heartbeat(beat(now_playing={"started_at": value.isoformat()}), NOW, ZONE)
    assert hb.now_playing is not None
    assert hb.now_playing["started_at"] == "2026-12-01T10:29:56.000+08:00"


# -- sizes and shapes -------------------------------------------------------------------------


def test_a_real_clients_heartbeat_is_kept_as_sent() -> None:
    body = beat()
    hb = payloads.heartbeat(body, NOW, ZONE)
    assert hb.now_playing == body["now_playing"] and hb.position_ms == 4012
    assert hb.cache == body["cache"] and hb.clock_offset_ms == -120
    assert (hb.state, hb.plan_etag, hb.version, hb.volume) == ("playing", '"ab12"', "0.1.0", 100)


def test_unknown_keys_of_now_playing_and_cache_are_dropped_so_their_size_is_bounded() -> None:
    """15 MB stored in `cache` made every dashboard poll take seconds."""
    junk = {f"k{i}": "x" * 1000 for i in range(500)}
    body = beat(now_playing={**beat()["now_playing"], **junk},
                cache={**beat()["cache"], **junk, "nested": {"a": [1, 2, 3]}})  # fmt: skip
    hb = payloads.heartbeat(body, NOW, ZONE)
    assert hb.now_playing == beat()["now_playing"]
    assert hb.cache == beat()["cache"]
    assert len(json.dumps(hb.now_playing)) < 400 and len(json.dumps(hb.cache)) < 100


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"now_playing": {"clip": "x" * 129}}, "now_playing.clip", ["clip key", "128"]),
        ({"now_playing": {"clip": "../../etc"}}, "now_playing.clip", ["clip key"]),
        ({"now_playing": {"message": "m" * 101}}, "now_playing.message", ["100"]),
        (
            {"now_playing": {"kind": "music"}},
            "now_playing.kind",
            ["loop, urgent, selftest or live"],
        ),
        ({"now_playing": {"position_ms": -1}}, "now_playing.position_ms", ["0 to"]),
        ({"now_playing": "playing"}, "now_playing", ["JSON object"]),
        ({"cache": {"clips": "many"}}, "cache.clips", ["whole number"]),
        ({"cache": {"bytes": -5}}, "cache.bytes", ["from 0 to"]),
        ({"cache": {"missing": 10**12}}, "cache.missing", ["from 0 to 10000000"]),
        ({"cache": [1, 2]}, "cache", ["JSON object"]),
        ({"state": "x" * 41}, "state", ["state"]),
        ({"state": "<script>"}, "state", ["state"]),
        ({"plan_etag": "e" * 101}, "plan_etag", ["100"]),
        ({"plan_etag": '"\u0000"'}, "plan_etag", ["printable"]),
        ({"version": "v" * 41}, "version", ["40"]),
        ({"selftest": {"detail": "d" * 501}}, "selftest.detail", ["500"]),
        ({"clock_offset_ms": 10**13 + 1}, "clock_offset_ms", ["10000000000000"]),
    ],
)
def test_oversized_or_misshapen_heartbeat_fields_are_refused_naming_the_bound(
    body: dict[str, Any], field: str, words: list[str]
) -> None:
    refused(lambda: payloads.heartbeat(beat(**body), NOW, ZONE), field, *words)


def test_a_client_with_an_unset_clock_is_accepted() -> None:
    """A clock at 1970 is ~56 years behind: the client still plays by the anchored clock."""
    offset = -round((NOW - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000)
    hb = payloads.heartbeat(beat(clock_offset_ms=offset, client_time="1970-01-01T00:00:05Z"),
                            NOW, ZONE)  # fmt: skip
    assert hb.clock_offset_ms == offset


@pytest.mark.parametrize(
    ("entry", "field", "words"),
    [
        ({"id": "i" * 101}, "entries[0].id", ["1 to 100"]),
        ({"id": "a\nb"}, "entries[0].id", ["printable"]),
        ({"clip": "c" * 129}, "entries[0].clip", ["clip key"]),
        ({"message": "m\u0000"}, "entries[0].message", ["printable"]),
        ({"urgent": "u" * 101}, "entries[0].urgent", ["1 to 100"]),
        ({"reason": '=HYPERLINK("http://x")'}, "entries[0].reason", ["cut:<why>"]),
        ({"reason": "cut:" + "x" * 41}, "entries[0].reason", ["cut:<why>"]),
        ({"completed": "yes"}, "entries[0].completed", ["true or false"]),
    ],
)
def test_misshapen_play_fields_are_refused_naming_the_bound(
    entry: dict[str, Any], field: str, words: list[str]
) -> None:
    body = {"entries": [play(**entry)]}
    refused(lambda: payloads.plays(body, "spk", NOW, ZONE), field, *words)


@pytest.mark.parametrize(
    "reason",
    ["", "cut:urgent", "cut:stop", "cut:cancelled", "cut:expired", "cut:window-end",
     "cut:shutdown"],
)  # fmt: skip
def test_every_reason_the_client_writes_is_accepted(reason: str) -> None:
    (parsed,) = payloads.plays({"entries": [play(reason=reason)]}, "spk", NOW, ZONE)
    assert parsed.reason == reason


# -- what the views show of a stored row --------------------------------------------------------


@pytest.mark.parametrize(
    "stored",
    [None, [], "playing", 17, {}, {"clip": {"a": 1}, "kind": ["x"], "position_ms": True}],
    ids=["none", "list", "string", "number", "empty", "wrong-shapes"],
)
def test_a_stored_now_playing_of_any_shape_is_shown_as_what_can_be_shown(stored: Any) -> None:
    shown = payloads.shown_now_playing(stored)
    assert shown is None or set(shown.values()) == {None}
    assert payloads.shown_cache(stored) in (None, {})


def test_a_stored_now_playing_keeps_only_its_known_keys() -> None:
    stored = {"clip": "ab", "message": "masks", "kind": "loop", "junk": "x" * 10_000}
    assert payloads.shown_now_playing(stored) == {
        "clip": "ab", "message": "masks", "kind": "loop", "started_at": None, "position_ms": None,
    }  # fmt: skip
    assert payloads.shown_cache({"clips": 3, "bytes": "lots", "junk": 1}) == {"clips": 3}
