"""Uploaded recordings are bounded too (issue 14, item 4): the clip collection removes the
recordings no message uses any more (replaced, or their message deleted) once they are a day
old, and keeps those a message uses, fresh uploads waiting for their Save or Send, the live
pages' WAVs and files that are not uploads."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from broadcaster import jobs
from broadcaster.models import Message
from broadcaster.service import Service
from tests.web.conftest import NOW, service  # noqa: F401


def _file(folder: Path, name: str, age: timedelta) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF....WAVE")
    moment = (NOW - age).timestamp()
    os.utime(path, (moment, moment))
    return path


def test_recordings_no_message_uses_are_removed_after_a_day(service: Service) -> None:  # noqa: F811
    folder = service.library.recordings
    day = timedelta(days=1)
    used = _file(folder, "a" * 64 + ".wav", 30 * day)
    shared = _file(folder, "b" * 64 + ".mp3", 30 * day)  # two messages, one deleted
    replaced = _file(folder, "c" * 64 + ".wav", 2 * day)
    waiting = _file(folder, "d" * 64 + ".m4a", day - timedelta(minutes=1))
    live = _file(folder, "live/live-0123456789ab.wav", 30 * day)
    other = _file(folder, "notes.txt", 30 * day)
    content = service.store.content
    content.create_message(Message("rec-1", "录音一", "", recording=used.name), NOW)
    content.create_message(Message("rec-2", "录音二", "", recording=shared.name), NOW)
    content.create_message(Message("rec-3", "录音三", "", recording=shared.name), NOW)
    content.delete_message("rec-3", NOW)

    assert jobs.forget_unused_recordings(service, NOW) == [replaced.name]
    assert [p.exists() for p in (used, shared, replaced, waiting, live, other)] == [
        True, True, False, True, True, True,
    ]  # fmt: skip
    content.delete_message("rec-2", NOW)
    # The clean-clips job does it on its rounds.
    jobs.collect_clips(service, NOW + timedelta(seconds=30))
    assert not shared.exists() and waiting.exists() and used.exists()
    assert jobs.forget_unused_recordings(service, NOW + day) == [waiting.name]
