"""Test-only: offsets `time.time` in a Python process by the seconds written in the file
named by BROADCASTER_TEST_WALL_OFFSET_FILE, re-read on every call.

Put this folder on PYTHONPATH of a client process to step its system clock while it runs.
The monotonic clock is left alone, as when NTP or an operator steps the real clock.
(libfaketime 0.9.10 fails `time.sleep` when it leaves the monotonic clock unfaked.)
"""

import os
import time

_real_time = time.time
_real_time_ns = time.time_ns
_path = os.environ.get("BROADCASTER_TEST_WALL_OFFSET_FILE")


def _offset_s() -> float:
    if not _path:
        return 0.0
    try:
        with open(_path) as f:
            return float(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0.0


def _time() -> float:
    return _real_time() + _offset_s()


def _time_ns() -> int:
    return _real_time_ns() + int(_offset_s() * 1e9)


time.time = _time
time.time_ns = _time_ns
