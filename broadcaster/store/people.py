"""Panel users and bearer tokens (device tokens and personal API tokens), stored hashed."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection, RowMapping

from broadcaster import limits
from broadcaster.errors import Conflict, NotFound, StorageFull, ValidationError
from broadcaster.models import SpeakerKind, User
from broadcaster.store import schema as t
from broadcaster.store.base import Part
from broadcaster.store.places import exists
from broadcaster.store.records import TokenKind, TokenRecord, UserRecord

log = logging.getLogger(__name__)

# `last_used_at` is written at most this often per token: a speaker authenticates every few
# seconds, and a write per request would be the busiest thing the database does.
LAST_USED_RESOLUTION = timedelta(seconds=60)
_PREFIX = {TokenKind.DEVICE: "bcd_", TokenKind.USER: "bcu_"}


def token_hash(token: str) -> str:
    """The sha256 (hex) under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def load_users(conn: Connection, name: str | None = None) -> tuple[UserRecord, ...]:
    query = select(t.users).order_by(t.users.c.name)
    areas_query = select(t.user_areas.c.user_name, t.user_areas.c.area_id).order_by(
        t.user_areas.c.position
    )
    if name is not None:
        query = query.where(t.users.c.name == name)
        areas_query = areas_query.where(t.user_areas.c.user_name == name)
    areas: dict[str, list[str]] = {}
    for user_name, area_id in conn.execute(areas_query):
        areas.setdefault(user_name, []).append(area_id)
    return tuple(
        UserRecord(
            User(r["name"], r["role"], tuple(areas.get(r["name"], ())), r["vehicle_id"]),
            r["disabled"],
            r["created_at"],
            r["password_hash"],
            r["display_name"],
            r["session_generation"],
        )
        for r in conn.execute(query).mappings()
    )


def _check_user(conn: Connection, user: User) -> None:
    what = f"user {user.name}"
    if len(set(user.area_ids)) != len(user.area_ids):
        raise ValidationError(f"{what}.area_ids: an area is listed twice")
    for area_id in user.area_ids:
        if not exists(conn, t.areas.c.id, area_id):
            raise ValidationError(f"{what}.area_ids: no area {area_id!r}")
    if user.vehicle_id is not None:
        kind = conn.execute(
            select(t.speakers.c.kind).where(t.speakers.c.id == user.vehicle_id)
        ).scalar()
        if kind != SpeakerKind.VEHICLE.value:
            raise ValidationError(f"{what}.vehicle_id: no vehicle {user.vehicle_id!r}")


def _insert_areas(conn: Connection, user: User) -> None:
    if user.area_ids:
        rows = [
            {"user_name": user.name, "area_id": a, "position": i}
            for i, a in enumerate(user.area_ids)
        ]
        conn.execute(insert(t.user_areas), rows)


def insert_user(
    conn: Connection, user: User, now: datetime, password_hash: str | None = None
) -> UserRecord:
    if exists(conn, t.users.c.name, user.name):
        raise Conflict(f"user {user.name!r} already exists")
    _check_user(conn, user)
    conn.execute(
        insert(t.users).values(
            name=user.name,
            role=user.role.value,
            password_hash=password_hash,
            disabled=False,
            vehicle_id=user.vehicle_id,
            created_at=now,
            session_generation="",
        )
    )
    _insert_areas(conn, user)
    return UserRecord(user, False, now, password_hash)


def _token(r: RowMapping) -> TokenRecord:
    return TokenRecord(
        r["id"],
        TokenKind(r["kind"]),
        r["subject"],
        r["label"],
        r["created_at"],
        r["last_used_at"],
        r["revoked_at"],
    )


def _revoke_all(conn: Connection, kind: TokenKind, subject: str, now: datetime) -> int:
    done = conn.execute(
        update(t.tokens)
        .where(
            t.tokens.c.kind == kind.value,
            t.tokens.c.subject == subject,
            t.tokens.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return done.rowcount


class People(Part):
    """Users and tokens."""

    def list_users(self) -> tuple[UserRecord, ...]:
        """Every user, by name."""
        with self._db.transaction(write=False) as conn:
            return load_users(conn)

    def get_user(self, name: str) -> UserRecord:
        with self._db.transaction(write=False) as conn:
            found = load_users(conn, name)
        if not found:
            raise NotFound(f"no user {name!r}")
        return found[0]

    def create_user(
        self, user: User, now: datetime, *, password_hash: str | None = None
    ) -> UserRecord:
        """Add a user; without a password hash the user cannot sign in yet."""
        with self._db.transaction() as conn:
            return insert_user(conn, user, now, password_hash)

    def update_user(self, user: User) -> UserRecord:
        """Change a user's role, areas and vehicle."""
        with self._db.transaction() as conn:
            if not exists(conn, t.users.c.name, user.name):
                raise NotFound(f"no user {user.name!r}")
            _check_user(conn, user)
            conn.execute(
                update(t.users)
                .where(t.users.c.name == user.name)
                .values(role=user.role.value, vehicle_id=user.vehicle_id)
            )
            conn.execute(delete(t.user_areas).where(t.user_areas.c.user_name == user.name))
            _insert_areas(conn, user)
            return load_users(conn, user.name)[0]

    def set_password_hash(self, name: str, password_hash: str) -> None:
        """Store a new password hash (hashing is the caller's job)."""
        self._set_user(name, password_hash=password_hash)

    def set_user_disabled(self, name: str, disabled: bool) -> None:
        """Disable or re-enable a user; a disabled user's tokens stop working."""
        self._set_user(name, disabled=disabled)

    def session_generation(self, name: str) -> str:
        """Changes each time `end_sessions(name)` runs; part of every panel session's epoch
        ('' before the first time, and for a user that does not exist)."""
        with self._db.transaction(write=False) as conn:
            value = conn.execute(
                select(t.users.c.session_generation).where(t.users.c.name == name)
            ).scalar()
        return str(value or "")

    def end_sessions(self, name: str) -> None:
        """End every panel session of `name` (sign-out): cookies copied before stop working."""
        self._set_user(name, session_generation=secrets.token_hex(8))

    def display_name(self, name: str) -> str | None:
        """The name the panel shows for a user (None: show the login name)."""
        with self._db.transaction(write=False) as conn:
            row = conn.execute(select(t.users.c.display_name).where(t.users.c.name == name)).first()
        if row is None:
            raise NotFound(f"no user {name!r}")
        return row[0]

    def set_display_name(self, name: str, display_name: str | None) -> str | None:
        """Set (or clear, with None or blanks) the name the panel shows for a user, e.g. in
        Chinese; at most `limits.DISPLAY_NAME_MAX` characters after trimming. Returns what was
        stored."""
        value = (display_name or "").strip() or None
        if value is not None and len(value) > limits.DISPLAY_NAME_MAX:
            raise ValidationError(
                f"user {name}.display_name: at most {limits.DISPLAY_NAME_MAX} characters"
            )
        if value is not None and any(not c.isprintable() for c in value):
            raise ValidationError(f"user {name}.display_name: only printable characters")
        self._set_user(name, display_name=value)
        return value

    def record_login_failure(
        self, name: str, address: str, at: datetime, *, forget_before: datetime
    ) -> None:
        """Note a failed sign-in for `name` from `address`; failures before `forget_before`
        (outside every throttle window) are deleted in the same transaction."""
        with self._db.transaction() as conn:
            conn.execute(delete(t.login_failures).where(t.login_failures.c.at < forget_before))
            conn.execute(
                insert(t.login_failures).values(at=at, name=name[:100], address=address[:64])
            )

    def login_failures(self, name: str, address: str, since: datetime) -> tuple[int, int]:
        """Failed sign-ins at or after `since`: (for `name` from `address`, from `address`
        for any name). Each is one indexed count, whatever other names and addresses did."""
        f = t.login_failures.c
        by_name = (
            select(func.count())
            .select_from(t.login_failures)
            .where(f.name == name[:100], f.address == address[:64], f.at >= since)
        )
        by_address = (
            select(func.count())
            .select_from(t.login_failures)
            .where(f.address == address[:64], f.at >= since)
        )
        with self._db.transaction(write=False) as conn:
            return int(conn.execute(by_name).scalar_one()), int(
                conn.execute(by_address).scalar_one()
            )

    def _set_user(self, name: str, **values: object) -> None:
        with self._db.transaction() as conn:
            done = conn.execute(update(t.users).where(t.users.c.name == name).values(values))
            if done.rowcount == 0:
                raise NotFound(f"no user {name!r}")

    def delete_user(self, name: str, now: datetime) -> None:
        """Remove a user; their personal tokens are revoked at `now`."""
        with self._db.transaction() as conn:
            if conn.execute(delete(t.users).where(t.users.c.name == name)).rowcount == 0:
                raise NotFound(f"no user {name!r}")
            _revoke_all(conn, TokenKind.USER, name, now)

    def issue_token(
        self, kind: TokenKind, subject: str, now: datetime, *, label: str = ""
    ) -> tuple[TokenRecord, str]:
        """A new token for a speaker (device) or a user; the plain token is returned only here."""
        kind = TokenKind(kind)
        plain = _PREFIX[kind] + secrets.token_urlsafe(32)
        record = TokenRecord(secrets.token_hex(8), kind, subject, label, now)
        with self._db.transaction() as conn:
            column = t.speakers.c.id if kind is TokenKind.DEVICE else t.users.c.name
            if not exists(conn, column, subject):
                raise NotFound(
                    f"no {'speaker' if kind is TokenKind.DEVICE else 'user'} {subject!r}"
                )
            conn.execute(
                insert(t.tokens).values(
                    id=record.id,
                    kind=kind.value,
                    subject=subject,
                    token_hash=token_hash(plain),
                    label=label,
                    created_at=now,
                )
            )
        return record, plain

    def verify_token(self, token: str, kind: TokenKind, now: datetime) -> str | None:
        """The subject (speaker id or user name) of a valid token of `kind`, else None.

        Looked up by its hash, so the time taken says nothing about how close a guess was.
        Revoked tokens, tokens of another kind and tokens of disabled users are refused.
        """
        kind = TokenKind(kind)
        digest = token_hash(token)
        with self._db.transaction(write=False) as conn:
            row = conn.execute(select(t.tokens).where(t.tokens.c.token_hash == digest)).mappings()
            found = row.first()
            if found is None or not hmac.compare_digest(found["token_hash"], digest):
                return None
            if found["revoked_at"] is not None or found["kind"] != kind.value:
                return None
            if kind is TokenKind.USER:
                disabled = conn.execute(
                    select(t.users.c.disabled).where(t.users.c.name == found["subject"])
                ).scalar()
                if disabled is not False:
                    return None
        last = found["last_used_at"]
        if last is None or now - last >= LAST_USED_RESOLUTION:
            try:
                with self._db.transaction() as conn:
                    conn.execute(
                        update(t.tokens)
                        .where(t.tokens.c.id == found["id"])
                        .values(last_used_at=now)
                    )
            except StorageFull:
                # Bookkeeping only: a full disk must not lock devices and users out of reads.
                log.warning("token %s: last use not recorded: the disk is full", found["id"])
        return str(found["subject"])

    def revoke_token(self, token_id: str, now: datetime) -> TokenRecord:
        """Revoke one token by its id (revoking twice keeps the first time)."""
        with self._db.transaction() as conn:
            conn.execute(
                update(t.tokens)
                .where(t.tokens.c.id == token_id, t.tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            row = conn.execute(select(t.tokens).where(t.tokens.c.id == token_id)).mappings()
            found = row.first()
        if found is None:
            raise NotFound(f"no token {token_id!r}")
        return _token(found)

    def revoke_tokens(self, kind: TokenKind, subject: str, now: datetime) -> int:
        """Revoke every live token of a speaker or user; returns how many."""
        with self._db.transaction() as conn:
            return _revoke_all(conn, TokenKind(kind), subject, now)

    def list_tokens(
        self, kind: TokenKind | None = None, subject: str | None = None
    ) -> tuple[TokenRecord, ...]:
        """Tokens (never their secret), oldest first."""
        query = select(t.tokens).order_by(t.tokens.c.created_at, t.tokens.c.id)
        if kind is not None:
            query = query.where(t.tokens.c.kind == TokenKind(kind).value)
        if subject is not None:
            query = query.where(t.tokens.c.subject == subject)
        with self._db.transaction(write=False) as conn:
            return tuple(_token(r) for r in conn.execute(query).mappings())
