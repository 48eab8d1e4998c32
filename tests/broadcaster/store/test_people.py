"""Users and tokens: round trips, hashing (the plain token is never stored), revocation."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from broadcaster.errors import Conflict, NotFound, ValidationError
from broadcaster.models import Role, User
from broadcaster.store import Store, TokenKind
from broadcaster.store import schema as t
from broadcaster.store.people import LAST_USED_RESOLUTION, token_hash
from tests.broadcaster.store.conftest import NOW

LATER = NOW + timedelta(hours=1)


def test_users_round_trip(seeded: Store) -> None:
    chief = User("chief-qiaoli", Role.CHIEF, ("qiaoli-village", "dongzhang-village"))
    created = seeded.people.create_user(chief, NOW, password_hash="scrypt$salt$hash")
    assert created.user == chief
    record = seeded.people.get_user("chief-qiaoli")
    assert (record.user, record.disabled, record.created_at) == (chief, False, NOW)
    assert record.password_hash == "scrypt$salt$hash"

    moved = User("chief-qiaoli", Role.OPERATOR, (), "vehicle-03")
    seeded.people.update_user(moved)
    seeded.people.set_password_hash("chief-qiaoli", "new-hash")
    seeded.people.set_user_disabled("chief-qiaoli", True)
    record = seeded.people.get_user("chief-qiaoli")
    assert (record.user, record.password_hash, record.disabled) == (moved, "new-hash", True)
    assert "chief-qiaoli" in [r.user.name for r in seeded.people.list_users()]
    seeded.people.delete_user("chief-qiaoli", NOW)
    with pytest.raises(NotFound):
        seeded.people.get_user("chief-qiaoli")


@pytest.mark.parametrize(
    ("user", "error"),
    [
        (User("x", Role.CHIEF, ("atlantis",)), "no area 'atlantis'"),
        (User("x", Role.OPERATOR, (), "tunli-village-1"), "no vehicle 'tunli-village-1'"),
        (User("x", Role.CHIEF, ("tunli", "tunli")), "listed twice"),
    ],
    ids=["unknown-area", "fixed-speaker-as-vehicle", "area-twice"],
)
def test_a_bad_user_is_refused(seeded: Store, user: User, error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        seeded.people.create_user(user, NOW)
    with pytest.raises(NotFound):
        seeded.people.get_user("x")


def test_a_user_name_is_taken_once(seeded: Store) -> None:
    with pytest.raises(Conflict):
        seeded.people.create_user(User("chief-tunli", Role.ADMIN), NOW)


def test_a_device_token_verifies_to_its_speaker_until_revoked(seeded: Store) -> None:
    record, token = seeded.people.issue_token(TokenKind.DEVICE, "vehicle-01", NOW, label="车载电脑")
    assert token.startswith("bcd_") and len(token) > 40
    assert seeded.people.verify_token(token, TokenKind.DEVICE, NOW) == "vehicle-01"
    assert seeded.people.verify_token(token + "x", TokenKind.DEVICE, NOW) is None
    assert (
        seeded.people.verify_token(token, TokenKind.USER, NOW) is None
    )  # device tokens are not users
    revoked = seeded.people.revoke_token(record.id, LATER)
    assert revoked.revoked_at == LATER
    assert seeded.people.revoke_token(record.id, LATER + timedelta(hours=1)).revoked_at == LATER
    assert seeded.people.verify_token(token, TokenKind.DEVICE, LATER) is None


def test_revoking_one_token_leaves_the_others(seeded: Store) -> None:
    first, token1 = seeded.people.issue_token(TokenKind.DEVICE, "vehicle-02", NOW)
    _, token2 = seeded.people.issue_token(TokenKind.DEVICE, "vehicle-02", NOW)
    seeded.people.revoke_token(first.id, NOW)
    assert seeded.people.verify_token(token1, TokenKind.DEVICE, NOW) is None
    assert seeded.people.verify_token(token2, TokenKind.DEVICE, NOW) == "vehicle-02"
    assert seeded.people.revoke_tokens(TokenKind.DEVICE, "vehicle-02", LATER) == 1
    assert seeded.people.verify_token(token2, TokenKind.DEVICE, LATER) is None


def test_a_personal_token_stops_working_while_its_user_is_disabled(seeded: Store) -> None:
    _, token = seeded.people.issue_token(TokenKind.USER, "chief-tunli", NOW)
    assert seeded.people.verify_token(token, TokenKind.USER, NOW) == "chief-tunli"
    seeded.people.set_user_disabled("chief-tunli", True)
    assert seeded.people.verify_token(token, TokenKind.USER, NOW) is None
    assert seeded.people.verify_token(token, "user", NOW) is None  # type: ignore[arg-type]
    seeded.people.delete_user("chief-tunli", NOW)
    assert seeded.people.list_tokens(TokenKind.USER, "chief-tunli")[0].revoked_at == NOW


def test_tokens_are_issued_only_for_known_subjects(seeded: Store) -> None:
    with pytest.raises(NotFound, match="no speaker 'vehicle-99'"):
        seeded.people.issue_token(TokenKind.DEVICE, "vehicle-99", NOW)
    with pytest.raises(NotFound, match="no user 'nobody'"):
        seeded.people.issue_token(TokenKind.USER, "nobody", NOW)


def test_last_use_is_recorded_at_most_once_a_minute(seeded: Store) -> None:
    record, token = seeded.people.issue_token(TokenKind.DEVICE, "vehicle-01", NOW)
    soon = NOW + LAST_USED_RESOLUTION / 2
    later = NOW + LAST_USED_RESOLUTION * 2
    for when in (NOW, soon):
        seeded.people.verify_token(token, TokenKind.DEVICE, when)
    assert seeded.people.list_tokens(subject="vehicle-01")[0].last_used_at == NOW
    seeded.people.verify_token(token, TokenKind.DEVICE, later)
    listed = seeded.people.list_tokens(TokenKind.DEVICE, "vehicle-01")
    assert [(r.id, r.last_used_at) for r in listed] == [(record.id, later)]


def test_only_the_hash_of_a_token_is_stored(seeded: Store) -> None:
    _, token = seeded.people.issue_token(TokenKind.DEVICE, "vehicle-01", NOW)
    with seeded.engine.connect() as conn:
        stored = conn.execute(select(t.tokens.c.token_hash)).scalars().all()
    assert stored == [token_hash(token)]
    assert token not in stored


def _database_bytes(store: Store) -> bytes:
    """Every byte the database keeps on disk (for PostgreSQL: the whole cluster)."""
    if store.dialect == "sqlite":
        path = Path(store.engine.url.database or "")
        files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
    else:
        with store.engine.connect() as conn:
            conn.exec_driver_sql("CHECKPOINT")
            data_dir = Path(str(conn.exec_driver_sql("SHOW data_directory").scalar()))
        files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert files, "found no database files"
    return b"".join(p.read_bytes() for p in files)


def test_the_plain_token_never_reaches_the_database_files(seeded: Store) -> None:
    _, token = seeded.people.issue_token(TokenKind.DEVICE, "vehicle-01", NOW, label="tablet")
    seeded.people.verify_token(token, TokenKind.DEVICE, NOW)
    blob = _database_bytes(seeded)
    assert token_hash(token).encode() in blob  # the search does see the stored rows
    assert token.encode() not in blob
    assert token.removeprefix("bcd_").encode() not in blob


def test_the_file_search_would_find_a_leaked_token(seeded: Store) -> None:
    """Guards the guard: a token written in clear is found by the same search."""
    _, token = seeded.people.issue_token(TokenKind.DEVICE, "vehicle-01", NOW)
    seeded.journal.append_audit(NOW, "tester", "oops", obj=token)
    assert token.encode() in _database_bytes(seeded)


def test_grep_finds_no_plain_token_in_the_sqlite_files(tmp_path: Path) -> None:
    """What an operator would try: grep the data folder (database, WAL and shm files)."""
    with Store.open(f"sqlite:///{tmp_path / 'b.db'}") as store:
        store.people.create_user(User("admin", Role.ADMIN), NOW)
        _, token = store.people.issue_token(TokenKind.USER, "admin", NOW)
    found = subprocess.run(
        ["grep", "-rc", "--binary-files=text", token, str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert found.returncode == 1, found.stdout  # grep: 1 = no match anywhere
