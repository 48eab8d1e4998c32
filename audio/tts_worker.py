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

import pyttsx3  # noqa: E402  (imported after the stdout swap on purpose)


def _answer(payload: dict[str, Any]) -> None:
    _reply.write(json.dumps(payload) + "\n")
    _reply.flush()


def _synthesize(request: dict[str, Any]) -> dict[str, Any]:
    engine = pyttsx3.init("espeak")
    engine.setProperty("voice", request["voice"])
    engine.setProperty("rate", int(request["rate"]))
    engine.setProperty("volume", float(request["volume"]))
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


def _list_voices() -> dict[str, Any]:
    engine = pyttsx3.init("espeak")
    voices = [
        {"id": v.id, "name": v.name, "languages": [str(lang) for lang in (v.languages or [])]}
        for v in engine.getProperty("voices")
    ]
    return {"ok": True, "voices": voices}


def main() -> int:
    line = sys.stdin.readline()
    if not line:
        return 0  # a pre-started spare worker that was never used
    request = json.loads(line)
    started = time.monotonic()
    try:
        result = _list_voices() if request.get("op") == "voices" else _synthesize(request)
    except Exception as exc:  # the boundary of this process: report, never hang
        result = {"ok": False, "reason": f"{type(exc).__name__}: {exc}"}
    result["elapsed_s"] = time.monotonic() - started
    _answer(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
