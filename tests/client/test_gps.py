"""Position from gpsd (issue 13): the JSON protocol parsed defensively, and a real gpsd fed
by gpsfake with an NMEA track."""

from __future__ import annotations

import socket
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from broadcaster.client.gps import GpsReader, parse_address, parse_report
from broadcaster.client.retry import Backoff

TPV = (
    '{"class":"TPV","device":"/dev/pts/1","mode":3,"time":"2026-12-01T08:00:07.000Z",'
    '"lat":36.2345,"lon":111.7345,"alt":500.0,"track":90.0,"speed":5.1}'
)


def test_a_tpv_report_with_a_fix_is_a_fix():
    fix = parse_report(TPV, 12.5)
    assert fix is not None
    assert (fix.lat, fix.lon, fix.mode, fix.received) == (36.2345, 111.7345, 3, 12.5)
    assert fix.at == datetime(2026, 12, 1, 8, 0, 7, tzinfo=UTC)
    assert (fix.speed_mps, fix.track_deg) == (5.1, 90.0)


@pytest.mark.parametrize(
    "line",
    [
        '{"class":"VERSION","release":"3.22"}',
        '{"class":"TPV","mode":1}',  # no fix
        '{"class":"TPV","mode":3,"lat":95.0,"lon":10.0}',
        '{"class":"TPV","mode":3,"lat":"36","lon":111}',
        '{"class":"TPV","mode":3,"lat":true,"lon":111}',
        '{"class":"TPV","mode":3,"lat":NaN,"lon":111}',
        '{"class":"TPV","mode":2,"lat":36}',
        "not json",
        "[1, 2]",
        "",
    ],
)
def test_reports_without_a_usable_fix_are_none(line):
    assert parse_report(line, 0.0) is None


def test_a_bad_time_keeps_the_position():
    fix = parse_report(TPV.replace("2026-12-01T08:00:07.000Z", "yesterday"), 0.0)
    assert fix is not None and fix.at is None


def test_gpsd_addresses():
    assert parse_address("127.0.0.1:29470") == ("127.0.0.1", 29470)
    assert parse_address("gps.local") == ("gps.local", 2947)
    assert parse_address("[::1]:2947") == ("::1", 2947)
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_address("host:port")


def _nmea(sentence: str) -> str:
    checksum = 0
    for ch in sentence:
        checksum ^= ord(ch)
    return f"${sentence}*{checksum:02X}"


def _track(path: Path, points: int = 30) -> None:
    """A vehicle driving east from 36°14'N 111°44'E, one GPRMC + GPGGA per second."""
    lines = []
    for i in range(points):
        t = f"0800{i:02d}.00"
        lat, lon = "3614.0000", f"{11144.0000 + i * 0.01:.4f}"
        lines.append(_nmea(f"GPRMC,{t},A,{lat},N,{lon},E,10.0,90.0,011226,,,A"))
        lines.append(_nmea(f"GPGGA,{t},{lat},N,{lon},E,1,08,0.9,500.0,M,0.0,M,,"))
    path.write_text("\n".join(lines) + "\n")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_fixes_from_a_real_gpsd_and_none_when_it_goes(tmp_path):
    log = tmp_path / "track.nmea"
    _track(log)
    port = _free_port()
    fake = subprocess.Popen(
        ["gpsfake", "-P", str(port), "-q", "-c", "0.2", str(log)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    reader = GpsReader("127.0.0.1", port, max_age_s=2.0, backoff=Backoff(0.2, 0.5))
    try:
        reader.start()
        deadline = time.monotonic() + 30
        while reader.latest() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        fix = reader.latest()
        assert fix is not None, "no fix from gpsd within 30 s"
        assert abs(fix.lat - (36 + 14 / 60)) < 1e-6
        assert 111 + 44 / 60 <= fix.lon <= 111 + 44.3 / 60
        assert fix.mode in (2, 3)
    finally:
        fake.terminate()
        fake.wait(timeout=10)
    # gpsd gone: the fix ages out, the reader keeps trying and the client plays on.
    deadline = time.monotonic() + 10
    while reader.latest() is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert reader.latest() is None
    reader.stop()


def test_stopping_does_not_wait_for_a_silent_gpsd():
    """A gpsd that accepts and says nothing (no receiver): stop() returns at once."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        reader = GpsReader("127.0.0.1", listener.getsockname()[1], silence_s=30.0)
        reader.start()
        conn, _ = listener.accept()
        with conn:
            assert conn.recv(100).startswith(b"?WATCH")
            began = time.monotonic()
            reader.stop()
            assert time.monotonic() - began < 1.0
            assert reader._thread is not None and not reader._thread.is_alive()


def test_a_receiver_that_loses_its_fix_is_said_once(caplog):
    """gpsd keeps answering (mode 1 reports) but the fix is gone: one warning when the last
    fix is too old, one line when fixes come back; not one per report."""
    no_fix = b'{"class":"TPV","mode":1}\n'
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        reader = GpsReader("127.0.0.1", listener.getsockname()[1], max_age_s=0.3)
        caplog.set_level("INFO", logger="broadcaster.client.gps")
        reader.start()
        conn, _ = listener.accept()
        with conn:
            conn.recv(100)
            conn.sendall(TPV.encode() + b"\n")
            for _ in range(10):
                time.sleep(0.1)
                conn.sendall(no_fix)
            assert reader.latest() is None
            conn.sendall(TPV.encode() + b"\n")
            deadline = time.monotonic() + 5
            while reader.latest() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            reader.stop()
    said = [r.getMessage() for r in caplog.records if r.name == "broadcaster.client.gps"]
    assert [m for m in said if "no fix" in m] == [
        "no fix from the receiver for 0.3 s; playing on without a position"
    ], said
    assert sum("fixes from" in m for m in said) == 2, said  # the first fix, and again after
