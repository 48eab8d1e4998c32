"""`broadcaster normalize` and `broadcaster synth` as a user runs them: real processes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.audio.measure import duration_s, ebur128
from tests.conftest import BIN, SAMPLE_CONFIG


def broadcaster(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "broadcaster"), *args, "--config", str(SAMPLE_CONFIG), "--data", str(cwd / "data")],
        capture_output=True, text=True, timeout=120, cwd=cwd,
    )  # fmt: skip


def test_normalize_prints_the_spoken_text(tmp_path):
    result = broadcaster("normalize", "10月19日起每日7:00至19:00，保持2米距离", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "十月十九日起每日七点至十九点，保持两米距离"


def test_normalize_applies_the_configured_lexicon(tmp_path):
    result = broadcaster("normalize", "洪洞县", cwd=tmp_path)
    assert result.stdout.strip() == "洪同县"


def test_synth_renders_then_serves_from_the_cache(tmp_path):
    out = tmp_path / "notice.wav"
    first = broadcaster("synth", "各位村民请注意，出门请戴好口罩。", "-o", str(out), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "rendered" in first.stdout and "LUFS" in first.stdout
    assert abs(ebur128(out).integrated_lufs + 16.0) <= 1.0
    second = broadcaster("synth", "各位村民请注意，出门请戴好口罩。", "-o", str(out), cwd=tmp_path)
    assert second.returncode == 0 and "served from cache" in second.stdout


def test_synth_options_change_the_clip(tmp_path):
    base = tmp_path / "base.mp3"
    fast = tmp_path / "fast.mp3"
    text = "请各位村民按时参加核酸检测，不要聚集。"
    assert broadcaster("synth", text, "-o", str(base), cwd=tmp_path).returncode == 0
    result = broadcaster(
        "synth", text, "-o", str(fast), "--rate", "240", "--no-chime", "--voice", "cmn-latn-pinyin",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert duration_s(fast) < duration_s(base) - 1.5


@pytest.mark.parametrize(
    ("text", "output", "extra", "message"),
    [
        pytest.param("", "o.wav", [], "text is empty", id="empty-text"),
        pytest.param("，。！？", "o.wav", [], "nothing to say", id="punctuation-only"),
        pytest.param("请" * 501, "o.wav", [], "limit is 500", id="too-long"),
        pytest.param(
            "请戴口罩", "o.wav", ["--voice", "klingon"], "unknown voice", id="unknown-voice"
        ),
        pytest.param("请戴口罩", "missing/o.wav", [], "does not exist", id="missing-folder"),
        pytest.param("请戴口罩", "afile/o.wav", [], "cannot write", id="parent-is-a-file"),
        pytest.param("请戴口罩", "adir", [], "directory", id="output-is-a-directory"),
        pytest.param("请戴口罩", "o.flac", [], "unsupported output format", id="bad-extension"),
        pytest.param("请戴口罩", "o.wav", ["--rate", "5"], "rate 5 is out of range", id="bad-rate"),
    ],
)
def test_synth_bad_input_is_a_one_line_error_with_exit_2(tmp_path, text, output, extra, message):
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "adir.wav").mkdir()
    output = "adir.wav" if output == "adir" else output
    before = set(tmp_path.rglob("*"))
    result = broadcaster("synth", text, "-o", str(tmp_path / output), *extra, cwd=tmp_path)
    assert result.returncode == 2, result
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    created = {
        p for p in set(tmp_path.rglob("*")) - before if p.is_file() and "data" not in p.parts
    }
    assert created == set()  # no partial output file


def test_bad_config_is_named_with_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("deployment:\n  name: x\n  timezone: Mars/Olympus\n")
    result = subprocess.run(
        [str(BIN / "broadcaster"), "normalize", "x", "--config", str(bad)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert f"{bad}: deployment.timezone: expected an IANA time zone" in result.stderr


def test_voices_lists_the_mandarin_voices_and_marks_the_default(tmp_path):
    result = subprocess.run(
        [str(BIN / "broadcaster"), "voices"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert any(line.startswith("sit/cmn-latn-pinyin") and "(default)" in line for line in lines)
    assert not any(line.startswith("gmw/en") for line in lines)
