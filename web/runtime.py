"""What every request handler reaches: settings, the service and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app

from broadcaster.config import Settings
from broadcaster.service import Service


def utc_now() -> datetime:
    """The wall clock, timezone-aware, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Runtime:
    """The app's wiring; `clock` is read once per request by the handler."""

    settings: Settings
    service: Service
    clock: Callable[[], datetime] = utc_now


def runtime() -> Runtime:
    """The runtime of the current app."""
    found: Runtime = current_app.extensions["broadcaster"]
    return found


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in the deployment's zone, with its UTC offset, to the millisecond.

    None (unknown) for a time the zone cannot show: a device-reported 9999-12-31T20:00Z
    stored by an older server must not make every page that shows it a 500.
    """
    if moment is None:
        return None
    try:
        return moment.astimezone(runtime().settings.zone).isoformat(timespec="milliseconds")
    except (OverflowError, ValueError):
        return None
