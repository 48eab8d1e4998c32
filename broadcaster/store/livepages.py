"""Live pages kept (issue 12, docs/live-paging.md "Kept"): `store.live`.

A row is written when a page starts (so a server killed mid-page leaves a trace the next
start closes: `ended: server restart`), closed when it ends with each target's outcome, and
given its clip once the recording is rendered. Targets are plain ids and names: the record
outlives a deleted speaker.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from broadcaster.errors import NotFound
from broadcaster.store import schema as t
from broadcaster.store.base import Part


@dataclass(frozen=True, slots=True)
class LiveRecord:
    """One live page as kept: who, when, to whom, how it ended for each, and its clip."""

    id: str
    created_by: str
    by_name: str
    started_at: datetime
    speaker_ids: tuple[str, ...]
    area_ids: tuple[str, ...] = ()
    override_window: bool = False
    take_over: bool = False
    ended_at: datetime | None = None
    ended_reason: str | None = None
    # speaker -> {"name", "outcome", "frames", "skipped", "streams"}
    targets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    recording: str | None = None
    clip_key: str | None = None
    duration_ms: int | None = None


def _record(row: Any) -> LiveRecord:
    return LiveRecord(
        id=row["id"],
        created_by=row["created_by"],
        by_name=row["by_name"],
        started_at=row["started_at"],
        speaker_ids=tuple(row["speaker_ids"] or ()),
        area_ids=tuple(row["area_ids"] or ()),
        override_window=bool(row["override_window"]),
        take_over=bool(row["take_over"]),
        ended_at=row["ended_at"],
        ended_reason=row["ended_reason"],
        targets=dict(row["targets"] or {}),
        recording=row["recording"],
        clip_key=row["clip_key"],
        duration_ms=row["duration_ms"],
    )


class LivePages(Part):
    """The `live_pages` table."""

    def start(self, record: LiveRecord) -> None:
        """Keep a page that starts now (inside the caller's transaction if there is one)."""
        with self._db.transaction() as conn:
            conn.execute(
                insert(t.live_pages).values(
                    id=record.id,
                    created_by=record.created_by,
                    by_name=record.by_name,
                    started_at=record.started_at,
                    override_window=record.override_window,
                    take_over=record.take_over,
                    speaker_ids=list(record.speaker_ids),
                    area_ids=list(record.area_ids),
                    targets={k: dict(v) for k, v in record.targets.items()},
                    recording=record.recording,
                )
            )

    def finish(
        self,
        page_id: str,
        ended_at: datetime,
        reason: str,
        targets: Mapping[str, Mapping[str, Any]],
    ) -> None:
        """The page is over: when, why, and each target's outcome."""
        with self._db.transaction() as conn:
            done = conn.execute(
                update(t.live_pages)
                .where(t.live_pages.c.id == page_id)
                .values(
                    ended_at=ended_at,
                    ended_reason=reason,
                    targets={k: dict(v) for k, v in targets.items()},
                )
            )
            if done.rowcount == 0:
                raise NotFound(f"no live page {page_id!r}")

    def set_clip(self, page_id: str, clip_key: str | None, duration_ms: int | None) -> None:
        """The page's recording became this clip (or None: nothing was said)."""
        with self._db.transaction() as conn:
            conn.execute(
                update(t.live_pages)
                .where(t.live_pages.c.id == page_id)
                .values(clip_key=clip_key, duration_ms=duration_ms)
            )

    def close_unfinished(self, now: datetime, reason: str) -> tuple[LiveRecord, ...]:
        """Close every page still open (its server died mid-page): those closed."""
        with self._db.transaction() as conn:
            rows = conn.execute(
                select(t.live_pages).where(t.live_pages.c.ended_at.is_(None))
            ).mappings()
            found = [_record(r) for r in rows]
            for record in found:
                targets = {s: {**v, "outcome": v.get("outcome") or reason}
                           for s, v in record.targets.items()}  # fmt: skip
                conn.execute(
                    update(t.live_pages)
                    .where(t.live_pages.c.id == record.id)
                    .values(ended_at=now, ended_reason=reason, targets=targets)
                )
        return tuple(found)

    def played(self, page_ids: Iterable[str]) -> dict[tuple[str, str], tuple[bool, str]]:
        """What the speakers' own play logs say of these pages (the clients' `live` entries,
        the page id as their clip): (page, speaker) -> (completed, reason)."""
        ids = list(page_ids)
        if not ids:
            return {}
        log = t.play_log
        query = select(log.c.clip, log.c.speaker_id, log.c.completed, log.c.reason).where(
            (log.c.kind == "live") & log.c.clip.in_(ids)
        )
        with self._db.transaction(write=False) as conn:
            return {(r[0], r[1]): (bool(r[2]), r[3]) for r in conn.execute(query)}

    def get(self, page_id: str) -> LiveRecord:
        with self._db.transaction(write=False) as conn:
            row = (
                conn.execute(select(t.live_pages).where(t.live_pages.c.id == page_id))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound(f"no live page {page_id!r}")
        return _record(row)

    def list(
        self,
        *,
        speaker_ids: Iterable[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> Sequence[LiveRecord]:
        """Newest first; with `speaker_ids`, only pages aimed at one of them; with
        `since`/`until`, only those started in [since, until)."""
        query = select(t.live_pages).order_by(
            t.live_pages.c.started_at.desc(), t.live_pages.c.id.desc()
        )
        if since is not None:
            query = query.where(t.live_pages.c.started_at >= since)
        if until is not None:
            query = query.where(t.live_pages.c.started_at < until)
        wanted = None if speaker_ids is None else set(speaker_ids)
        out: list[LiveRecord] = []
        with self._db.transaction(write=False) as conn:
            # Pages are few (a person talks); the JSON list of targets is filtered here.
            for row in conn.execute(query).mappings():
                record = _record(row)
                if wanted is None or wanted.intersection(record.speaker_ids):
                    out.append(record)
                    if len(out) >= limit:
                        break
        return tuple(out)
