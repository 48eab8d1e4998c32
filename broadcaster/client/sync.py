"""Plan sync: fetch the plan (ETag), download its clips, switch only when all are verified."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from broadcaster.client.api import ApiError, DeviceApi, Unauthorized
from broadcaster.client.cache import CacheHealth, ClipError, ClipStore, PlanStore
from broadcaster.client.plan import Plan, parse_plan
from broadcaster.client.retry import Retry
from broadcaster.errors import ValidationError

log = logging.getLogger(__name__)


def load_saved_plan(plans: PlanStore) -> Plan | None:
    """The last good plan from disk (played from cache when the server is unreachable)."""
    saved = plans.load()
    if saved is None:
        return None
    body, etag = saved
    try:
        return parse_plan(body, etag)
    except ValidationError as exc:
        log.warning("ignoring the saved plan: %s", exc)
        return None


class Syncer:
    """Keeps the runner's plan current. ``request()`` asks for a sync now."""

    def __init__(
        self,
        api: DeviceApi,
        clips: ClipStore,
        plans: PlanStore,
        current: Callable[[], Plan | None],
        switch: Callable[[Plan], None],
        now: Callable[[], datetime],
    ) -> None:
        self.api = api
        self.clips = clips
        self.plans = plans
        self._current = current
        self._switch = switch
        self._now = now
        self._requested = threading.Event()
        self.last_sync: datetime | None = None
        self.heartbeat_s = 30.0
        self.pending_etag: str | None = None  # a newer plan waiting for its clips
        self.attempted = threading.Event()  # set after the first sync attempt, good or bad

    def request(self) -> None:
        self._requested.set()

    def health(self) -> CacheHealth:
        plan = self._current()
        return self.clips.health(plan.clips.values() if plan else ())

    def sync_once(self) -> bool:
        """One round; True if a new plan was switched to. Raises on failure."""
        current = self._current()
        resp = self.api.get_plan(current.etag if current else None)
        if resp.status == 304 and current is not None:
            self._repair(current, full=False)
            self.last_sync = self._now()
            self.pending_etag = None
            return False
        if resp.body is None:
            raise ApiError(f"GET plan: {resp.status} without a body", resp.status)
        plan = parse_plan(resp.body, resp.etag)
        self.heartbeat_s = plan.heartbeat_s
        if current is not None and plan.etag is not None and plan.etag == current.etag:
            self._repair(current, full=False)
            self.last_sync = self._now()
            return False
        self.pending_etag = plan.etag
        self._repair(plan)  # raises if a clip cannot be had: the current plan stays
        self.plans.save(resp.body, resp.etag)
        self._switch(plan)
        self.pending_etag = None
        self.last_sync = self._now()
        removed = self.clips.prune(set(plan.clips) | set(current.clips if current else ()))
        log.info(
            "switched to plan %s: %d items, %d windows, %d clips%s",
            plan.etag,
            len(plan.items),
            len(plan.windows),
            len(plan.clips),
            f", pruned {removed} old clips" if removed else "",
        )
        return True

    def _repair(self, plan: Plan, full: bool = True) -> None:
        """Download every missing or corrupt clip of ``plan``; raise if any could not be had."""
        failed: list[str] = []
        first = ""
        cause: BaseException | None = None
        for spec in plan.clips.values():
            try:
                if self.clips.ensure(spec, self.api.download, full=full):
                    log.info("downloaded clip %s (%d bytes)", spec.key[:12], spec.size)
            except Unauthorized:
                raise
            except (ApiError, ClipError, OSError) as exc:
                # Said once in the summary below (and by the sync's Retry when it changes).
                log.debug("clip %s: %s", spec.key[:12], exc)
                failed.append(spec.key[:12])
                first = first or f"{spec.key[:12]}: {exc}"
                cause = cause or exc
        if failed:
            raise ClipError(
                f"{len(failed)} clip(s) not available yet: {', '.join(failed[:5])} ({first})"
            ) from cause

    def run(self, stopping: threading.Event) -> None:
        """Sync every ``heartbeat_s`` and on request; back off on failure."""
        retry = Retry("sync")
        while not stopping.is_set():
            self._requested.clear()
            try:
                self.sync_once()
                retry.succeeded()
                delay = self.heartbeat_s
            except Exception as exc:  # the loop's boundary: log, back off, keep syncing
                delay = retry.failed(exc)
            self.attempted.set()
            self._requested.wait(delay)
