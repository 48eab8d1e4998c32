"""The pyttsx3/espeak-ng synthesizer, with the real engine."""

from __future__ import annotations

import math
import subprocess
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from audio.errors import SynthesisError, UnknownVoice
from audio.tts import DEFAULT_VOICE, Pyttsx3Synthesizer, SpeechRequest, Voice, check_clip

SENTENCE = "各位村民请注意，出门请佩戴口罩，保持两米距离。"


def write_wav(path: Path, samples: np.ndarray, rate: int = 22050, channels: int = 1) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes((samples * 32767).astype("<i2").tobytes())


def test_full_voice_id_writes_the_same_bytes_as_espeak_ng(synthesizer, tmp_path):
    ours = tmp_path / "ours.wav"
    bare = tmp_path / "bare.wav"
    synthesizer.synthesize(SpeechRequest(SENTENCE, DEFAULT_VOICE, rate=150), ours)
    subprocess.run(
        ["espeak-ng", "-v", "cmn-latn-pinyin", "-s", "150", "-w", str(bare), SENTENCE], check=True
    )
    assert ours.read_bytes() == bare.read_bytes()


def test_bare_voice_name_resolves_to_the_full_id(synthesizer):
    assert synthesizer.resolve_voice("cmn-latn-pinyin") == "sit/cmn-latn-pinyin"


def test_voices_include_mandarin_pinyin(synthesizer):
    ids = {voice.id for voice in synthesizer.voices()}
    assert {"sit/cmn-latn-pinyin", "sit/cmn"} <= ids
    assert len(ids) > 20


def test_unknown_voice_is_named_in_the_error(synthesizer, tmp_path):
    with pytest.raises(UnknownVoice, match="'klingon'"):
        synthesizer.synthesize(SpeechRequest(SENTENCE, "klingon"), tmp_path / "x.wav")


def test_long_text_is_written_completely(synthesizer, tmp_path):
    text = "请大家做好个人防护，勤洗手，常通风。" * 12  # 216 characters
    check = synthesizer.synthesize(SpeechRequest(text, DEFAULT_VOICE, rate=160), tmp_path / "l.wav")
    chars = 15 * 12
    assert check.duration_s > 0.5 * chars * 52 / 160


def test_rate_changes_the_duration(synthesizer, tmp_path):
    slow = synthesizer.synthesize(SpeechRequest(SENTENCE, rate=120), tmp_path / "slow.wav")
    fast = synthesizer.synthesize(SpeechRequest(SENTENCE, rate=240), tmp_path / "fast.wav")
    assert slow.duration_s > 1.5 * fast.duration_s


def test_timeout_raises_an_error_naming_the_text(tmp_path):
    with Pyttsx3Synthesizer(
        timeout_s=0.001, per_char_timeout_s=0.0, startup_grace_s=0.0, prestart=False
    ) as synth:
        # Known voices up front: listing them would time out as well.
        synth.__dict__["_voices"] = (Voice(DEFAULT_VOICE, "Mandarin", ("cmn",)),)
        with pytest.raises(SynthesisError, match="did not finish") as caught:
            synth.synthesize(SpeechRequest(SENTENCE), tmp_path / "t.wav")
    assert caught.value.text == SENTENCE


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        pytest.param(lambda p: p.write_bytes(b"RIFF\x00\x00garbage"), "unreadable", id="garbage"),
        pytest.param(lambda p: write_wav(p, np.zeros(0)), "empty", id="empty"),
        pytest.param(lambda p: write_wav(p, np.zeros(22050 * 5)), "silent", id="silent"),
        pytest.param(
            lambda p: write_wav(p, np.tile([0.3, -0.3], 22050 * 5), channels=2),
            "mono",
            id="stereo",
        ),
        pytest.param(
            lambda p: write_wav(p, 0.3 * np.sin(np.arange(22050 // 4) / 5.0)),
            "implausible duration",
            id="too-short",
        ),
        pytest.param(
            lambda p: write_wav(p, 0.3 * np.sin(np.arange(22050 * 60) / 5.0)),
            "implausible duration",
            id="too-long",
        ),
        pytest.param(lambda p: None, "no file", id="missing"),
    ],
)
def test_check_clip_rejects_bad_clips(tmp_path, make, reason):
    path = tmp_path / "clip.wav"
    make(path)
    with pytest.raises(SynthesisError, match=reason):
        check_clip(path, SENTENCE, rate=160)


def test_check_clip_accepts_real_speech(synthesizer, tmp_path):
    path = tmp_path / "ok.wav"
    check = synthesizer.synthesize(SpeechRequest(SENTENCE), path)
    assert check.sample_rate == 22050
    assert math.isfinite(check.rms_dbfs) and check.rms_dbfs > -40
    assert check_clip(path, SENTENCE, 160).duration_s == check.duration_s


def test_concurrent_syntheses_match_the_bare_engine(synthesizer, tmp_path):
    # Seen before the fix in audio.tts_worker: under concurrency about one clip in twenty was
    # spoken at pyttsx3's default rate because espeak applied the rate after the utterance
    # began. Every run must give exactly the bytes of `espeak-ng -w`.
    expected = tmp_path / "bare.wav"
    subprocess.run(
        ["espeak-ng", "-v", "cmn-latn-pinyin", "-s", "160", "-w", str(expected), SENTENCE],
        check=True,
    )

    def one(i: int) -> bytes:
        path = tmp_path / f"run{i}.wav"
        synthesizer.synthesize(SpeechRequest(SENTENCE, DEFAULT_VOICE, rate=160), path)
        return path.read_bytes()

    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = list(pool.map(one, range(80)))
    differing = [i for i, data in enumerate(runs) if data != expected.read_bytes()]
    assert differing == []


def test_switching_voices_writes_what_the_bare_engine_writes_for_each(tmp_path):
    """Spares load the last voice asked for ahead of time: a request for another voice must
    still be spoken in its own voice, and the next spares follow the new one."""
    texts = {"sit/cmn-latn-pinyin": "ge4 wei4 cun1 min2", "sit/yue": "各位村民請注意"}
    with Pyttsx3Synthesizer() as synthesizer:
        synthesizer.voices()
        for i, voice in enumerate([*texts, *texts, "sit/yue"]):
            ours, bare = tmp_path / f"ours{i}.wav", tmp_path / f"bare{i}.wav"
            synthesizer.synthesize(SpeechRequest(texts[voice], voice, rate=170), ours)
            name = voice.rsplit("/", 1)[-1]
            subprocess.run(
                ["espeak-ng", "-v", name, "-s", "170", "-w", str(bare), texts[voice]], check=True
            )
            assert ours.read_bytes() == bare.read_bytes(), (i, voice)


def test_a_synthesis_server_that_dies_is_started_again(tmp_path):
    """The server forks a child per clip; if the server itself goes (killed, out of memory),
    a clip waiting on it fails with a clear error and the next clip starts a new server."""
    import signal
    import threading

    with Pyttsx3Synthesizer() as synthesizer:
        synthesizer.voices()
        first = synthesizer._server
        assert first is not None
        long_text = "各位村民请注意。" * 60
        errors: list[BaseException] = []

        def speak() -> None:
            try:
                synthesizer.synthesize(SpeechRequest(long_text), tmp_path / "long.wav")
            except SynthesisError as exc:
                errors.append(exc)

        waiting = threading.Thread(target=speak)
        waiting.start()
        # Kill only once the clip is on its way: a server found dead before the clip is
        # sent is replaced at once, and that clip rightly succeeds on the new one.
        deadline = time.monotonic() + 10
        while not first._waiting and time.monotonic() < deadline:
            time.sleep(0.001)
        assert first._waiting, "the clip never reached the synthesis server"
        first.proc.send_signal(signal.SIGKILL)
        waiting.join(timeout=30)
        assert not waiting.is_alive()
        assert errors, "a clip whose server died must fail, not hang or pass"
        assert "engine process failed" in str(errors[0])
        check = synthesizer.synthesize(SpeechRequest(SENTENCE), tmp_path / "again.wav")
        assert check.duration_s > 1.0
        assert synthesizer._server is not first
