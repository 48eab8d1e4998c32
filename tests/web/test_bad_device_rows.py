"""Device rows already in the database that the deployment's zone cannot show, or of any
shape (written by an older server, or straight into the database): every page and API
answer that shows them renders, with the time unknown ("—" or null), for the admin and for
the chief of the speaker's village (issue 10, item 2: one bad record never breaks a page)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, update

from broadcaster import urgent
from broadcaster.models import Role, User
from broadcaster.service import Heartbeat, Service
from broadcaster.store import schema as t
from tests.web.conftest import NOW

SPEAKER = "tunli-village-1"  # in the village of chief-tunli
# Valid in UTC, but after 9999-12-31 in Shanghai (+08:00): astimezone() overflows.
BEYOND = datetime(9999, 12, 31, 20, 0, tzinfo=UTC)


@pytest.fixture
def bad_rows(service: Service) -> str:
    """A heartbeat, an urgent with acks and plays of SPEAKER, then spoiled in the database."""
    sent = urgent.send(
        service,
        User("admin", Role.ADMIN),
        urgent.UrgentRequest(text="紧急通知", speaker_ids=(SPEAKER,), override_window=True),
        NOW,
    ).urgent
    service.heartbeat(
        SPEAKER, Heartbeat("playing", None, None, 80, None, None, 0, None, None, "1"), NOW
    )
    with service.store.engine.begin() as conn:
        conn.execute(
            update(t.speaker_status)
            .where(t.speaker_status.c.speaker_id == SPEAKER)
            .values(
                selftest_at=BEYOND,
                selftest_ok=True,
                last_sync=datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
                now_playing=["not", "an", "object"],
                cache_health="corrupt",
                clock_offset_ms=-1_780_000_000_000,
            )
        )
        conn.execute(
            insert(t.urgent_acks).values(
                urgent_id=sent.id,
                speaker_id=SPEAKER,
                received_at=BEYOND,
                playing_at=BEYOND,
                played_at=BEYOND + timedelta(minutes=1),
                cut_at=datetime(1, 1, 1, tzinfo=UTC),
            )
        )
        conn.execute(
            insert(t.play_log).values(
                id="p-bad", speaker_id=SPEAKER, clip="c" * 64, message_id=None, kind="urgent",
                planned_start=datetime(1, 1, 1, tzinfo=UTC), started_at=NOW,
                ended_at=BEYOND, completed=False, reason="cut:urgent", received_at=NOW,
            )
        )  # fmt: skip
    return sent.id


PAGES = [
    "/",
    "/dashboard/cards",
    "/dashboard/live",
    "/api/v1/speakers",
    "/api/v1/urgent",
    "/api/v1/urgent/{urgent}",
    "/urgent",
    "/urgent/{urgent}",
    "/urgent/{urgent}/acks",
    "/reports",
    "/reports/plays.csv",
]


@pytest.mark.parametrize("user", ["admin", "chief-tunli"])
def test_every_view_of_bad_device_rows_renders(login_as, bad_rows: str, user: str) -> None:  # type: ignore[no-untyped-def]
    client = login_as(user)
    for path in PAGES:
        answer = client.get(path.format(urgent=bad_rows))
        assert answer.status_code == 200, (path, answer.get_data(as_text=True)[:2000])
        shown = answer.get_data(as_text=True)
        # the CSV names the loudspeaker (issue 11)
        assert SPEAKER in shown or "屯里村大喇叭" in shown or path.startswith("/urgent"), path
    rows = client.get("/api/v1/speakers").get_json()["data"]
    (row,) = [r for r in rows if r["id"] == SPEAKER]
    assert row["selftest"] == {"ok": True, "at": None, "detail": ""}
    assert row["now_playing"] is None and row["cache"] is None
    assert row["clock_offset_ms"] == -1_780_000_000_000
    detail = client.get(f"/api/v1/urgent/{bad_rows}").get_json()["data"]
    (ack,) = [a for a in detail["acks"] if a["speaker"] == SPEAKER]
    assert ack == {"speaker": SPEAKER, "received_at": None, "playing_at": None,
                   "played_at": None, "cut_at": "0001-01-01T08:05:43.000+08:05:43"}  # fmt: skip
    acks = client.get(f"/urgent/{bad_rows}/acks").get_data(as_text=True)
    assert 'class="played-at">—<' in acks, acks
    csv = client.get("/reports/plays.csv").get_data(as_text=True)
    # the play's row names the loudspeaker (issue 11); its total follows below
    line = next(x for x in csv.splitlines() if x.startswith("屯里村大喇叭,"))
    assert line.endswith(",0001-01-01 08:05:43,2025-05-06 10:00:00,,,否,被紧急广播打断"), line
