"""The synthesis server: `python -m audio.tts_worker`.

pyttsx3's espeak driver is not safe to reuse (measured here: an engine that spoke once
writes other bytes than espeak-ng for the next utterance) or to call from threads, and its
`runAndWait()` may return before the file is written. So every synthesis runs in a fresh
process that starts the engine, waits for the `finished-utterance` callback and answers.
Starting Python and importing pyttsx3 for each clip cost ~40 ms of CPU, three times the
synthesis itself; so this server imports pyttsx3 once, stays single-threaded (forking it is
safe: espeak-ng starts its threads in the child) and forks one child per request.

Protocol: JSON lines. The parent writes requests with an `id` to stdin; the server answers
each with one line on stdout with the same `id` (`ok`, and `reason` when not ok). The server
kills a child that outlives its request's `timeout_s` and answers for it; it exits when its
stdin closes, killing children still at work.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import sys
import threading
import time
from typing import Any

# Anything pyttsx3 prints ("Audio saved to ...") must not mix with the answers.
_REPLY_FD = os.dup(sys.stdout.fileno())
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


def _no_idle_wait() -> None:
    """pyttsx3 2.99's espeak loop sleeps 10 ms after every turn, also after the turn in which
    the utterance ended (espeak runs in retrieval mode: `Synth` returns when the whole clip
    is made, callbacks included): every clip waited 10 ms for nothing. Sleep only while the
    loop goes on; the rest is the driver's own loop."""

    def start_loop(self: Any) -> None:
        first = True
        self._looping = True
        while self._looping:
            if first:
                self._proxy.setBusy(False)
                first = False
                if self._text_to_say:
                    self._start_synthesis(self._text_to_say)
            self.iterate()
            if self._looping:
                time.sleep(0.01)

    espeak.EspeakDriver.startLoop = start_loop


_keep_final_samples()
_no_idle_wait()


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


def _child(request: dict[str, Any], answer_fd: int) -> None:
    """In the forked child: start the engine, do the one request, answer, exit."""
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (the process ends here)
    _die_with_parent()
    try:
        engine: Any = pyttsx3.init("espeak")
        _espeak.dll.espeak_Synchronize()  # let the driver's default settings land first
        if request.get("op") == "voices":
            result = _list_voices(engine)
        else:
            result = _synthesize(engine, request)
    except Exception as exc:  # the boundary of this process: report, never hang
        result = {"ok": False, "reason": f"{type(exc).__name__}: {exc}"}
    _write_all(answer_fd, (json.dumps(result) + "\n").encode("utf-8"))
    os._exit(0)  # no interpreter teardown: the answer is out, the file written and closed


def _die_with_parent() -> None:
    """Linux: the child is killed if the server dies first (killed from outside), rather
    than speaking on for nobody."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _Server:
    """Requests in, one forked child each, answers out; single-threaded."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.pending = b""
        # answer pipe -> (request id, child pid, deadline, bytes read)
        self.children: dict[int, tuple[object, int, float, bytearray]] = {}

    def answer(self, request_id: object, result: dict[str, Any]) -> None:
        _write_all(_REPLY_FD, (json.dumps({**result, "id": request_id}) + "\n").encode())

    def start(self, line: bytes) -> None:
        try:
            request = json.loads(line)
            request_id = request.get("id")
            timeout_s = float(request.get("timeout_s", 30.0))
        except (ValueError, AttributeError, TypeError) as exc:
            self.answer(None, {"ok": False, "reason": f"bad request: {exc}"})
            return
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _child(request, write_fd)
        os.close(write_fd)
        self.selector.register(read_fd, selectors.EVENT_READ)
        self.children[read_fd] = (request_id, pid, time.monotonic() + timeout_s, bytearray())

    def collect(self, fd: int) -> None:
        request_id, pid, _, got = self.children[fd]
        chunk = os.read(fd, 65536)
        if chunk:
            got += chunk
            return
        self.selector.unregister(fd)
        os.close(fd)
        del self.children[fd]
        _, status = os.waitpid(pid, 0)
        lines = bytes(got).decode("utf-8", "replace").strip().splitlines()
        if lines:
            self.answer(request_id, json.loads(lines[-1]))
        else:
            self.answer(
                request_id, {"ok": False, "reason": f"the engine process failed ({_how(status)})"}
            )

    def expire(self, now: float) -> None:
        for fd, (request_id, pid, deadline, _) in list(self.children.items()):
            if deadline <= now:
                self.kill(fd, pid)
                self.answer(request_id, {"ok": False, "reason": "timeout", "timeout": True})

    def kill(self, fd: int, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        self.selector.unregister(fd)
        os.close(fd)
        del self.children[fd]

    def run(self) -> None:
        self.selector.register(0, selectors.EVENT_READ)
        while True:
            deadlines = [deadline for _, _, deadline, _ in self.children.values()]
            wait = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            for key, _ in self.selector.select(wait):
                if key.fd != 0:
                    self.collect(int(key.fd))
                    continue
                data = os.read(0, 65536)
                if not data:  # the parent closed our stdin: stop
                    for fd, (_, pid, _, _) in list(self.children.items()):
                        self.kill(fd, pid)
                    return
                self.pending += data
                *lines, self.pending = self.pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        self.start(line)
            self.expire(time.monotonic())


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def main() -> int:
    _Server().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
