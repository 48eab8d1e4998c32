"""Seeding from config.yaml: the config seeds once, the database is the truth afterwards."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from datetime import time, timedelta

from broadcaster.config import Settings
from broadcaster.models import Message, Program, Role, Schedule, User
from broadcaster.store import Store
from tests.broadcaster.store.conftest import NOW

LATER = NOW + timedelta(days=3)


def test_the_first_seed_copies_the_whole_configuration(store: Store, settings: Settings) -> None:
    report = store.seed_from(settings, NOW)
    assert report.first
    assert report.skipped == ()
    assert report.inserted["speaker"] == tuple(s.id for s in settings.speakers)
    assert set(store.places.list_areas()) == set(settings.areas)
    assert set(store.places.list_speakers()) == set(settings.speakers)
    assert set(store.content.list_messages()) == set(settings.messages)
    assert set(store.content.list_programs()) == set(settings.programs)
    assert set(store.schedules.list_schedules()) == set(settings.schedules)
    assert {r.user for r in store.people.list_users()} == set(settings.users)
    assert all(r.password_hash is None for r in store.people.list_users())
    assert store.get_meta("seeded_at") == NOW.isoformat()
    assert len([s for s in store.places.list_speakers() if s.id.startswith("vehicle-")]) == 23


def test_seeding_again_changes_nothing(seeded: Store, settings: Settings) -> None:
    before = seeded.deployment(NOW)
    report = seeded.seed_from(settings, LATER)
    assert (report.first, report.count, report.skipped) == (False, 0, ())
    assert seeded.deployment(NOW) == before
    assert seeded.get_meta("seeded_at") == NOW.isoformat()


def test_panel_edits_survive_a_restart(seeded: Store, settings: Settings) -> None:
    message = replace(seeded.content.get_message("fire"), text="村里已设防火点，严禁焚烧秸秆。")
    seeded.content.update_message(message, NOW)
    schedule = replace(
        seeded.schedules.get_schedule("villages-evening"), end=time(18, 30), priority=4
    )
    seeded.schedules.update_schedule(schedule, NOW)
    seeded.schedules.delete_schedule("gulou-daily")

    seeded.seed_from(settings, LATER)

    assert seeded.content.get_message("fire") == message
    assert seeded.content.message_record("fire").version == 2
    assert seeded.schedules.get_schedule("villages-evening") == schedule
    assert "gulou-daily" not in {s.id for s in seeded.schedules.list_schedules()}


def test_objects_deleted_in_the_panel_stay_deleted(seeded: Store, settings: Settings) -> None:
    seeded.schedules.delete_schedule("xiguan-lockdown")
    seeded.content.delete_program("lockdown")
    seeded.content.delete_message("lockdown", NOW)
    report = seeded.seed_from(settings, LATER)
    assert report.count == 0
    assert "lockdown" not in {m.id for m in seeded.content.list_messages()}
    assert "lockdown" not in {p.id for p in seeded.content.list_programs()}


def test_objects_new_in_the_config_are_added_on_the_next_start(
    seeded: Store, settings: Settings
) -> None:
    flood = Message("flood", "防汛", "汛期请远离河道。")
    program = Program("summer", "夏季", ("flood", "fire"), 6.0)
    schedule = Schedule("summer-noon", "summer", area_ids=("dayang",), start=time(12))
    user = User("chief-dayang", Role.CHIEF, ("dayang-village",))
    grown = dataclasses.replace(
        settings,
        messages=(*settings.messages, flood),
        programs=(*settings.programs, program),
        schedules=(*settings.schedules, schedule),
        users=(*settings.users, user),
    )
    report = seeded.seed_from(grown, LATER)
    assert dict(report.inserted) == {
        "message": ("flood",),
        "program": ("summer",),
        "schedule": ("summer-noon",),
        "user": ("chief-dayang",),
    }
    assert seeded.schedules.get_schedule("summer-noon") == schedule
    assert seeded.people.get_user("chief-dayang").user == user


def test_a_panel_object_with_a_config_id_wins(store: Store, settings: Settings) -> None:
    mine = Message("fire", "我的防火稿", "面板里写的。")
    store.content.create_message(mine, NOW)
    report = store.seed_from(settings, NOW)
    assert "fire" not in report.inserted["message"]
    assert store.content.get_message("fire") == mine


def test_a_new_config_object_with_a_broken_reference_is_skipped_and_retried(
    seeded: Store, settings: Settings
) -> None:
    seeded.schedules.delete_schedule("yaomiao-noon")
    seeded.content.delete_program("traffic-safety")
    seeded.content.delete_message("traffic", NOW)
    revived = Program("traffic-2", "交通", ("traffic",))
    grown = dataclasses.replace(settings, programs=(*settings.programs, revived))
    report = seeded.seed_from(grown, LATER)
    assert report.count == 0
    assert report.skipped == (
        "program 'traffic-2': program traffic-2.message_ids: no message 'traffic'",
    )
    # Once the message exists again, the next start adds the program.
    seeded.content.create_message(Message("traffic", "交通安全", "减速慢行。"), LATER)
    assert seeded.seed_from(grown, LATER).inserted == {"program": ("traffic-2",)}
