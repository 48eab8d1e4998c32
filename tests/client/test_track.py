"""The vehicle's track (issue 13): journaled every N s or M metres, bounded (oldest dropped
and counted), ids never reused, uploaded in batches and kept until the server has them."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from broadcaster import schema
from broadcaster.client.api import ApiError
from broadcaster.client.clock import Clock
from broadcaster.client.gps import Fix
from broadcaster.client.track import (
    TrackJournal,
    TrackRecorder,
    TrackUploader,
    position_json,
)


def fix(received: float, lat: float = 36.2, lon: float = 111.7, **kw: Any) -> Fix:
    return Fix(lat, lon, 3, received, **kw)


def point(n: int) -> dict[str, Any]:
    return {"lat": 36.2, "lon": 111.7 + n * 1e-4, "at": f"2026-12-01T08:00:{n % 60:02d}.000+00:00"}


def test_a_point_every_10_s_or_50_m_whichever_first(tmp_path: Path) -> None:
    journal = TrackJournal(tmp_path / "track.sqlite3")
    rec = TrackRecorder(journal, Clock(), every_s=10, every_m=50)
    assert rec.offer(fix(0.0))  # the first
    assert not rec.offer(fix(5.0))  # parked, 5 s
    assert rec.offer(fix(10.0))  # parked, 10 s
    assert not rec.offer(fix(12.0, lat=36.2 + 40 / 111_000))  # 40 m
    assert rec.offer(fix(13.0, lat=36.2 + 60 / 111_000))  # 60 m after 3 s
    assert journal.count() == 3


def test_points_are_schema_valid_and_out_of_range_values_are_left_out(tmp_path: Path) -> None:
    journal = TrackJournal(tmp_path / "track.sqlite3")
    clock = Clock()
    TrackRecorder(journal, clock).offer(fix(clock.mono(), speed_mps=250.0, track_deg=-3.0))
    TrackRecorder(journal, clock).offer(fix(clock.mono(), speed_mps=8.46, track_deg=271.6))
    points = journal.pending()
    body = schema.Track.model_validate({"points": points})
    assert [(p.speed, p.heading) for p in body.points] == [(None, None), (8.5, 272)]
    hb = position_json(fix(clock.mono(), speed_mps=250.0), clock)
    assert "speed" not in hb and set(hb) == {"lat", "lon", "fix_at"}
    schema.Position.model_validate(hb)


def test_the_journal_is_bounded_the_oldest_go_first_and_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "track.sqlite3"
    journal = TrackJournal(path, max_points=5)
    for n in range(8):
        journal.add(point(n))
    ids = [p["id"] for p in journal.pending()]
    assert journal.count() == 5 and journal.dropped == 3
    assert [int(i.rsplit("-", 1)[1]) for i in ids] == [4, 5, 6, 7, 8]
    journal.close()
    again = TrackJournal(path, max_points=5)  # a restart keeps the points and the count
    assert again.count() == 5 and again.dropped == 3 and again.pending()[0]["id"] == ids[0]


def test_ids_are_never_reused_even_by_a_new_journal(tmp_path: Path) -> None:
    a = TrackJournal(tmp_path / "a.sqlite3")
    a.add(point(1))
    first = a.pending()[0]["id"]
    a.acknowledge([first])
    a.add(point(2))
    assert a.pending()[0]["id"] != first  # deleted rows do not give their number back
    b = TrackJournal(tmp_path / "b.sqlite3")  # a reinstalled client
    b.add(point(1))
    assert b.pending()[0]["id"] != first


class FakeApi:
    """Answers track uploads as the test says, keeping what it was sent."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.sent: list[list[dict[str, Any]]] = []

    def track(self, points: list[dict[str, Any]]) -> dict[str, Any]:
        self.sent.append(points)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer(points) if callable(self.answer) else self.answer


def test_uploads_in_batches_of_1000_and_forgets_what_the_server_has(tmp_path: Path) -> None:
    journal = TrackJournal(tmp_path / "track.sqlite3")
    for n in range(2300):
        journal.add(point(n))
    api = FakeApi(
        lambda pts: {"accepted": [p["id"] for p in pts[:-1]], "duplicates": [pts[-1]["id"]]}
    )
    assert TrackUploader(api, journal).flush_once() == 2300  # type: ignore[arg-type]
    assert [len(b) for b in api.sent] == [1000, 1000, 300] and journal.count() == 0


def test_a_server_without_the_endpoint_keeps_the_points(tmp_path: Path) -> None:
    journal = TrackJournal(tmp_path / "track.sqlite3")
    journal.add(point(1))
    api = FakeApi(ApiError("POST /track: 404 not found", 404))
    uploader = TrackUploader(api, journal, upload_s=0.05)  # type: ignore[arg-type]
    with pytest.raises(ApiError):
        uploader.flush_once()
    assert journal.count() == 1
    stopping = threading.Event()
    loop = threading.Thread(target=uploader.run, args=(stopping,))
    loop.start()
    stopping.wait(0.3)
    stopping.set()
    uploader.wake()
    loop.join(5)
    assert not loop.is_alive() and journal.count() == 1 and len(api.sent) >= 1


def test_a_refused_point_is_dropped_and_counted_and_the_rest_go(tmp_path: Path) -> None:
    journal = TrackJournal(tmp_path / "track.sqlite3")
    for n in range(3):
        journal.add(point(n))
    bad = journal.pending()[1]["id"]
    calls = []

    def answer(points: list[dict[str, Any]]) -> dict[str, Any]:
        calls.append([p["id"] for p in points])
        if any(p["id"] == bad for p in points):
            at = next(i for i, p in enumerate(points) if p["id"] == bad)
            raise ApiError("422 points[1].at: outside the device window", 422, f"points[{at}].at")
        return {"accepted": [p["id"] for p in points], "duplicates": []}

    assert TrackUploader(FakeApi(answer), journal).flush_once() == 2  # type: ignore[arg-type]
    assert journal.count() == 0 and journal.dropped == 1
    assert bad not in calls[-1]


def test_a_refusal_without_a_point_keeps_everything(tmp_path: Path) -> None:
    journal = TrackJournal(tmp_path / "track.sqlite3")
    journal.add(point(1))
    api = FakeApi(ApiError("413 too large", 413))
    with pytest.raises(ApiError):
        TrackUploader(api, journal).flush_once()  # type: ignore[arg-type]
    assert journal.count() == 1 and journal.dropped == 0
