"""Every read of the dashboard, the reports, the audit page, the urgent and live-page lists,
the long poll and the retention jobs uses an index on PostgreSQL (issue 14, item 4).

The real PostgreSQL fixture is filled with a deployment's worth of history (a year and a
month of plays, daily totals, audit lines, events, GPS points, urgents, live pages), analysed,
and the store's own statements, captured as they run, are EXPLAINed: no sequential scan of a
table that grows. The data is made by `generate_series` on the server (fast); the store
methods are the ones the panel calls, with the arguments it gives them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Connection

from broadcaster.store import Store
from broadcaster.store.devices import day_bounds
from broadcaster.store.retention import seconds_span
from tests.broadcaster.store.conftest import NOW, PostgresServer

SHANGHAI = ZoneInfo("Asia/Shanghai")
GROWING = {
    "play_log", "play_days", "audit_log", "events", "track_points", "urgents",
    "urgent_speakers", "urgent_areas", "urgent_acks", "live_pages",
}  # fmt: skip
PLAYS = 200_000  # ~400 days at 500 plays a day
TODAY = NOW.astimezone(SHANGHAI).date()

FILL = [
    # Plays: one every 173 s back from NOW over ~400 days, across every speaker.
    """INSERT INTO play_log (id, speaker_id, clip, message_id, kind, planned_start, started_at,
                             ended_at, completed, reason, received_at)
       SELECT 'p' || g, s.ids[1 + g % cardinality(s.ids)], md5(g::text),
              CASE WHEN g % 50 = 0 THEN NULL ELSE 'm' || (g % 7) END,
              CASE WHEN g % 50 = 0 THEN 'live' ELSE 'loop' END, NULL,
              :now - g * interval '173 seconds', :now - g * interval '173 seconds' + interval '6 s',
              g % 3 <> 0, '', :now - g * interval '173 seconds' + interval '1 min'
       FROM generate_series(1, :plays) g, (SELECT array_agg(id) AS ids FROM speakers) s""",
    # Daily totals of two years before that.
    """INSERT INTO play_days (day, speaker_id, message_id, kind, plays, completed, urgent, seconds)
       SELECT CAST(:today AS date) - 400 - d, s.id, 'm' || m, 'loop', 10, 9, 0, 60.0
       FROM generate_series(0, 730) d, speakers s, generate_series(0, 2) m""",
    """INSERT INTO audit_log (at, actor, action, object, detail, remote_addr)
       SELECT :now - g * interval '5 minutes', 'scheduler',
              CASE WHEN g % 1000 = 0 THEN 'user.create' ELSE 'speaker.offline' END,
              'x' || g, '{}', NULL
       FROM generate_series(1, 100000) g""",
    """INSERT INTO events (seq, speaker_id, kind, payload, created_at)
       SELECT g, s.ids[1 + g % cardinality(s.ids)], 'resync', '{}',
              :now - (100000 - g) * interval '6 seconds'
       FROM generate_series(1, 100000) g, (SELECT array_agg(id) AS ids FROM speakers) s""",
    "UPDATE counters SET value = 100000 WHERE name = 'events'",
    """INSERT INTO track_points (speaker_id, id, lat, lon, at, speed, heading, received_at)
       SELECT 'vehicle-' || lpad((1 + g % 23)::text, 2, '0'), 't' || g, 36.09, 111.5,
              :now - g * interval '40 seconds', NULL, NULL, :now
       FROM generate_series(1, 200000) g""",
    """INSERT INTO urgents (id, text, message_id, repeats, interval_s, override_window,
                            created_at, starts_at, expires_at, cancelled_at, created_by)
       SELECT 'u' || g, 'text', NULL, 1, 60, false, :now - g * interval '1 hour',
              :now - g * interval '1 hour', :now - g * interval '1 hour' + interval '30 min',
              NULL, 'admin'
       FROM generate_series(1, 20000) g""",
    """INSERT INTO urgent_areas (urgent_id, area_id, position)
       SELECT 'u' || g, 'area-' || k, k FROM generate_series(1, 20000) g,
              generate_series(0, 2) k""",
    # Five loudspeakers named in each urgent, each acknowledging it.
    """INSERT INTO urgent_speakers (urgent_id, speaker_id, position)
       SELECT 'u' || g, 'speaker-' || k, k FROM generate_series(1, 20000) g,
              generate_series(0, 4) k""",
    """INSERT INTO urgent_acks (urgent_id, speaker_id, received_at, playing_at, played_at, cut_at)
       SELECT 'u' || g, 'speaker-' || k, :now, :now, :now, NULL
       FROM generate_series(1, 20000) g, generate_series(0, 4) k""",
    """INSERT INTO live_pages (id, created_by, by_name, started_at, ended_at, ended_reason,
                               override_window, take_over, speaker_ids, area_ids, targets)
       SELECT 'page-' || g, 'admin', 'admin', :now - g * interval '2 hours',
              :now - g * interval '2 hours' + interval '1 min', 'done', false, false,
              '["tunli-village-1"]', '[]', '[]'
       FROM generate_series(1, 5000) g""",
]


@pytest.fixture(scope="module")
def filled(postgres: PostgresServer) -> Iterator[Store]:
    url = postgres.reset("seeded")
    with Store.open(url) as store:
        with store.engine.begin() as conn:
            values = {"now": NOW, "today": TODAY, "plays": PLAYS}
            for sql in FILL:
                names = {k: v for k, v in values.items() if f":{k}" in sql}
                conn.execute(text(sql), names)
        with store.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
        yield store
    postgres.reset("seeded")  # the next tests find the seeded database


def _captured(store: Store, call: Callable[[], Any]) -> list[tuple[str, Any]]:
    """The SELECTs and DELETEs `call` sends (statement and parameters as given to the
    driver; EXPLAIN without ANALYZE runs neither)."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH", "DELETE")):
            seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    assert seen, "the call sent no SELECT or DELETE"
    return seen


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _plans(conn: Connection, sent: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """(statement, plan) of each statement sent, EXPLAINed on `conn`."""
    found = []
    for statement, parameters in sent:
        raw = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters).scalar()
        plans: Any = json.loads(raw) if isinstance(raw, str) else raw  # psycopg parses json
        found.append((statement, plans[0]["Plan"]))
    return found


def _seq_scans(conn: Connection, sent: list[tuple[str, Any]]) -> list[str]:
    """The growing tables the statements sent read by a sequential scan, with the plan."""
    return [
        f"{node['Relation Name']}: {statement[:300]}\n{json.dumps(plan, indent=1)[:1500]}"
        for statement, plan in _plans(conn, sent)
        for node in _nodes(plan)
        if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in GROWING
    ]


def _day(first: date, last: date | None = None) -> tuple[datetime, datetime]:
    return day_bounds(first, SHANGHAI)[0], day_bounds(last or first, SHANGHAI)[1]


def _calls(store: Store) -> dict[str, Callable[[], Any]]:
    """What the pages call, with the arguments they give (the dashboard of every speaker,
    a chief's month, the admin's day and month, the audit page...)."""
    d, r = store.devices, store.retention
    speakers = sorted(s.id for s in store.places.list_speakers())
    chiefs = [s for s in speakers if s.startswith("tunli")]
    month = _day(TODAY - timedelta(days=30), TODAY)
    today = _day(TODAY)
    span = seconds_span(SHANGHAI)
    vehicle = "vehicle-01"
    calls: dict[str, Callable[[], Any]] = {
        "dashboard: plays today": lambda: d.play_counts_on_day(
            TODAY, SHANGHAI, speaker_ids=speakers
        ),
        "dashboard: plays by hour": lambda: d.play_counts_by_hour(TODAY, SHANGHAI),
        "device: long poll": lambda: d.events_after(speakers[0], 99_990),
        "audit page": lambda: store.journal.list_audit(limit=100),
        "audit page, older": lambda: store.journal.list_audit(limit=100, before_seq=5_000),
        "audit page by action": lambda: store.journal.list_audit(limit=100, action="user.create"),
        "urgent list": lambda: store.urgents.list_urgents(limit=100),
        "urgents live": lambda: store.urgents.list_urgents(live_at=NOW, limit=100),
        "planner's urgents": lambda: store.deployment(NOW),
        "live pages": lambda: store.live.played([f"page-{n}" for n in range(1, 101)]),
        "vehicle track today": lambda: store.tracks.between(vehicle, *today),
        "tracks of vehicles": lambda: store.tracks.of_speakers(
            ["vehicle-01", "vehicle-02"], *today
        ),
        "retire-plays batch": lambda: r.retire_plays(month[0] - timedelta(days=370), NOW, SHANGHAI),
        "prune-events batch": lambda: r.prune_events(NOW - timedelta(days=7)),
        "prune-tracks batch": lambda: r.prune_tracks(NOW - timedelta(days=90)),
    }
    for who, ids in (("admin", speakers), ("chief", chiefs)):
        for name, (start, end) in (("day", today), ("month", month)):
            for what, call in _report(store, ids, start, end).items():
                calls[f"report, {who}'s {name}: {what}"] = call
    calls["report, an area's month"] = lambda: d.play_totals(
        *month, by="speaker_message", area_id="tunli", seconds_within=span
    )
    return calls


def _report(
    store: Store, ids: list[str], start: datetime, end: datetime
) -> dict[str, Callable[[], Any]]:
    """The reports page's reads for these loudspeakers and days (the retired totals of the
    days before the kept plays too)."""
    d, r, span = store.devices, store.retention, seconds_span(SHANGHAI)
    first = start.astimezone(SHANGHAI).date() - timedelta(days=500)
    return {
        "totals": lambda: d.play_totals(
            start, end, by="speaker_message", speaker_ids=ids, seconds_within=span
        ),
        "per hour": lambda: d.plays_per_quarter_hour(start, end, speaker_ids=ids),
        "first plays": lambda: list(
            islice(d.iter_plays(start, end, speaker_ids=ids, page=500), 500)
        ),
        "retired totals": lambda: r.play_day_totals(
            first, TODAY, by="speaker_message", speaker_ids=ids
        ),
    }


@pytest.mark.slow
def test_no_page_reads_a_growing_table_from_end_to_end(filled: Store) -> None:
    with filled.engine.connect() as conn:
        failures = {
            name: scans
            for name, call in _calls(filled).items()
            if (scans := _seq_scans(conn, _captured(filled, call)))
        }
        assert failures == {}, "\n\n".join(f"{k}:\n{v[0]}" for k, v in failures.items())
        # The audit page filtered by an action reads that action's lines newest first (not
        # the whole log backwards, skipping the other actions).
        ((_, plan),) = _plans(conn, _captured(filled, _calls(filled)["audit page by action"]))
        used = {node.get("Index Name") for node in _nodes(plan)}
        assert "ix_audit_log_action_seq" in used, json.dumps(plan, indent=1)


@pytest.mark.slow
def test_the_check_sees_a_sequential_scan(filled: Store) -> None:
    """Guards the guard: without the index of migration 0011, the live pages' outcomes are
    a sequential scan of the play log, and the check says so."""
    sent = _captured(filled, _calls(filled)["live pages"])  # before the lock below
    with filled.engine.connect() as conn, conn.begin() as transaction:
        conn.exec_driver_sql("DROP INDEX ix_play_log_live_clip")
        scans = _seq_scans(conn, sent)
        transaction.rollback()
    assert scans and scans[0].startswith("play_log: ")
