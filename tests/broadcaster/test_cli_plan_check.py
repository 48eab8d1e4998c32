"""`broadcaster plan` and `broadcaster check` as a user runs them (real processes, real clips)."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from broadcaster import schema
from tests.conftest import BIN, SAMPLE_CONFIG


def run(*args: str, config: Path = SAMPLE_CONFIG, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "broadcaster"), *args, "--config", str(config), "--data", str(data)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


def test_plan_json_follows_the_contract(data):
    result = run("plan", "--speaker", "vehicle-01", "--date", "2026-12-01", "--json", data=data)
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)
    assert items, "a vehicle plays every day from 07:00"
    # the device API's item (broadcaster/schema.py), as the plan sends it
    assert all(set(item) == set(schema.PlanItem.model_fields) for item in items)
    assert set(schema.PlanItem.model_fields) == {
        "start", "end", "kind", "message", "clip", "urgent", "window_end"}  # fmt: skip
    starts = [datetime.fromisoformat(i["start"]) for i in items]
    ends = [datetime.fromisoformat(i["end"]) for i in items]
    assert all(t.utcoffset() is not None and t.isoformat().endswith("+08:00") for t in starts)
    assert items[0]["kind"] == "selftest" and starts[0].strftime("%H:%M:%S") == "07:00:00"
    assert {i["kind"] for i in items[1:]} == {"loop"}
    assert max(ends).strftime("%Y-%m-%d") == "2026-12-01" and max(ends).hour < 19
    assert all(b >= a for a, b in zip(ends, starts[1:], strict=False)), "no overlaps"


def test_plan_table_shows_the_windows(data):
    result = run("plan", "--speaker", "tunli-village-1", "--date", "2026-12-01", data=data)
    assert result.returncode == 0, result.stderr
    assert "window 07:00 - 09:00 (hard stop)" in result.stdout
    assert "window 17:30 - 19:00 (hard stop)" in result.stdout
    assert "selftest" in result.stdout


def test_plan_for_an_unknown_speaker_is_an_error(data):
    result = run("plan", "--speaker", "vehicle-99", data=data)
    assert result.returncode == 2
    assert "no speaker 'vehicle-99'" in result.stderr


def test_sample_config_checks_clean(data):
    result = run("check", data=data)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout


BROKEN = """\
deployment: {name: 测试, timezone: Asia/Shanghai}
areas:
  - {id: v, name: 甲村, kind: village}
speakers:
  - {id: s1, name: 一号, kind: fixed, area: v}
  - {id: s2, name: 二号, kind: fixed, area: v}
  - {id: s3, name: 三号, kind: fixed, area: nowhere}
messages:
  - {id: m1, title: 一, text: 请戴口罩。}
programs:
  - {id: p1, messages: [m1, ghost]}
schedules:
  - {id: a, program: p1, speakers: [s1], start: "07:00", end: "12:00"}
  - {id: b, program: p1, speakers: [s1], start: "11:00", end: "13:00"}
  - {id: c, program: nope, speakers: [s1, s9], start: "14:00", end: "15:00"}
  - {id: d, program: p1, areas: [v], start: "16:00:00", end: "16:00:01", priority: 5}
"""


def test_check_lists_every_problem_with_its_place(tmp_path):
    config = tmp_path / "broken.yaml"
    config.write_text(BROKEN)
    result = run("check", config=config, data=tmp_path / "data")
    assert result.returncode == 1
    out = result.stdout
    expected = [
        "schedules.a: overlaps schedule 'b' at the same priority 0 on speaker s1",
        "schedules.c.program: unknown program 'nope'",
        "schedules.c.speakers: unknown speaker 's9'",
        "programs.p1.messages: unknown message 'ghost'",
        "speakers.s3.area: unknown area 'nowhere'",
        "schedules.d: the window 16:00-16:00 is shorter than its shortest clip",
        "speakers.s3: no schedule plays on this speaker",
    ]
    for line in expected:
        assert f"{config}: {line}" in out, (line, out)
    assert "problem(s) found" in result.stderr
