"""The shared event feed (broadcaster/eventfeed.py): one read per new number for all polls."""

from __future__ import annotations

from datetime import UTC, datetime

from broadcaster.eventfeed import EventFeed
from broadcaster.store.records import Event, EventKind

AT = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


class Db:
    """The events table as a list, counting the reads."""

    def __init__(self) -> None:
        self.rows: list[Event] = []
        self.published = 0
        self.reads_all = 0
        self.reads_one = 0

    def add(self, speaker_id: str | None, publish: bool = True) -> Event:
        event = Event(len(self.rows) + 1, speaker_id, EventKind.RESYNC, {}, AT)
        self.rows.append(event)
        if publish:
            self.published = event.seq
        return event

    def since(self, after: int, limit: int) -> list[Event]:
        self.reads_all += 1
        return [e for e in self.rows if e.seq > after][:limit]

    def one(self, speaker: str, after: int, limit: int) -> list[Event]:
        self.reads_one += 1
        return [e for e in self.rows if e.seq > after and e.speaker_id in (speaker, None)][:limit]

    def feed(self, keep: int = 50_000) -> EventFeed:
        return EventFeed(len(self.rows), lambda: self.published, self.since, self.one, keep=keep)


def test_many_polls_share_one_read_per_new_number() -> None:
    db = Db()
    feed = db.feed()
    for i in range(3_000):
        db.add(f"spk-{i}")
    answers = {f"spk-{i}": feed.after(f"spk-{i}", 0) for i in range(3_000)}
    assert db.reads_all == 1 and db.reads_one == 0
    assert all([e.speaker_id for e in found] == [s] for s, found in answers.items())
    assert feed.loaded == 3_000
    assert feed.after("spk-1", 0) == answers["spk-1"] and db.reads_all == 1  # nothing new


def test_a_speakers_events_and_everyones_in_order_after_its_cursor() -> None:
    db = Db()
    feed = db.feed()
    mine = [db.add("a"), db.add(None), db.add("b"), db.add("a"), db.add(None)]
    assert [e.seq for e in feed.after("a", 0)] == [1, 2, 4, 5]
    assert [e.seq for e in feed.after("a", 2)] == [4, 5]
    assert [e.seq for e in feed.after("b", 3)] == [5]
    assert feed.after("a", 5) == ()
    assert [e.seq for e in feed.after("a", 0, limit=2)] == [1, 2]
    assert mine[0] in feed.after("a", 0)


def test_a_number_not_yet_published_is_not_read_and_a_later_one_brings_it() -> None:
    db = Db()
    feed = db.feed()
    db.add("a", publish=False)  # committed elsewhere, the word not arrived yet
    assert feed.after("a", 0) == () and db.reads_all == 0
    db.add("a")
    assert [e.seq for e in feed.after("a", 0)] == [1, 2]


def test_a_cursor_from_before_the_feed_reads_the_database() -> None:
    db = Db()
    db.add("a")
    db.add("a")
    feed = db.feed()  # started after two events (a restart)
    assert [e.seq for e in feed.after("a", 0)] == [1, 2] and db.reads_one == 1
    db.add("a")
    assert [e.seq for e in feed.after("a", 2)] == [3] and db.reads_one == 1


def test_the_oldest_are_dropped_beyond_keep_and_then_read_from_the_database() -> None:
    db = Db()
    feed = db.feed(keep=10)
    for _ in range(25):
        db.add("a" if len(db.rows) % 2 else "b")
    assert [e.seq for e in feed.after("a", 20)] == [22, 24]
    assert db.reads_one == 0
    old = feed.after("a", 0)  # dropped from memory: the database answers, all of it
    assert [e.seq for e in old] == list(range(2, 26, 2)) and db.reads_one == 1


def test_more_new_events_than_one_read_are_all_read() -> None:
    db = Db()
    feed = db.feed()
    for _ in range(12_001):
        db.add(None)
    found = feed.after("a", 12_000 - 1)
    assert [e.seq for e in found] == [12_000, 12_001]
    assert db.reads_all == 3 and feed.loaded == 12_001


def test_numbers_published_without_rows_are_not_read_again() -> None:
    db = Db()
    feed = db.feed()
    db.published = 7  # pruned before this process read them
    assert feed.after("a", 0) == ()
    assert feed.after("b", 0) == () and db.reads_all == 1
    assert feed.loaded == 7
