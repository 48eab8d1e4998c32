"""An urgent announcement with a recording becomes a message only when it is sent: when the
confirmed send fails (nobody can hear it any more, the disk is full) neither the message
made for it nor the recording file remains. The same for a message saved with a new
recording: a save that fails (edited meanwhile, disk full) keeps no file (issue 10, smaller
findings)."""

from __future__ import annotations

import io
import os
import re
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from audio.cache import ClipCache
from audio.render import Renderer
from broadcaster import urgent
from broadcaster.clips import ClipLibrary
from broadcaster.config import Settings
from broadcaster.models import Role, User
from broadcaster.notify import Notifier
from broadcaster.passwords import hash_password
from broadcaster.service import Service
from broadcaster.store import Store, sqlite_url
from tests.web.conftest import NOW, PASSWORD, ToneSynthesizer, login, post
from tests.web.test_forms import tone_wav
from tests.web.test_urgent_panel import TUNLI, beat, confirm, hidden
from web.app import create_app

RECORDING = {k: v for k, v in TUNLI.items() if k != "text"} | {
    "source": "recording",
    "override_window": "1",
    "expires_min": "1",
}


def _messages(service: Service) -> set[str]:
    return {m.id for m in service.store.content.list_messages()}


def _files(service: Service) -> set[str]:
    folder = service.library.recordings
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def _preview(client: FlaskClient) -> str:
    """The recording's preview page: it will be heard now; the file is kept for the confirm."""
    page = post(
        client,
        "/urgent",
        RECORDING | {"recording": (io.BytesIO(tone_wav(1.5)), "rec.wav")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert "现在听到：1" in page, page[:3000]
    return page


def _confirm(client: FlaskClient, page: str) -> Any:
    data = RECORDING | {"recording_file": hidden(page, "recording_file")}
    return confirm(client, data, page, override_confirmed="1")


def test_a_confirm_nobody_can_hear_any_more_keeps_no_message_and_no_file(
    login_as: Any, app: Flask, service: Service
) -> None:
    beat(app, service, "tunli-village-1")
    messages, files = _messages(service), _files(service)
    client = login_as("chief-tunli")
    page = _preview(client)
    kept = hidden(page, "recording_file")
    assert _files(service) == files | {kept}  # kept for the confirm, no message yet
    # Meanwhile a longer announcement takes the loudspeaker until ours would expire.
    urgent.send(
        service,
        User("admin", Role.ADMIN),
        urgent.UrgentRequest(
            text="紧急：水库泄洪，请远离河道。", speaker_ids=("tunli-village-1",), repeats=20,
            override_window=True,
        ),
        NOW,
    )  # fmt: skip
    refused = _confirm(client, page)
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422, body[:3000]
    assert "没有喇叭能播放它" in body or "优先级更高" in body, body[:3000]
    assert "没有发送，录音也没有保留：请重新添加录音。" in body
    assert 'name="recording_file" value=""' in body
    assert _messages(service) == messages
    assert _files(service) == files
    assert len(service.store.urgents.list_urgents()) == 1  # only the other one
    audit = [a.action for a in service.store.journal.list_audit(limit=10)]
    assert audit[:2] == ["message.delete", "message.create"]


# -- the disk fills up between the preview and the confirm --------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """`tmp_path/disk`: a 16 MiB tmpfs (unmounted after the test)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.fixture
def full_disk_app(
    settings: Settings, small_disk: Path, clock: list[datetime]
) -> Iterator[tuple[Flask, Service]]:
    store = Store.open(sqlite_url(small_disk))
    store.seed_from(settings, NOW)
    renderer = Renderer(ToneSynthesizer(), ClipCache(small_disk / "clips"), settings.render)
    library = ClipLibrary(renderer, small_disk / "recordings", settings.selftest_text)
    service = Service(settings, store, library, Notifier(store.devices.last_event_seq()))
    store.people.set_password_hash("chief-tunli", hash_password(PASSWORD))
    app = create_app(settings, service, secret_key="t", clock=lambda: clock[0])
    app.config["PANEL_MAX_RECORDING_S"] = 5
    yield app, service
    store.close()


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


def test_a_confirm_on_a_full_disk_keeps_no_message_and_no_file(
    full_disk_app: tuple[Flask, Service], small_disk: Path
) -> None:
    app, service = full_disk_app
    beat(app, service, "tunli-village-1")
    client = app.test_client()
    assert login(client, "chief-tunli").status_code == 302
    messages, files = _messages(service), _files(service)
    page = _preview(client)
    assert len(_files(service)) == len(files) + 1
    with service.store.engine.connect() as conn:  # new writes need new space
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    filler = _fill(small_disk)
    try:
        failed = _confirm(client, page)
        assert failed.status_code == 507, failed.get_data(as_text=True)[:2000]
        assert _files(service) == files  # removed at once, with the disk still full
    finally:
        filler.unlink()
    assert _messages(service) == messages
    assert service.store.urgents.list_urgents() == ()
    with service.store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    assert re.fullmatch(r"[0-9a-f]{64}\.wav", hidden(page, "recording_file"))


# -- messages with a new recording --------------------------------------------------------------

MESSAGE = {"title": "录音通知", "text": "", "voice": "zh", "rate": "170", "volume": "1",
           "chime": "1", "area": "tunli-village"}  # fmt: skip


def test_a_message_edit_that_lost_the_race_keeps_no_new_recording(
    login_as: Any, service: Service
) -> None:
    client = login_as("chief-tunli")
    made = post(client, "/messages/new", MESSAGE | {"text": "今晚停水。"})
    assert made.status_code == 302, made.get_data(as_text=True)[:2000]
    message_id = made.headers["Location"].rsplit("/", 1)[-1]
    page = client.get(f"/messages/{message_id}").get_data(as_text=True)
    version = hidden(page, "version")
    other = post(
        client, f"/messages/{message_id}", MESSAGE | {"text": "改了。", "version": version}
    )
    assert other.status_code == 302  # someone saved meanwhile
    files = _files(service)
    stale = post(
        client,
        f"/messages/{message_id}",
        MESSAGE | {"version": version, "recording": (io.BytesIO(tone_wav(1.5)), "r.wav")},
        content_type="multipart/form-data",
    )
    assert stale.status_code == 409, stale.get_data(as_text=True)[:2000]
    assert _files(service) == files
    assert service.store.content.get_message(message_id).recording is None


def test_a_new_message_whose_clip_cannot_be_stored_keeps_no_recording(
    full_disk_app: tuple[Flask, Service], small_disk: Path
) -> None:
    app, service = full_disk_app
    client = app.test_client()
    assert login(client, "chief-tunli").status_code == 302
    messages, files = _messages(service), _files(service)
    upload = tone_wav(4.0)  # 128 KB kept; its clip needs several times that
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (free - len(upload) - 96 * 1024))
    try:
        failed = post(
            client,
            "/messages/new",
            MESSAGE | {"recording": (io.BytesIO(upload), "r.wav")},
            content_type="multipart/form-data",
        )
        assert failed.status_code == 507, failed.get_data(as_text=True)[:2000]
        assert _files(service) == files
    finally:
        filler.unlink()
    assert _messages(service) == messages
