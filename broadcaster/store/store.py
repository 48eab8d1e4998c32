"""`Store`: the one place with SQL. Opens (and migrates) the database; returns domain values."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from broadcaster.store import migrate
from broadcaster.store.content import ContentStore
from broadcaster.store.devices import DevicesStore
from broadcaster.store.engine import make_engine
from broadcaster.store.journal import JournalStore
from broadcaster.store.people import PeopleStore
from broadcaster.store.places import PlacesStore
from broadcaster.store.schedules import SchedulesStore
from broadcaster.store.seed import SeedStore
from broadcaster.store.urgents import UrgentsStore


class Store(
    PlacesStore,
    ContentStore,
    SchedulesStore,
    UrgentsStore,
    PeopleStore,
    DevicesStore,
    JournalStore,
    SeedStore,
):
    """The database: SQLite by default (`sqlite_url(data_dir)`), PostgreSQL by URL.

    Thread-safe; every method runs in its own transaction unless called inside
    `with store.transaction():`. Lookups of a missing object raise NotFound, duplicates
    and objects still in use raise Conflict, bad references raise ValidationError.
    """

    @classmethod
    def open(cls, url: str, *, upgrade: bool = True, **engine_options: Any) -> Self:
        """Connect to `url` and migrate the schema to the newest revision.

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
