"""Fixtures for the panel: a fresh app on a temporary SQLite store, users of every role.

`settings` -> `service` -> `app` -> `client` -> `login(name)`. The synthesizer is a fake
that writes a short tone (the real engine is tested in tests/audio), so pages are fast.
"""

from __future__ import annotations

import re
import wave
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient

from audio.cache import ClipCache
from audio.render import Renderer
from audio.tts import ClipCheck, SpeechRequest, Voice
from broadcaster.clips import ClipLibrary
from broadcaster.config import Settings
from broadcaster.models import Role, User
from broadcaster.notify import Notifier
from broadcaster.passwords import hash_password
from broadcaster.service import Service
from broadcaster.store import Store, sqlite_url
from web.app import create_app

PASSWORD = "correct-horse-1"
NOW = datetime(2025, 5, 6, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai, a Tuesday


class ToneSynthesizer:
    """Writes a 440 Hz tone, 50 ms per character (at most 3 s)."""

    engine_id = "tone-1"

    def voices(self) -> list[Voice]:
        return [Voice("zh", "Chinese", ("zh",))]

    def resolve_voice(self, voice: str) -> str:
        from audio.errors import UnknownVoice

        if voice.startswith("no-such"):
            raise UnknownVoice(f"no voice {voice!r}")
        return voice

    def synthesize(self, request: SpeechRequest, out_path: Path) -> ClipCheck:
        rate = 22050
        seconds = min(3.0, 0.3 + 0.05 * len(request.text))
        t = np.arange(int(rate * seconds)) / rate
        samples = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
        with wave.open(str(out_path), "wb") as f:
            f.setnchannels(1)
            f.setsampwidth(2)
            f.setframerate(rate)
            f.writeframes(samples.tobytes())
        return ClipCheck(seconds, -13.0, rate)


@pytest.fixture
def clock() -> list[datetime]:
    """The app's clock: tests move it by replacing clock[0]."""
    return [NOW]


@pytest.fixture
def service(settings: Settings, tmp_path: Path) -> Iterator[Service]:
    store = Store.open(sqlite_url(tmp_path))
    store.seed_from(settings, NOW)
    renderer = Renderer(ToneSynthesizer(), ClipCache(tmp_path / "clips"), settings.render)
    library = ClipLibrary(renderer, tmp_path / "recordings", settings.selftest_text)
    svc = Service(settings, store, library, Notifier(store.devices.last_event_seq()))
    password = hash_password(PASSWORD)
    for name in ("chief-tunli", "chief-xiguan", "driver-01"):
        store.people.set_password_hash(name, password)
    store.people.create_user(User("admin", Role.ADMIN), NOW, password_hash=password)
    yield svc
    store.close()


@pytest.fixture
def app(settings: Settings, service: Service, clock: list[datetime]) -> Flask:
    app = create_app(
        settings, service, secret_key="test-secret", clock=lambda: clock[0], secure_cookies=True
    )
    app.config["PANEL_MAX_RECORDING_S"] = 5
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf_of(client: FlaskClient) -> str:
    """The CSRF token of the client's session (as a page would embed it)."""
    page = client.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert match, page[:500]
    return match.group(1)


def login(client: FlaskClient, name: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    token = csrf_of(client)
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token})


@pytest.fixture
def login_as(client: FlaskClient) -> Callable[[str], FlaskClient]:
    def sign_in(name: str) -> FlaskClient:
        response = login(client, name)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    return sign_in


def post(client: FlaskClient, url: str, data: Mapping[str, object] | None = None, **kw: object):  # type: ignore[no-untyped-def]
    """A form POST with the session's CSRF token, as the browser sends it."""
    with client.session_transaction() as s:
        token = s.get("csrf", "")
    return client.post(url, data={**(data or {}), "csrf_token": token}, **kw)
