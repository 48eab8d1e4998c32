"""A shared world for the security suites: two villages' objects, users and tokens of every kind.

The tests/web fixtures (function scoped: `service`, `app`, `client`, `login_as`, `post`) are
re-exported for tests that change state; `world` is built once per module for the matrix,
whose requests must change nothing (each cell checks that).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from audio.cache import ClipCache
from audio.render import Renderer
from broadcaster import editing, urgent
from broadcaster.clips import ClipLibrary
from broadcaster.config import Settings
from broadcaster.models import Message, PlayKind, PlayLogEntry, Program, Role, Schedule, User
from broadcaster.notify import Notifier
from broadcaster.passwords import hash_password
from broadcaster.service import Heartbeat, Service
from broadcaster.store import Store, TokenKind, sqlite_url
from broadcaster.store.livepages import LiveRecord
from tests.web.conftest import *  # noqa: F403 (the web fixtures, for state-changing tests)
from tests.web.conftest import NOW, PASSWORD, ToneSynthesizer, csrf_of
from web.app import create_app

SESSION_COOKIE = "broadcaster_session"


@dataclass(frozen=True)
class Village:
    """One village's objects, and the strings that must never reach another village's users."""

    area: str
    area_name: str
    speaker: str
    speaker_name: str
    vehicle: str
    vehicle_name: str
    chief: str
    message: str
    program: str
    schedule: str
    urgent: str
    device_token_id: str
    clip: str
    secrets: tuple[str, ...]
    live: str = ""  # a kept live page to its speaker (issue 12)


@dataclass
class World:
    settings: Settings
    service: Service
    app: Flask
    villages: dict[str, Village]
    cookies: dict[str, str] = field(default_factory=dict)  # actor -> session cookie
    names: dict[str, str] = field(default_factory=dict)  # actor -> user name (sessions)
    tokens: dict[str, str] = field(default_factory=dict)  # actor -> bearer token

    def sign_in_again(self, actor: str) -> None:
        """A new session for `actor` (signing out ends all of the user's sessions)."""
        self.cookies[actor] = _session(self.app, self.names[actor])

    def client(self, actor: str) -> tuple[FlaskClient, dict[str, str]]:
        """A fresh client for `actor` and the headers it sends (bearer, CSRF for sessions)."""
        client = self.app.test_client()
        headers: dict[str, str] = {}
        if actor in self.cookies:
            client.set_cookie(SESSION_COOKIE, self.cookies[actor])
            with client.session_transaction() as s:
                headers["X-CSRF-Token"] = str(s.get("csrf", ""))
        if actor in self.tokens:
            headers["Authorization"] = f"Bearer {self.tokens[actor]}"
        return client, headers


def _village(
    service: Service, key: str, area: str, speaker: str, vehicle: str, chief: str, word: str
) -> Village:
    """Objects owned by `area`, an urgent to its speaker, its speaker's status and plays."""
    store = service.store
    deployment = service.deployment(NOW)
    areas = {a.id: a for a in deployment.areas}
    speakers = {s.id: s for s in deployment.speakers}
    message = Message(f"{key}-msg", f"{word}秘密通知", f"{word}今晚停水，请提前储水。")
    store.content.create_message(message, NOW)
    editing.set_owner(store, "message", message.id, area)
    store.content.create_program(Program(f"{key}-prog", f"{word}秘密循环", (message.id,), 3))
    editing.set_owner(store, "program", f"{key}-prog", area)
    store.schedules.create_schedule(
        Schedule(f"{key}-sched", f"{key}-prog", speaker_ids=(speaker,), priority=7), NOW
    )
    admin = User("admin", Role.ADMIN)
    sent = urgent.send(
        service,
        admin,
        urgent.UrgentRequest(text=f"{word}紧急秘密", speaker_ids=(speaker,), override_window=True),
        NOW,
    ).urgent
    record, _plain = store.people.issue_token(TokenKind.DEVICE, speaker, NOW, label=f"{key} device")
    clip = service.library.for_message(message)
    service.heartbeat(
        speaker, Heartbeat("playing", None, None, 80, None, None, 0, None, None, "1"), NOW
    )
    store.devices.add_plays(
        [
            PlayLogEntry(
                f"{key}-play-1",
                speaker,
                clip.key,
                message.id,
                PlayKind.LOOP,
                NOW - timedelta(minutes=5),
                NOW - timedelta(minutes=5),
                NOW - timedelta(minutes=4),
                True,
                "",
            )
        ],
        NOW,
    )
    live = LiveRecord(f"live-{key}", "admin", "admin", NOW, (speaker,),
                      targets={speaker: {"name": speakers[speaker].name, "outcome": "heard"}},
                      recording=f"live/live-{key}.wav")  # fmt: skip
    store.live.start(live)
    kept = service.library.recordings / "live" / f"live-{key}.wav"
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(service.clip_file(clip.key), kept)
    store.live.finish(live.id, NOW, "released", live.targets)
    store.live.set_clip(live.id, clip.key, clip.duration_ms)
    secrets = (
        speaker,
        speakers[speaker].name,
        vehicle,
        speakers[vehicle].name,
        message.id,
        message.title,
        message.text,
        f"{key}-prog",
        f"{word}秘密循环",
        f"{key}-sched",
        sent.id,
        f"{word}紧急秘密",
        f"{key}-play-1",
        areas[area].name,
    )
    return Village(
        area=area,
        area_name=areas[area].name,
        speaker=speaker,
        speaker_name=speakers[speaker].name,
        vehicle=vehicle,
        vehicle_name=speakers[vehicle].name,
        chief=chief,
        message=message.id,
        program=f"{key}-prog",
        schedule=f"{key}-sched",
        urgent=sent.id,
        device_token_id=record.id,
        clip=clip.key,
        secrets=secrets,
        live=live.id,
    )


def _session(app: Flask, name: str) -> str:
    client = app.test_client()
    token = csrf_of(client)
    response = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    cookie = client.get_cookie(SESSION_COOKIE)
    assert cookie is not None
    return cookie.value


@pytest.fixture(scope="module")
def world(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Village A (屯里村, chief-tunli, vehicle-01) and B (西关社区, chief-xiguan, vehicle-02)."""
    tmp: Path = tmp_path_factory.mktemp("world")
    store = Store.open(sqlite_url(tmp))
    store.seed_from(settings, NOW)
    renderer = Renderer(ToneSynthesizer(), ClipCache(tmp / "clips"), settings.render)
    library = ClipLibrary(renderer, tmp / "recordings", settings.selftest_text)
    service = Service(settings, store, library, Notifier(store.devices.last_event_seq()))
    password = hash_password(PASSWORD)
    for name in ("chief-tunli", "chief-xiguan", "driver-01"):
        store.people.set_password_hash(name, password)
    store.people.create_user(User("admin", Role.ADMIN), NOW, password_hash=password)
    store.people.create_user(
        User("chief-gone", Role.CHIEF, ("tunli-village",)), NOW, password_hash=password
    )
    villages = {
        "A": _village(
            service,
            "tunli",
            "tunli-village",
            "tunli-village-1",
            "vehicle-01",
            "chief-tunli",
            "屯里",
        ),
        "B": _village(
            service,
            "xiguan",
            "xiguan-community",
            "xiguan-community-1",
            "vehicle-02",
            "chief-xiguan",
            "西关",
        ),
    }
    app = create_app(settings, service, secret_key="test-secret", clock=lambda: NOW)
    found = World(settings, service, app, villages)
    for actor, name in (
        ("admin", "admin"),
        ("chief-A", "chief-tunli"),
        ("chief-B", "chief-xiguan"),
        ("operator-01", "driver-01"),
        ("disabled-user", "chief-gone"),
    ):
        found.cookies[actor] = _session(app, name)
        found.names[actor] = name
    found.tokens["device-A"] = store.people.issue_token(TokenKind.DEVICE, "tunli-village-1", NOW)[1]
    record, plain = store.people.issue_token(TokenKind.DEVICE, "tunli-village-1", NOW)
    store.people.revoke_token(record.id, NOW)
    found.tokens["revoked-device-token"] = plain
    found.tokens["user-token-A"] = store.people.issue_token(TokenKind.USER, "chief-tunli", NOW)[1]
    record, plain = store.people.issue_token(TokenKind.USER, "chief-tunli", NOW)
    store.people.revoke_token(record.id, NOW)
    found.tokens["revoked-user-token"] = plain
    found.tokens["disabled-user-token"] = store.people.issue_token(
        TokenKind.USER, "chief-gone", NOW
    )[1]
    store.people.set_user_disabled("chief-gone", True)
    yield found
    store.close()


def snapshot(service: Service) -> dict[str, Any]:
    """Everything a request could change except the audit log (denials are audited)."""
    store = service.store
    return {
        "areas": store.places.list_areas(),
        "speakers": store.places.list_speakers(),
        "messages": store.content.list_messages(),
        "programs": store.content.list_programs(),
        "schedules": store.schedules.list_schedules(),
        "urgents": store.urgents.list_urgents(limit=1000),
        "users": store.people.list_users(),
        "tokens": [(t.id, t.subject, t.revoked_at) for t in store.people.list_tokens()],
        "statuses": store.devices.speaker_statuses(),
        "plays": store.devices.plays(NOW - timedelta(days=3), NOW + timedelta(days=3)),
        "events": store.devices.last_event_seq(),
        "owners": store.content.owners(),
        "lexicon": store.get_meta(editing.LEXICON_KEY),
        "acks": {
            u.id: store.urgents.urgent_acks(u.id) for u in store.urgents.list_urgents(limit=1000)
        },
    }
