"""The panel's messages for refused recordings (issue 10, item 1): bombs, wrong formats and a
busy decoder are refused next to the field, in the user's language, and nothing is kept.

The bombs here are ten minutes long (under 500 KB: larger bodies make Flask's test client leak
a temporary file); the two-hour ones go to a real server in tests/integration.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest

from audio import decode
from broadcaster.service import Service
from tests.audio import bombs
from tests.web.conftest import post
from tests.web.test_forms import MESSAGE, tone_wav


def lavfi(out: Path, source: str, seconds: float, *args: str) -> bytes:
    return bombs.lavfi(out, source, seconds, *args).read_bytes()


def upload(login_as, name: str, content: bytes, lang: str = "zh"):  # type: ignore[no-untyped-def]
    client = login_as("chief-tunli")
    if lang != "zh":
        client.get(f"/messages/new?lang={lang}")
    data = MESSAGE | {"text": "", "recording": (io.BytesIO(content), name)}
    response = post(client, "/messages/new", data, content_type="multipart/form-data")
    return response.status_code, response.get_data(as_text=True)


def assert_nothing_kept(service: Service) -> None:
    recordings: Path = service.library.recordings
    assert not recordings.exists() or not any(recordings.iterdir())
    assert not service.store.journal.list_audit(action="message.create")


def test_an_opus_bomb_is_refused_as_too_long(login_as, service: Service, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bomb = lavfi(tmp_path / "b.opus", "anullsrc=r=48000:cl=mono", 600, "-c:a", "libopus",
                 "-b:a", "6k")  # fmt: skip
    status, page = upload(login_as, "bomb.opus", bomb)
    assert status == 422 and 'id="err-recording"' in page
    assert "录音长 600 秒，上限是 5 秒" in page
    assert_nothing_kept(service)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("zh", "此文件不是 .wav 录音（实际内容为 flac）"),
        ("en", "This file is not a .wav recording (it holds flac)"),
    ],
)
def test_a_flac_named_wav_is_refused_as_the_wrong_format(  # type: ignore[no-untyped-def]
    login_as, service: Service, tmp_path: Path, lang: str, expected: str
) -> None:
    bomb = lavfi(tmp_path / "b.flac", "anullsrc=r=48000:cl=mono", 600, "-c:a", "flac")
    status, page = upload(login_as, "bomb.wav", bomb, lang)
    assert status == 422 and 'id="err-recording"' in page
    assert expected in page
    assert_nothing_kept(service)


def test_a_hidden_length_is_refused_while_decoding(  # type: ignore[no-untyped-def]
    login_as, service: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = decode.probe
    monkeypatch.setattr(
        decode,
        "probe",
        lambda path, timeout_s=5.0: decode.Probe(
            real(path).formats, real(path).format_name, None, 1, "opus"
        ),
    )
    tone = lavfi(tmp_path / "t.webm", "sine=f=440:r=48000", 60, "-c:a", "libopus", "-b:a", "8k")
    status, page = upload(login_as, "recording.webm", tone)
    assert status == 422 and "录音超过了 5 秒的上限" in page
    assert_nothing_kept(service)


def test_a_busy_decoder_asks_to_try_again(  # type: ignore[no-untyped-def]
    login_as, service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(decode, "_slots", threading.BoundedSemaphore(1))
    monkeypatch.setattr(decode, "SLOT_WAIT_S", 0.2)
    monkeypatch.setattr(decode.decode_slot, "__defaults__", (0.2,))
    assert decode._slots.acquire(timeout=1)
    try:
        status, page = upload(login_as, "a.wav", tone_wav(2.0))
    finally:
        decode._slots.release()
    assert status == 422 and "服务器正在处理其他录音，请稍后再试" in page
    assert_nothing_kept(service)
    status, _page = upload(login_as, "a.wav", tone_wav(2.0))
    assert status == 302
