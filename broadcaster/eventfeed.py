"""The recent events of the whole deployment in memory, shared by a process's long polls.

Every open long poll used to read the database when it started and again on every wake-up,
and any new event wakes every waiting poll: an urgent to 5,000 loudspeakers is 5,000 events,
each waking 5,000 polls, and each of those queried the database for its own speaker. Here
one query per new sequence number (per process) reads what is new for all speakers, and
each poll picks its own from memory.

The feed holds every event from `start` (exclusive) to `loaded` (inclusive). Sequence
numbers are handed out in commit order (`broadcaster.store.base.bump` locks the counter's
row), and a number is published (`Notifier`) only after its transaction committed, so a
read after seeing number N finds every event up to N. A poll from further back than the
feed holds (a speaker that was offline while much happened, or right after a restart) reads
the database as before. The oldest events are dropped beyond `keep` events.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Sequence

from broadcaster.store.records import Event

READ_AT_ONCE = 5_000
KEEP = 50_000


class EventFeed:
    """Events after a sequence number for one speaker, from memory where it can."""

    def __init__(
        self,
        last_seq: int,
        published: Callable[[], int],
        read_since: Callable[[int, int], Sequence[Event]],
        read_for: Callable[[str, int, int], Sequence[Event]],
        keep: int = KEEP,
    ) -> None:
        """`last_seq`: the newest number now (the feed starts empty after it); `published`:
        the newest number announced (the notifier's); `read_since(after, limit)`: the
        database's events of all speakers after a number, in order; `read_for(speaker,
        after, limit)`: one speaker's (and everyone's) events after a number."""
        self._published = published
        self._read_since = read_since
        self._read_for = read_for
        self._keep = keep
        self._start = last_seq
        self._loaded = last_seq
        self._asked = last_seq  # the published number the last read covered
        self._order: deque[Event] = deque()  # every held event, by number
        self._mine: dict[str | None, deque[Event]] = {}  # speaker (None: all) -> its events
        self._lock = threading.Lock()

    @property
    def loaded(self) -> int:
        """The newest number the feed holds everything up to."""
        return self._loaded

    def after(self, speaker_id: str, after: int, limit: int = 100) -> tuple[Event, ...]:
        """The speaker's events (and those for all speakers) with a number above `after`, in
        order, at most `limit`."""
        self._catch_up()
        if after < self._start:
            return tuple(self._read_for(speaker_id, after, limit))
        found = _above(self._mine.get(speaker_id), after) + _above(self._mine.get(None), after)
        found.sort(key=lambda e: e.seq)
        return tuple(found[:limit])

    def _catch_up(self) -> None:
        if self._published() <= self._asked:
            return
        with self._lock:  # one reader; the polls woken with it find the feed filled
            target = self._published()
            while target > self._asked:
                events = self._read_since(self._loaded, READ_AT_ONCE)
                for event in events:
                    self._add(event)
                if len(events) < READ_AT_ONCE:
                    # Everything committed up to `target` is read (a number up to it with no
                    # row was pruned from the database).
                    self._asked = target
                    self._loaded = max(self._loaded, target)
                    break
            self._drop_oldest()

    def _add(self, event: Event) -> None:
        self._order.append(event)
        self._mine.setdefault(event.speaker_id, deque()).append(event)
        self._loaded = event.seq

    def _drop_oldest(self) -> None:
        while len(self._order) > self._keep:
            event = self._order.popleft()
            mine = self._mine[event.speaker_id]
            mine.popleft()  # the speaker's oldest is the feed's oldest of that speaker
            if not mine:
                del self._mine[event.speaker_id]
            self._start = event.seq


def _above(events: deque[Event] | None, after: int) -> list[Event]:
    if not events:
        return []
    if events[-1].seq <= after:
        return []
    if events[0].seq > after:
        return list(events)
    seqs = [e.seq for e in events]  # rare: a poll that already had part of the speaker's
    return list(events)[bisect_right(seqs, after) :]
