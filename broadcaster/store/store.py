"""`Store`: the one place with SQL. Opens (and migrates) the database; returns domain values.

The store is composed of parts, one per group of tables, all on one shared `Database`:

- `store.places`: areas and loudspeakers (with their route stops);
- `store.content`: messages and programs, and who owns them;
- `store.schedules`: schedules;
- `store.urgents`: urgent announcements and the devices' acknowledgements;
- `store.people`: users, sign-in failures and tokens;
- `store.devices`: what devices report (status, plays, clips) and the events they read;
- `store.journal`: the audit log and the scheduler's lease;
- `store.live`: the live pages kept (issue 12);
- `store.cap`: the CAP alerts received (issue 15);
- `store.tracks`: the vehicles' GPS tracks (issue 13);
- `store.retention`: plays retired into daily totals, old events and points pruned (issue 14).

What reads or writes across parts stays on the store itself: `transaction()` (calls of any
part inside it commit together), `deployment()` (the snapshot the planner reads),
`catalog_revision()`, `seed_from()` and the small `meta` table.
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Engine

from broadcaster.config import Settings
from broadcaster.store import migrate
from broadcaster.store.base import Database, counter
from broadcaster.store.cap import CapAlerts
from broadcaster.store.content import Content, load_messages, load_programs
from broadcaster.store.devices import Devices
from broadcaster.store.engine import make_engine
from broadcaster.store.journal import Journal
from broadcaster.store.livepages import LivePages
from broadcaster.store.people import People
from broadcaster.store.places import Places, load_areas, load_quiet_zones, load_speakers
from broadcaster.store.records import Deployment, SeedReport
from broadcaster.store.retention import Retention
from broadcaster.store.schedules import Schedules, load_schedules
from broadcaster.store.seed import seed_from
from broadcaster.store.tracks import Tracks
from broadcaster.store.urgents import Urgents, load_urgents, recent_clause


class Store(Database):
    """The database: SQLite by default (`sqlite_url(data_dir)`), PostgreSQL by URL.

    Thread-safe; every method runs in its own transaction unless called inside
    `with store.transaction():`. Lookups of a missing object raise NotFound, duplicates
    and objects still in use raise Conflict, bad references raise ValidationError.
    """

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.places = Places(self)
        self.content = Content(self)
        self.schedules = Schedules(self)
        self.urgents = Urgents(self)
        self.people = People(self)
        self.devices = Devices(self)
        self.journal = Journal(self)
        self.live = LivePages(self)
        self.cap = CapAlerts(self)
        self.tracks = Tracks(self)
        self.retention = Retention(self)

    @classmethod
    def open(cls, url: str, *, upgrade: bool = True, **engine_options: Any) -> Self:
        """Connect to `url` and migrate the schema to the newest revision (not with
        `upgrade=False`: the database is used as it is).

        `engine_options` go to SQLAlchemy's `create_engine` (e.g. `pool_size` for a server
        with many worker threads).
        """
        engine = make_engine(url, **engine_options)
        try:
            if upgrade:
                migrate.upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    def deployment(self, now: datetime) -> Deployment:
        """Areas, speakers, messages, programs, schedules and the urgents live at `now` or
        ended (expired, cancelled) shortly before it: the planner places both.

        Read in one consistent snapshot, so the planner never sees half of an edit.
        """
        with self.snapshot() as conn:
            return Deployment(
                areas=load_areas(conn),
                speakers=load_speakers(conn),
                messages=load_messages(conn),
                programs=load_programs(conn),
                schedules=load_schedules(conn),
                urgents=load_urgents(conn, recent_clause(now)),
                revision=counter(conn, "catalog"),
                quiet_zones=load_quiet_zones(conn),
            )

    def catalog_revision(self) -> int:
        """A number that grows whenever areas, speakers, messages, programs, schedules or
        urgent announcements change (cheap to poll: rebuild jobs and plans when it moves)."""
        with self.transaction(write=False) as conn:
            return counter(conn, "catalog")

    def seed_from(self, settings: Settings, now: datetime) -> SeedReport:
        """Insert the configuration's objects the database has never seen (see
        `broadcaster.store.seed` for the policy)."""
        return seed_from(self, settings, now)

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
