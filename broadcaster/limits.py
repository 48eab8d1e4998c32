"""Every bound and default of what people and devices may ask for, declared once (issue 11).

The config loader (`broadcaster.config`), the models (`broadcaster.models`), the use cases
behind the panel and the user API (`broadcaster.catalog`, `broadcaster.urgent`), the device
API (`web.payloads`), the panel's forms and the `min`/`max` of their inputs (templates get
this module as `limits`), and the renderer (`audio.render`, through `audio.limits`) read
these names; none writes a bound of its own. tests/broadcaster/test_limits.py checks that
each of them refuses one step past every bound here and accepts the bound itself.

Where the places disagreed before, the wider range was kept when a narrower one would make
a value some path could already store unreadable or unsavable (a message configured at
volume 0.02 must load, and be saved back by the panel unchanged).
"""

from __future__ import annotations

from datetime import time, timedelta

from audio.limits import DEFAULT_VOICE, MAX_CHARS, RATE_WPM, VOLUME, Bound

__all__ = [
    "COVERAGE_MIN",
    "DEFAULT_EXPIRY",
    "DEFAULT_VOICE",
    "DEFAULT_WINDOW",
    "DISPLAY_NAME_MAX",
    "EXPIRY_MIN",
    "GAP_S",
    "HEADING",
    "ID_MAX",
    "INTERVAL_S",
    "LAT",
    "LIST_MAX",
    "LIVE_MIN",
    "LON",
    "MAX_CHARS",
    "MAX_EXPIRY",
    "NAME_MAX",
    "POLYGON_POINTS",
    "PRIORITY",
    "QUIET_VOLUME",
    "RATE_WPM",
    "REF_MAX",
    "REPEATS",
    "SPEAKER_VOLUME",
    "SPEED_MS",
    "TITLE_MAX",
    "VOICE_MAX",
    "VOLUME",
    "Bound",
]

# A loudspeaker's amplifier level in percent (also the database's check constraint).
SPEAKER_VOLUME: Bound[int] = Bound(0, 100, 80, "percent")
# A schedule's priority: the higher wins a shared window. The configuration accepted
# +-1000 and the panel +-100; +-1000 is kept so a configured schedule can be saved back.
PRIORITY: Bound[int] = Bound(-1000, 1000, 0)
# Seconds of silence between the clips of a program.
GAP_S: Bound[float] = Bound(0, 3600, 5.0, "seconds")
# An urgent: how many times it plays (the model allowed 100, every way in allowed 20: 20 is
# kept, no stored urgent can have more), the seconds between repeats, and minutes until it
# expires (default one hour, at most 7 days).
REPEATS: Bound[int] = Bound(1, 20, 1)
INTERVAL_S: Bound[float] = Bound(0, 3600, 0.0, "seconds")
EXPIRY_MIN: Bound[int] = Bound(1, 7 * 24 * 60, 60, "minutes")
MAX_EXPIRY = timedelta(minutes=EXPIRY_MIN.high)
DEFAULT_EXPIRY = timedelta(minutes=EXPIRY_MIN.default)
# A live page's longest length (`live.max_minutes`, issue 12): the server ends it there, the
# client on its own clock as well. An hour at most: a page is a person talking, not a loop.
LIVE_MIN: Bound[int] = Bound(1, 60, 10, "minutes")
# `coverage.min_minutes`: a village heard less on a day is flagged in the coverage report.
COVERAGE_MIN: Bound[int] = Bound(0, 1440, 10, "minutes")
# Coordinates of a route's stop, in degrees.
LAT: Bound[float] = Bound(-90, 90, 0.0, "degrees")
LON: Bound[float] = Bound(-180, 180, 0.0, "degrees")
# An area's or a quiet zone's polygon (issue 13, broadcaster/geometry.py): at most this many
# points (a village traced by hand needs tens; the vehicle tests each one per fix).
POLYGON_POINTS = 500
# A quiet zone's `volume: N`: the loudspeaker's level inside it, in percent of its own.
QUIET_VOLUME: Bound[int] = Bound(0, 100, 30, "percent")
# A heartbeat's GPS fix (issue 13): speed in m/s (a vehicle, not a plane) and heading in
# degrees clockwise from north.
SPEED_MS: Bound[float] = Bound(0, 100, 0.0, "m/s")
HEADING: Bound[float] = Bound(0, 360, 0.0, "degrees")

# Lengths in characters: a title or program name, a speaker's or user's name, a voice name.
TITLE_MAX = 100
NAME_MAX = 100
VOICE_MAX = 100
# A user's display name, shown in the panel instead of the login name (users.display_name).
DISPLAY_NAME_MAX = 40
# An id a person chooses for a new object (letters, digits, - and _).
ID_MAX = 64
# Any id a request names (a device's entry ids, the objects it refers to): the width of the
# database's id columns.
REF_MAX = 100

# The most ids one request may list (speakers, areas, messages, weekdays, dates).
LIST_MAX = 1000

# The daily window a schedule gets when it names none (`deployment.default_window`).
DEFAULT_WINDOW = (time(7, 0), time(19, 0))
