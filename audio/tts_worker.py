"""One synthesis in its own process: `python -m audio.tts_worker`.

pyttsx3's espeak driver is not safe to reuse or to call from threads, and its
`runAndWait()` may return before the file is written. So each synthesis runs in a
fresh process that imports pyttsx3 up front, reads one JSON request from stdin,
waits for the `finished-utterance` callback and answers with one JSON line on the
original stdout. The parent enforces the timeout and checks the clip.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

# Anything pyttsx3 prints ("Audio saved to ...") must not mix with the reply.
_reply = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
sys.stdout = sys.stderr

import ctypes  # noqa: E402, I001
import pyttsx3  # noqa: E402  (imported after the stdout swap on purpose)
from pyttsx3.drivers import _espeak, espeak  # noqa: E402


def _keep_final_samples() -> None:
    """Fix pyttsx3 2.99's espeak driver, which writes the WAV file when the end-of-message
    event arrives and only then appends the samples of that same callback: the last chunk
    of speech (up to espeak's buffer, hundreds of ms) is lost whenever it comes with the
    end event. Append those samples first; the driver then finds none left to add."""
    original = espeak.EspeakDriver._onSynth

    def on_synth(self: Any, wav: Any, numsamples: int, events: Any) -> int:
        if numsamples > 0 and _ends_message(events):
            self._data_buffer += ctypes.string_at(wav, numsamples * ctypes.sizeof(ctypes.c_short))
            numsamples = 0
        return int(original(self, wav, numsamples, events))

    espeak.EspeakDriver._onSynth = on_synth


def _ends_message(events: Any) -> bool:
    i = 0
    while events[i].type != _espeak.EVENT_LIST_TERMINATED:
        if events[i].type == _espeak.EVENT_MSG_TERMINATED:
            return True
        i += 1
    return False


_keep_final_samples()


def _answer(payload: dict[str, Any]) -> None:
    _reply.write(json.dumps(payload) + "\n")
    _reply.flush()


def _synthesize(engine: Any, request: dict[str, Any]) -> dict[str, Any]:
    # espeak-ng applies rate and volume on its own thread (a command queue) but sets the
    # voice at once; pyttsx3 queues all three behind its own command queue. Under load an
    # utterance could start at the driver's default rate 200 (seen: one clip in twenty).
    # So set the properties on the driver directly, then wait for espeak's queue to drain.
    driver = engine.proxy._driver
    driver.setProperty("voice", request["voice"])
    driver.setProperty("rate", int(request["rate"]))
    driver.setProperty("volume", float(request["volume"]))
    _espeak.dll.espeak_Synchronize()
    finished = threading.Event()
    outcome: dict[str, Any] = {}

    def on_finished(name: object, completed: bool) -> None:
        outcome["completed"] = bool(completed)
        finished.set()

    def on_error(name: object, exception: BaseException) -> None:
        outcome["error"] = repr(exception)
        finished.set()

    engine.connect("finished-utterance", on_finished)
    engine.connect("error", on_error)
    engine.save_to_file(request["text"], request["path"])
    engine.runAndWait()
    # The driver's loop may return before espeak's callback thread is done.
    if not finished.wait(timeout=float(request["timeout_s"])):
        return {"ok": False, "reason": "engine never reported the end of the utterance"}
    if "error" in outcome:
        return {"ok": False, "reason": f"engine error: {outcome['error']}"}
    if not outcome.get("completed"):
        return {"ok": False, "reason": "engine reported the utterance as not completed"}
    return {"ok": True}


def _list_voices(engine: Any) -> dict[str, Any]:
    voices = [
        {"id": v.id, "name": v.name, "languages": [str(lang) for lang in (v.languages or [])]}
        for v in engine.getProperty("voices")
    ]
    return {"ok": True, "voices": voices}


def main() -> int:
    # Load the engine while waiting for the request (a spare worker waits ahead of time);
    # the engine still serves exactly one utterance.
    try:
        engine: Any = pyttsx3.init("espeak")
        _espeak.dll.espeak_Synchronize()  # let the driver's default settings land first
        failure = None
    except Exception as exc:
        engine, failure = None, f"cannot start the engine: {type(exc).__name__}: {exc}"
    line = sys.stdin.readline()
    if not line:
        return 0  # a pre-started spare worker that was never used
    request = json.loads(line)
    started = time.monotonic()
    try:
        if failure is not None:
            result: dict[str, Any] = {"ok": False, "reason": failure}
        elif request.get("op") == "voices":
            result = _list_voices(engine)
        else:
            result = _synthesize(engine, request)
    except Exception as exc:  # the boundary of this process: report, never hang
        result = {"ok": False, "reason": f"{type(exc).__name__}: {exc}"}
    result["elapsed_s"] = time.monotonic() - started
    _answer(result)
    # Skip interpreter teardown: the answer is out and the file is written and closed.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
