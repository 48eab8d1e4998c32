"""Shapes and fixes in the store (issue 13), on SQLite and PostgreSQL: areas' polygons,
fixed loudspeakers' locations, quiet zones, messages bound to areas, the latest GPS fix of a
speaker's heartbeat; and migration 0008 up, down and up again with data."""

from __future__ import annotations

from dataclasses import replace
from datetime import time, timedelta

import pytest
from sqlalchemy import Engine, insert, inspect, select

from broadcaster.errors import Conflict, NotFound, ValidationError
from broadcaster.models import (
    Area,
    AreaKind,
    Message,
    QuietAction,
    QuietHours,
    QuietZone,
    Speaker,
    SpeakerKind,
)
from broadcaster.store import Store, migrate
from broadcaster.store import schema as t
from broadcaster.store.records import Fix, SpeakerStatus
from tests.broadcaster.store.conftest import NOW

RING = ((36.0, 111.0), (36.0, 111.01), (36.01, 111.01), (36.01, 111.0))
ZONE = QuietZone(
    "hospital",
    "卫生院",
    RING,
    (QuietHours(time(22), time(6)), QuietHours(time(12), time(14, 30))),
    QuietAction.VOLUME,
    30,
)


def _places(store: Store) -> None:
    store.places.create_area(Area("d", "尧都区", AreaKind.DISTRICT))
    store.places.create_area(Area("tl", "屯里村", AreaKind.VILLAGE, "d", RING))
    store.places.create_speaker(
        Speaker("tl-1", "屯里村大喇叭", SpeakerKind.FIXED, "tl", location=(36.005, 111.005))
    )  # type: ignore[arg-type]
    store.places.create_speaker(Speaker("car", "宣传车", SpeakerKind.VEHICLE, "d"))  # type: ignore[arg-type]


def test_polygons_locations_and_zones_round_trip(store: Store) -> None:
    _places(store)
    assert store.places.get_area("tl").polygon == RING
    assert store.places.get_area("d").polygon is None
    assert store.places.get_speaker("tl-1").location == (36.005, 111.005)
    assert store.places.get_speaker("car").location is None

    store.places.create_quiet_zone(ZONE)
    assert store.places.get_quiet_zone("hospital") == ZONE
    with pytest.raises(Conflict):
        store.places.create_quiet_zone(ZONE)
    muted = replace(ZONE, hours=(), action=QuietAction.MUTE, volume=None)
    before = store.catalog_revision()
    store.places.update_quiet_zone(muted)
    assert store.catalog_revision() > before  # plans carry zones: a change is a resync
    assert store.places.list_quiet_zones() == (muted,)
    assert store.deployment(NOW).quiet_zones == (muted,)
    store.places.delete_quiet_zone("hospital")
    with pytest.raises(NotFound):
        store.places.get_quiet_zone("hospital")

    moved = replace(store.places.get_area("tl"), polygon=RING[::-1])
    store.places.update_area(moved)
    assert store.places.get_area("tl").polygon == RING[::-1]
    store.places.update_speaker(replace(store.places.get_speaker("tl-1"), location=None))
    assert store.places.get_speaker("tl-1").location is None


def test_a_message_bound_to_areas_keeps_them_and_holds_the_area(store: Store) -> None:
    _places(store)
    bound = Message("water", "停水通知", "今晚停水。", area_ids=("tl", "d"))
    store.content.create_message(bound, NOW)
    assert store.content.get_message("water").area_ids == ("tl", "d")
    assert store.deployment(NOW).messages[0].area_ids == ("tl", "d")
    store.content.update_message(replace(bound, text="明晚停水。", area_ids=("tl",)), NOW)
    assert store.content.get_message("water").area_ids == ("tl",)
    with pytest.raises(Conflict, match="message 'water'"):
        store.places.delete_area("tl")
    with pytest.raises(ValidationError, match=r"message nowhere\.areas: no area 'gone'"):
        store.content.create_message(Message("nowhere", "x", "y", area_ids=("gone",)), NOW)
    store.content.delete_message("water", NOW)  # its binding goes with it
    store.places.delete_speaker("tl-1", NOW)
    store.places.delete_area("tl")


def test_the_latest_fix_is_kept_with_the_status(store: Store) -> None:
    _places(store)
    fix = Fix(36.004, 111.003, NOW - timedelta(seconds=2), 8.5, 270.0)
    store.devices.put_speaker_status(SpeakerStatus("car", NOW, "playing", fix=fix))
    assert store.devices.speaker_status("car") == SpeakerStatus("car", NOW, "playing", fix=fix)
    bare = Fix(36.0, 111.0, NOW)
    store.devices.put_speaker_status(SpeakerStatus("car", NOW, "idle", fix=bare))
    found = store.devices.speaker_statuses(["car"])["car"].fix
    assert found == bare and found.speed is None and found.heading is None
    store.devices.put_speaker_status(SpeakerStatus("car", NOW, "idle"))
    assert store.devices.speaker_status("car").fix is None  # type: ignore[union-attr]


def test_the_sample_configuration_seeds_shapes(seeded: Store) -> None:
    tunli = seeded.places.get_area("tunli-village")
    assert tunli.polygon is not None and len(tunli.polygon) >= 3
    assert seeded.places.get_speaker("tunli-village-1").location is not None
    zones = {z.id: z for z in seeded.places.list_quiet_zones()}
    assert zones["tunli-hospital"].action is QuietAction.VOLUME
    assert zones["tunli-school"].action is QuietAction.MUTE and zones["tunli-school"].hours


def test_0008_up_down_up_with_data(unmigrated: Engine) -> None:
    engine = unmigrated
    migrate.upgrade(engine, "0007")
    with engine.begin() as conn:
        conn.execute(
            insert(t.areas),
            [{"id": "d", "name": "尧都区", "kind": "district", "parent_id": None},
             {"id": "tl", "name": "屯里村", "kind": "village", "parent_id": "d"}],
        )  # fmt: skip
        conn.execute(
            insert(t.speakers),
            [{"id": "tl-1", "name": "屯里村大喇叭", "kind": "fixed", "area_id": "tl",
              "volume": 80, "has_route": False},
             {"id": "car", "name": "宣传车", "kind": "vehicle", "area_id": "d",
              "volume": 85, "has_route": True}],
        )  # fmt: skip
        conn.execute(
            insert(t.route_stops).values(
                speaker_id="car", position=0, name="村口", lat=36.0, lon=111.0, note=""
            )
        )
        conn.execute(
            insert(t.messages).values(
                id="water", title="停水", text="今晚停水。", voice="zh", rate=170, volume=1.0,
                chime=False, version=1, updated_at=NOW,
            )
        )  # fmt: skip
        conn.execute(
            insert(t.speaker_status).values(
                speaker_id="car", last_heartbeat=NOW, state="playing", selftest_detail="",
                client_version="1",
            )
        )  # fmt: skip
    columns = {"areas": ["polygon"], "speakers": ["lat", "lon"], "speaker_status": ["fix_lat"]}

    migrate.upgrade(engine)
    assert migrate.schema_differences(engine) == []
    store = Store(engine)
    assert store.places.get_area("tl").polygon is None  # old rows: no shape yet
    assert store.devices.speaker_status("car").fix is None  # type: ignore[union-attr]
    store.places.update_area(Area("tl", "屯里村", AreaKind.VILLAGE, "d", RING))
    store.places.update_speaker(
        Speaker("tl-1", "屯里村大喇叭", SpeakerKind.FIXED, "tl", location=(36.005, 111.005))
    )
    store.places.create_quiet_zone(ZONE)
    message = store.content.get_message("water")
    store.content.update_message(replace(message, area_ids=("tl",)), NOW)
    fix = Fix(36.004, 111.003, NOW, 8.5, 270.0)
    store.devices.put_speaker_status(SpeakerStatus("car", NOW, "playing", fix=fix))
    assert store.devices.speaker_status("car").fix == fix  # type: ignore[union-attr]
    assert store.places.get_speaker("car").route.stops[0].name == "村口"  # type: ignore[union-attr]

    migrate.downgrade(engine, "0007")
    assert migrate.current_revision(engine) == "0007"
    names = set(inspect(engine).get_table_names())
    assert "quiet_zones" not in names and "message_areas" not in names
    for table, gone in columns.items():
        have = {c["name"] for c in inspect(engine).get_columns(table)}
        assert not set(gone) & have, table
    with engine.connect() as conn:  # the rest is untouched
        assert conn.execute(select(t.speakers.c.id).order_by(t.speakers.c.id)).scalars().all() == [
            "car", "tl-1"]  # fmt: skip
        assert conn.execute(select(t.route_stops.c.name)).scalars().all() == ["村口"]
        assert conn.execute(select(t.messages.c.version)).scalars().all() == [2]
        assert conn.execute(select(t.speaker_status.c.state)).scalars().all() == ["playing"]

    migrate.upgrade(engine)
    assert migrate.schema_differences(engine) == []
    again = Store(engine)
    assert again.places.get_area("tl").polygon is None
    assert again.places.list_quiet_zones() == ()
    assert again.content.get_message("water").area_ids == ()
    again.places.create_quiet_zone(ZONE)
    assert again.deployment(NOW).quiet_zones == (ZONE,)
