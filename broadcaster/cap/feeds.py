"""Upstream CAP feeds polled (issue 15, docs/cap.md "Feeds"): `cap.feeds` in config.yaml.

Each feed is fetched every `every_s` seconds by a scheduler job with a conditional GET
(`If-None-Match` with the last ETag, `If-Modified-Since` with the last `Last-Modified`): a
304 costs nothing. The answer is either one CAP alert, or an Atom or RSS feed whose entries
link CAP alerts (an Atom `link` of type application/cap+xml, or any link ending in `.cap`
or `.xml`; RSS `item/link`); each alert not fetched before is fetched and goes the one way
every alert goes (`ingest.receive`, source `feed:<id>`, limited to the feed's `senders`).
Documents are read up to a bound (`MAX_FEED_BYTES`, `document.MAX_BYTES` an alert) and the
feed itself is parsed with defusedxml (no DTDs, no entities). Nothing here raises into the
scheduler: a failure is logged and the next poll tries again.
"""

from __future__ import annotations

import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from datetime import datetime

import defusedxml.ElementTree as safe_et
from defusedxml import DefusedXmlException

from broadcaster.cap import ingest
from broadcaster.cap.document import MAX_BYTES, NS, CapRefused
from broadcaster.cap.settings import CapFeed
from broadcaster.service import Service

log = logging.getLogger(__name__)

MAX_FEED_BYTES = 2 * 1024 * 1024
TIMEOUT_S = 10
SEEN_MAX = 2000  # alert links remembered per feed (older ones are deduplicated by the store)
ATOM = "{http://www.w3.org/2005/Atom}"
CAP_TYPES = ("application/cap+xml", "application/common-alerting-protocol+xml")


class TooLarge(Exception):
    pass


def _read(response: object, limit: int) -> bytes:
    data = response.read(limit + 1)  # type: ignore[attr-defined]
    if len(data) > limit:
        raise TooLarge(f"more than {limit} bytes")
    return bytes(data)


class FeedPoller:
    """One feed's state between polls: its validators and the alert links already taken."""

    def __init__(self, service: Service, feed: CapFeed) -> None:
        self.service = service
        self.feed = feed
        self.etag: str | None = None
        self.modified: str | None = None
        self.seen: OrderedDict[str, None] = OrderedDict()
        self.origin = ingest.Origin(f"feed:{feed.id}", feed.senders, None, feed.certificates)

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/cap+xml, application/atom+xml, application/xml"}
        key = os.environ.get(self.feed.key_env) if self.feed.key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def poll(self, now: datetime) -> list[ingest.Outcome]:
        """Fetch the feed (conditionally) and take the alerts it has that are new."""
        headers = self._headers()
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.modified:
            headers["If-Modified-Since"] = self.modified
        request = urllib.request.Request(self.feed.url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                body = _read(response, MAX_FEED_BYTES)
                self.etag = response.headers.get("ETag") or self.etag
                self.modified = response.headers.get("Last-Modified") or self.modified
        except urllib.error.HTTPError as exc:
            if exc.code != 304:
                log.warning("cap feed %s: HTTP %s", self.feed.id, exc.code)
            return []
        except (urllib.error.URLError, OSError, TooLarge) as exc:
            log.warning("cap feed %s: cannot fetch (%s)", self.feed.id, exc)
            return []
        return self._take(body, now)

    def _take(self, body: bytes, now: datetime) -> list[ingest.Outcome]:
        try:
            root = safe_et.fromstring(body, forbid_dtd=True)
        except (DefusedXmlException, safe_et.ParseError) as exc:
            log.warning("cap feed %s: not a feed (%s)", self.feed.id, exc)
            return []
        if root.tag == f"{{{NS}}}alert":
            return [o for o in (self._receive(body, now),) if o is not None]
        outcomes = []
        for link in self._links(root):
            if link in self.seen:
                continue
            data = self._fetch(link)
            if data is None:
                continue
            self.seen[link] = None
            while len(self.seen) > SEEN_MAX:
                self.seen.popitem(last=False)
            outcome = self._receive(data, now)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    def _links(self, root: object) -> list[str]:
        """The alert links of an Atom or RSS feed, oldest first (feeds list newest first)."""
        found: list[str] = []
        for entry in root.iter(f"{ATOM}entry"):  # type: ignore[attr-defined]
            for link in entry.iter(f"{ATOM}link"):
                href, kind = link.get("href") or "", link.get("type") or ""
                if kind in CAP_TYPES or href.endswith((".cap", ".xml")):
                    found.append(href)
                    break
        for item in root.iter("item"):  # type: ignore[attr-defined]
            link = item.find("link")
            if link is not None and (link.text or "").strip():
                found.append(link.text.strip())
        base = self.feed.url
        return [urllib.parse.urljoin(base, h) for h in reversed(found)]

    def _fetch(self, url: str) -> bytes | None:
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            log.warning("cap feed %s: skipped a link that is not http(s): %s", self.feed.id, url)
            return None
        try:
            request = urllib.request.Request(url, headers=self._headers())
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                return _read(response, MAX_BYTES)
        except (urllib.error.URLError, OSError, TooLarge) as exc:
            log.warning("cap feed %s: cannot fetch %s (%s)", self.feed.id, url, exc)
            return None

    def _receive(self, data: bytes, now: datetime) -> ingest.Outcome | None:
        try:
            outcome = ingest.receive(self.service, data, self.origin, now)
        except CapRefused as exc:  # audited by receive
            log.warning("cap feed %s: refused an alert (%s)", self.feed.id, exc)
            return None
        if outcome.changed:
            log.info("cap feed %s: %s -> urgents %s, held %s", self.feed.id, outcome.alert,
                     outcome.urgents, outcome.held)  # fmt: skip
        return outcome
