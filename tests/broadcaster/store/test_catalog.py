"""Areas, speakers and routes, messages, programs, schedules: round trips and refusals."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time, timedelta

import pytest

from broadcaster.config import Settings
from broadcaster.errors import Conflict, NotFound, ValidationError
from broadcaster.models import (
    Area,
    AreaKind,
    Message,
    Program,
    Route,
    Schedule,
    Speaker,
    SpeakerKind,
    Stop,
    Urgent,
    VoiceSettings,
)
from broadcaster.store import Store, TokenKind
from tests.broadcaster.store.conftest import NOW

LATER = NOW + timedelta(hours=1)


def _village(store: Store) -> None:
    store.places.create_area(Area("district", "区", AreaKind.DISTRICT))
    store.places.create_area(Area("town", "镇", AreaKind.TOWNSHIP, "district"))
    store.places.create_area(Area("village", "村", AreaKind.VILLAGE, "town"))


ROUTE = Route(
    (
        Stop("东关街", 36.09994, 111.49893),
        Stop("滨河西路", note="学校门口减速"),
        Stop("乡贤街", 36.097, 111.49354, "市场"),
    )
)


def test_areas_nest_and_round_trip(store: Store) -> None:
    _village(store)
    assert store.places.get_area("village") == Area("village", "村", AreaKind.VILLAGE, "town")
    assert [a.id for a in store.places.list_areas()] == ["district", "town", "village"]
    store.places.update_area(Area("village", "新村", AreaKind.COMMUNITY, "district"))
    assert store.places.get_area("village") == Area(
        "village", "新村", AreaKind.COMMUNITY, "district"
    )


def test_an_area_cannot_move_below_itself(store: Store) -> None:
    _village(store)
    with pytest.raises(ValidationError, match="inside 'district'"):
        store.places.update_area(Area("district", "区", AreaKind.DISTRICT, "village"))
    assert store.places.get_area("district").parent_id is None


def test_area_refusals(store: Store) -> None:
    _village(store)
    with pytest.raises(Conflict, match="already exists"):
        store.places.create_area(Area("town", "镇", AreaKind.TOWNSHIP))
    with pytest.raises(ValidationError, match="no area 'nowhere'"):
        store.places.create_area(Area("x", "x", AreaKind.VILLAGE, "nowhere"))
    with pytest.raises(Conflict, match=r"area 'town' is still used by area 'village'"):
        store.places.delete_area("town")
    with pytest.raises(NotFound):
        store.places.get_area("nowhere")
    store.places.delete_area("village")
    assert [a.id for a in store.places.list_areas()] == ["district", "town"]


def test_speakers_keep_their_route_in_order(store: Store) -> None:
    _village(store)
    car = Speaker("car-1", "宣传车1", SpeakerKind.VEHICLE, "town", ROUTE, 85)
    pole = Speaker("pole-1", "村喇叭", SpeakerKind.FIXED, "village", None, 70)
    bare = Speaker("car-2", "宣传车2", SpeakerKind.VEHICLE, "town", Route(()), 80)
    for speaker in (car, pole, bare):
        store.places.create_speaker(speaker)
    assert store.places.get_speaker("car-1") == car
    assert store.places.get_speaker("car-2") == bare
    assert store.places.list_speakers() == (car, bare, pole)
    assert store.places.list_speakers(area_id="town") == (car, bare, pole)  # village is in town
    assert store.places.list_speakers(area_id="village") == (pole,)

    reordered = replace(car, route=Route((ROUTE.stops[2], ROUTE.stops[0])), volume=60)
    store.places.update_speaker(reordered)
    assert store.places.get_speaker("car-1") == reordered


def test_speaker_refusals(store: Store) -> None:
    _village(store)
    with pytest.raises(ValidationError, match="no area 'elsewhere'"):
        store.places.create_speaker(Speaker("s", "s", SpeakerKind.FIXED, "elsewhere"))
    with pytest.raises(NotFound):
        store.places.update_speaker(Speaker("ghost", "g", SpeakerKind.FIXED, "village"))
    with pytest.raises(NotFound):
        store.places.delete_speaker("ghost", NOW)
    store.places.create_speaker(Speaker("pole", "p", SpeakerKind.FIXED, "village"))
    with pytest.raises(Conflict, match="area 'village' is still used by speaker 'pole'"):
        store.places.delete_area("village")


def test_messages_count_versions_and_refuse_stale_edits(store: Store) -> None:
    message = Message("fire", "冬季防火", "注意用火安全。", VoiceSettings("zh", 160, 0.8, False))
    created = store.content.create_message(message, NOW)
    assert (created.version, created.updated_at) == (1, NOW)
    assert store.content.get_message("fire") == message

    edited = replace(message, text="严禁焚烧秸秆。")
    record = store.content.update_message(edited, LATER, expected_version=1)
    assert (record.version, record.updated_at) == (2, LATER)
    assert store.content.message_record("fire") == record
    with pytest.raises(Conflict, match="version 2, you edited version 1"):
        store.content.update_message(replace(message, text="旧稿"), LATER, expected_version=1)
    assert store.content.get_message("fire") == edited


def test_a_recording_keeps_its_checksum(store: Store) -> None:
    voice = Message("chief", "村长讲话", "", recording="uploads/chief.wav")
    store.content.create_message(voice, NOW, recording_sha256="ab" * 32)
    record = store.content.message_record("chief")
    assert record.message == voice
    assert record.recording_sha256 == "ab" * 32


def test_programs_keep_message_order_and_gap(store: Store) -> None:
    for mid in ("a", "b", "c"):
        store.content.create_message(Message(mid, mid, f"消息{mid}"), NOW)
    program = Program("loop", "循环", ("c", "a", "b", "a"), 7.5)
    store.content.create_program(program)
    assert store.content.get_program("loop") == program
    store.content.update_program(replace(program, message_ids=("b",), gap_s=0.0))
    assert store.content.get_program("loop") == Program("loop", "循环", ("b",), 0.0)
    with pytest.raises(ValidationError, match="no message 'zzz'"):
        store.content.create_program(Program("p2", "p2", ("a", "zzz")))
    with pytest.raises(ValidationError, match="at least one message"):
        store.content.update_program(Program("loop", "循环", ()))


def test_a_message_in_use_cannot_be_deleted_and_the_refusal_names_the_user(
    seeded: Store,
) -> None:
    with pytest.raises(
        Conflict,
        match=r"message 'fire' is still used by program 'traffic-safety', 'village-morning'",
    ):
        seeded.content.delete_message("fire", NOW)
    assert seeded.content.get_message("fire").id == "fire"
    with pytest.raises(
        Conflict, match="program 'lockdown' is still used by schedule 'xiguan-lockdown'"
    ):
        seeded.content.delete_program("lockdown")


def test_a_message_named_by_a_live_urgent_cannot_be_deleted(seeded: Store) -> None:
    seeded.content.create_message(Message("alert", "警报", "请立即撤离。"), NOW)
    urgent = Urgent(
        "u1", NOW, NOW, NOW + timedelta(hours=1), message_id="alert", speaker_ids=("vehicle-01",)
    )
    seeded.urgents.create_urgent(urgent)
    with pytest.raises(Conflict, match="urgent announcement 'u1'"):
        seeded.content.delete_message("alert", NOW)
    seeded.content.delete_message("alert", NOW + timedelta(hours=2))  # expired by then
    with pytest.raises(NotFound):
        seeded.content.get_message("alert")


def test_schedules_round_trip_with_targets_dates_and_exceptions(seeded: Store) -> None:
    schedule = Schedule(
        id="night",
        program_id="prevention",
        speaker_ids=("vehicle-03", "tunli-village-1"),
        area_ids=("qiaoli", "tunli"),
        weekdays=frozenset({0, 2, 6}),
        start=time(21, 30),
        end=time(1, 15, 30),
        first_date=date(2026, 12, 1),
        last_date=date(2027, 2, 28),
        exceptions=frozenset({date(2026, 12, 31), date(2027, 1, 1)}),
        priority=-3,
        enabled=False,
    )
    seeded.schedules.create_schedule(schedule, NOW)
    assert seeded.schedules.get_schedule("night") == schedule
    changed = replace(schedule, speaker_ids=(), area_ids=("yaodu",), exceptions=frozenset())
    seeded.schedules.update_schedule(changed, LATER)
    assert seeded.schedules.get_schedule("night") == changed
    seeded.schedules.delete_schedule("night")
    with pytest.raises(NotFound):
        seeded.schedules.get_schedule("night")


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"program_id": "nope"}, "no program 'nope'"),
        ({"speaker_ids": ("vehicle-99",)}, "no such id 'vehicle-99'"),
        ({"area_ids": ("atlantis",)}, "no such id 'atlantis'"),
        ({"speaker_ids": (), "area_ids": ()}, "no speaker or area"),
        ({"speaker_ids": ("vehicle-01", "vehicle-01")}, "listed twice"),
        ({"weekdays": frozenset()}, "at least one weekday"),
    ],
    ids=["unknown-program", "unknown-speaker", "unknown-area", "no-target", "twice", "no-days"],
)
def test_a_bad_schedule_changes_nothing(seeded: Store, change: dict, error: str) -> None:
    before = seeded.schedules.get_schedule("gulou-daily")
    with pytest.raises(ValidationError, match=error):
        seeded.schedules.update_schedule(replace(before, **change), LATER)
    assert seeded.schedules.get_schedule("gulou-daily") == before


def test_a_speaker_named_by_a_schedule_cannot_be_deleted(seeded: Store) -> None:
    with pytest.raises(
        Conflict,
        match="speaker 'vehicle-01' is still used by schedule 'vehicles-daily'; user 'driver-01'",
    ):
        seeded.places.delete_speaker("vehicle-01", NOW)


def test_deleting_a_speaker_revokes_its_device_tokens(seeded: Store) -> None:
    seeded.places.create_speaker(Speaker("spare", "备用喇叭", SpeakerKind.FIXED, "tunli-village"))
    _, token = seeded.people.issue_token(TokenKind.DEVICE, "spare", NOW)
    seeded.places.delete_speaker("spare", LATER)
    assert seeded.people.verify_token(token, TokenKind.DEVICE, LATER) is None
    # A new speaker with the same id does not inherit the old token.
    seeded.places.create_speaker(Speaker("spare", "新喇叭", SpeakerKind.FIXED, "tunli-village"))
    assert seeded.people.verify_token(token, TokenKind.DEVICE, LATER) is None


def test_the_deployment_snapshot_has_everything_the_planner_needs(
    seeded: Store, settings: Settings
) -> None:
    snapshot = seeded.deployment(NOW)
    assert set(snapshot.areas) == set(settings.areas)
    assert set(snapshot.speakers) == set(settings.speakers)
    assert set(snapshot.messages) == set(settings.messages)
    assert set(snapshot.programs) == set(settings.programs)
    assert set(snapshot.schedules) == set(settings.schedules)
    assert snapshot.urgents == ()


def test_every_edit_moves_the_catalog_revision(seeded: Store) -> None:
    seen = [seeded.catalog_revision()]
    seeded.content.update_message(replace(seeded.content.get_message("fire"), title="防火"), NOW)
    seen.append(seeded.catalog_revision())
    seeded.schedules.update_schedule(
        replace(seeded.schedules.get_schedule("gulou-daily"), priority=5), NOW
    )
    seen.append(seeded.catalog_revision())
    seeded.places.create_area(Area("new", "新区", AreaKind.VILLAGE, "yaodu"))
    seen.append(seeded.deployment(NOW).revision)
    assert seen == sorted(set(seen)) and len(seen) == 4
