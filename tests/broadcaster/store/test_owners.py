"""Owners of messages and programs, users' display names and session generations: columns
of their rows (migration 0005), on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from broadcaster import limits
from broadcaster.errors import Conflict, NotFound, ValidationError
from broadcaster.models import Area, AreaKind, Message, Program, Role, User
from broadcaster.store import Store
from broadcaster.store import schema as t
from tests.broadcaster.store.conftest import NOW


def _msg(mid: str) -> Message:
    return Message(mid, mid, "今晚八点停水。")


def test_objects_are_created_owned_and_change_owner_in_their_row(seeded: Store) -> None:
    seeded.content.create_message(_msg("tl-water"), NOW, owner_area_id="tunli-village")
    seeded.content.create_program(
        Program("tl-loop", "屯里循环", ("tl-water",), 3), owner_area_id="tunli"
    )
    assert seeded.content.owner("message", "tl-water") == "tunli-village"
    assert seeded.content.owner("program", "tl-loop") == "tunli"
    assert seeded.content.owner("message", "masks") is None  # seeded from config: district-wide
    assert seeded.content.owners() == {
        "message:tl-water": "tunli-village",
        "program:tl-loop": "tunli",
    }

    seeded.content.set_owner("message", "tl-water", "xiguan-community")
    seeded.content.set_owner("program", "tl-loop", None)
    assert seeded.content.owners() == {"message:tl-water": "xiguan-community"}
    with seeded.transaction(write=False) as conn:
        column = conn.execute(
            select(t.messages.c.owner_area_id).where(t.messages.c.id == "tl-water")
        ).scalar()
    assert column == "xiguan-community"
    # An update of the message keeps its owner; deleting it takes the owner along.
    seeded.content.update_message(Message("tl-water", "停水", "明晚停水。"), NOW)
    assert seeded.content.owner("message", "tl-water") == "xiguan-community"
    seeded.content.delete_program("tl-loop")
    seeded.content.delete_message("tl-water", NOW)
    assert seeded.content.owners() == {}


def test_unknown_objects_areas_and_kinds_are_refused(seeded: Store) -> None:
    with pytest.raises(NotFound, match="no message 'nope'"):
        seeded.content.set_owner("message", "nope", "tunli")
    with pytest.raises(NotFound, match="no program 'nope'"):
        seeded.content.owner("program", "nope")
    with pytest.raises(ValidationError, match="no area 'atlantis'"):
        seeded.content.set_owner("message", "masks", "atlantis")
    with pytest.raises(ValidationError, match="no area 'atlantis'"):
        seeded.content.create_message(_msg("x"), NOW, owner_area_id="atlantis")
    with pytest.raises(ValidationError, match="no area 'atlantis'"):
        seeded.content.create_program(Program("px", "x", ("masks",), 3), owner_area_id="atlantis")
    with pytest.raises(ValueError, match="only messages and programs"):
        seeded.content.set_owner("schedule", "s", None)
    assert seeded.content.owners() == {}
    assert "x" not in {m.id for m in seeded.content.list_messages()}


def test_an_area_that_owns_something_cannot_be_deleted(store: Store) -> None:
    """What a chief made stays theirs: the area's deletion is refused, naming what it owns,
    until an admin moves or deletes it (it neither becomes district-wide nor disappears)."""
    store.places.create_area(Area("town", "镇", AreaKind.TOWNSHIP))
    store.places.create_area(Area("village", "村", AreaKind.VILLAGE, "town"))
    store.content.create_message(_msg("v-msg"), NOW, owner_area_id="village")
    store.content.create_program(
        Program("v-prog", "村循环", ("v-msg",), 3), owner_area_id="village"
    )
    with pytest.raises(Conflict) as refused:
        store.places.delete_area("village")
    assert "message 'v-msg'" in str(refused.value) and "program 'v-prog'" in str(refused.value)
    assert store.content.owners() == {"message:v-msg": "village", "program:v-prog": "village"}
    store.content.set_owner("message", "v-msg", "town")
    store.content.delete_program("v-prog")
    store.places.delete_area("village")
    assert store.content.owners() == {"message:v-msg": "town"}


def test_concurrent_owner_changes_are_none_lost(seeded: Store) -> None:
    """Each change is one UPDATE of its own row: many at once, from threads, all land (the
    blob was read, changed and written back whole)."""
    ids = [f"m{i}" for i in range(12)]
    for mid in ids:
        seeded.content.create_message(_msg(mid), NOW)
    areas = ["tunli-village", "xiguan-community", "tunli"]
    with ThreadPoolExecutor(6) as pool:
        list(
            pool.map(lambda i: seeded.content.set_owner("message", ids[i], areas[i % 3]), range(12))
        )
    assert seeded.content.owners() == {f"message:{mid}": areas[i % 3] for i, mid in enumerate(ids)}


def test_display_names(seeded: Store) -> None:
    assert seeded.people.display_name("chief-tunli") is None
    assert seeded.people.get_user("chief-tunli").shown_name == "chief-tunli"
    longest = "屯" * limits.DISPLAY_NAME_MAX
    assert seeded.people.set_display_name("chief-tunli", f"  {longest} ") == longest
    assert seeded.people.display_name("chief-tunli") == longest
    record = seeded.people.get_user("chief-tunli")
    assert (record.display_name, record.shown_name) == (longest, longest)
    assert {u.user.name: u.display_name for u in seeded.people.list_users()}[
        "chief-tunli"
    ] == longest
    with pytest.raises(ValidationError, match=f"at most {limits.DISPLAY_NAME_MAX} characters"):
        seeded.people.set_display_name("chief-tunli", longest + "村")
    with pytest.raises(ValidationError, match="printable"):
        seeded.people.set_display_name("chief-tunli", "王\n主任")
    assert seeded.people.display_name("chief-tunli") == longest
    assert seeded.people.set_display_name("chief-tunli", "   ") is None  # blank: the login name
    assert seeded.people.display_name("chief-tunli") is None
    with pytest.raises(NotFound):
        seeded.people.set_display_name("nobody", "某人")
    with pytest.raises(NotFound):
        seeded.people.display_name("nobody")


def test_session_generation_is_a_column_of_the_user(store: Store) -> None:
    store.people.create_user(User("chief", Role.CHIEF), NOW)
    assert store.people.session_generation("chief") == ""
    store.people.end_sessions("chief")
    first = store.people.session_generation("chief")
    store.people.end_sessions("chief")
    second = store.people.session_generation("chief")
    assert len(first) == len(second) == 16 and first != second
    assert store.people.get_user("chief").session_generation == second
    assert store.get_meta("sessions:chief") is None  # not in meta any more
    with pytest.raises(NotFound):
        store.people.end_sessions("nobody")
    assert store.people.session_generation("nobody") == ""
    store.people.delete_user("chief", NOW)  # a user made again with the name starts afresh
    store.people.create_user(User("chief", Role.CHIEF), NOW)
    assert store.people.session_generation("chief") == ""
