"""The clips of a deployment: messages, urgent texts and the self-test, rendered on demand.

The clip cache has a size budget: clips that nothing current references (previews, old
versions of edited messages) are removed least recently used first when it is exceeded
(`broadcaster.jobs.collect_clips`; `keys_in_use` says what must stay).
"""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, cast

from audio.cache import CacheEntry
from audio.errors import AudioError
from audio.render import ClipRequest, Renderer
from broadcaster.errors import StorageFull
from broadcaster.models import ClipRef, Message, VoiceSettings

if TYPE_CHECKING:
    from broadcaster.store import Deployment

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClipFile:
    """A rendered clip as clients see it: key, length and the file's own checksum."""

    key: str
    duration_ms: int
    sha256: str
    size: int
    fmt: str

    @property
    def ref(self) -> ClipRef:
        return ClipRef(self.key, self.duration_ms)

    def to_json(self) -> dict[str, object]:
        return {
            "url": f"/api/v1/clips/{self.key}",
            "sha256": self.sha256,
            "size": self.size,
            "duration_ms": self.duration_ms,
            "format": self.fmt,
        }

    @classmethod
    def of(cls, entry: CacheEntry) -> ClipFile:
        return cls(entry.key, entry.duration_ms, entry.sha256, entry.size, entry.fmt)


class ClipLibrary:
    """Renders what the plans need, remembering which request made which clip.

    Lookups of an already rendered request are served from memory (the cache verified the
    file once); a clip whose file has gone missing is rendered again from its request.
    """

    def __init__(
        self,
        renderer: Renderer,
        recordings: Path,
        selftest_text: str,
        *,
        budget_bytes: int | None = None,
    ) -> None:
        self.renderer = renderer
        self.recordings = recordings
        self.selftest_text = selftest_text
        self.budget_bytes = budget_bytes
        # Called (with no argument) when a new clip took the cache over its budget or the
        # disk is full: the scheduler runs the collection job then.
        self.over_budget: Callable[[], None] | None = None
        self._by_request: dict[tuple[object, ...], ClipFile] = {}
        self._requests: dict[str, tuple[object, ...]] = {}
        self._recording_keys: dict[tuple[str, bool, int, int], str] = {}
        self._guard = threading.Lock()

    def _render(self, request: tuple[object, ...]) -> ClipFile:
        with self._guard:
            known = self._by_request.get(request)
        if known is not None:
            return known
        try:
            if request[0] == "chime":
                clip = self.renderer.render_chime()
            elif request[0] == "recording":
                _, path, chime = request
                clip = self.renderer.render_recording(Path(str(path)), chime=bool(chime))
            else:
                _, text, voice, rate, volume, chime = request
                clip = self.renderer.render(
                    ClipRequest(
                        str(text), str(voice), cast(int, rate), cast(float, volume), bool(chime)
                    )
                )
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                self._collect()
                raise StorageFull(
                    f"cannot save a new clip: the server's disk is full ({exc})"
                ) from exc
            raise
        found = ClipFile.of(clip.entry)
        with self._guard:
            self._by_request[request] = found
            self._requests[found.key] = request
        if not clip.cached:
            estimate = self.renderer.cache.estimated_bytes()
            if self.budget_bytes is not None and (estimate or 0) > self.budget_bytes:
                self._collect()
        return found

    def _collect(self) -> None:
        if self.over_budget is not None:
            try:
                self.over_budget()
            except Exception:  # asking for a collection must never fail a render
                log.exception("cannot start the clip collection")

    def forget(self) -> None:
        """Drop what this library remembers (e.g. after the lexicon changed every key)."""
        with self._guard:
            self._by_request.clear()
            self._requests.clear()

    def forget_keys(self, keys: Iterable[str]) -> None:
        """Drop what this library remembers of these clips (removed from the cache): a
        later request renders them again, a download of one is a 404."""
        with self._guard:
            for key in keys:
                request = self._requests.pop(key, None)
                if request is not None:
                    self._by_request.pop(request, None)

    # -- what must stay in the cache ------------------------------------------------------
    def key_for_text(self, text: str, voice: VoiceSettings) -> str:
        """The key `for_text` would give (nothing is rendered; InvalidInput as it would)."""
        request = ("tts", text, voice.voice, voice.rate, voice.volume, voice.chime)
        with self._guard:
            known = self._by_request.get(request)
        if known is not None:
            return known.key
        return self.renderer.key_for(
            ClipRequest(text, voice.voice, voice.rate, voice.volume, voice.chime)
        )

    def key_for_message(self, message: Message) -> str | None:
        """The key `for_message` would give; None for a recording whose file is gone."""
        if not message.recording:
            return self.key_for_text(message.text, message.voice)
        path = self.recordings / message.recording
        request = ("recording", str(path), message.voice.chime)
        with self._guard:
            known = self._by_request.get(request)
        if known is not None:
            return known.key
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        memo = (str(path), message.voice.chime, stat.st_mtime_ns, stat.st_size)
        key = self._recording_keys.get(memo)
        if key is None:  # the recording's checksum: off the loop, it reads the whole file
            chime = message.voice.chime
            key = self.renderer.workers.run(lambda: self.renderer.recording_key(path, chime=chime))
            self._recording_keys[memo] = key
        return key

    def keys_in_use(self, deployment: Deployment, default_voice: VoiceSettings) -> set[str]:
        """Keys of every clip a current plan may list: each message's, each live or recent
        urgent's, the self-test's and the chime's (plans are made of these)."""
        keys: set[str] = set()
        messages = {m.id: m for m in deployment.messages}

        def add(key: Callable[[], str | None], what: str) -> None:
            try:
                found = key()
            except (AudioError, OSError) as exc:  # cannot be rendered: nothing to keep
                log.debug("no clip key for %s: %s", what, exc)
                return
            if found is not None:
                keys.add(found)

        for message in deployment.messages:
            add(partial(self.key_for_message, message), f"message {message.id}")
        for urgent in deployment.urgents:
            if urgent.text is not None:
                add(partial(self.key_for_text, urgent.text, default_voice), f"urgent {urgent.id}")
            elif urgent.message_id in messages:
                add(partial(self.key_for_message, messages[urgent.message_id]), urgent.id)
        add(partial(self.key_for_text, self.selftest_text, default_voice), "the self-test")
        add(self.renderer.chime_key, "the chime")
        return keys

    def for_text(self, text: str, voice: VoiceSettings) -> ClipFile:
        """The clip of `text` spoken with `voice`."""
        return self._render(("tts", text, voice.voice, voice.rate, voice.volume, voice.chime))

    def ready_for_text(self, text: str, voice: VoiceSettings) -> ClipFile | None:
        """The clip of `text` if it is already rendered, else None (nothing is rendered).

        Raises InvalidInput at once for text that cannot be spoken or an unknown voice.
        """
        request = ("tts", text, voice.voice, voice.rate, voice.volume, voice.chime)
        with self._guard:
            known = self._by_request.get(request)
        if known is not None:
            return known
        key = self.renderer.key_for(
            ClipRequest(text, voice.voice, voice.rate, voice.volume, voice.chime)
        )
        entry = self.renderer.cache.get(key, "wav")
        return None if entry is None else self._render(request)

    def ready_for_message(self, message: Message) -> ClipFile | None:
        """The clip of a message if it is already rendered, else None."""
        if message.recording:
            request = ("recording", str(self.recordings / message.recording), message.voice.chime)
            with self._guard:
                return self._by_request.get(request)
        return self.ready_for_text(message.text, message.voice)

    def for_message(self, message: Message) -> ClipFile:
        """The clip of a message: its recording if it has one, else its synthesized text."""
        if message.recording:
            return self._render(
                ("recording", str(self.recordings / message.recording), message.voice.chime)
            )
        return self.for_text(message.text, message.voice)

    def chime(self) -> ClipFile:
        """The stand-alone pre-announce chime every plan lists (urgents sound it first)."""
        return self._render(("chime",))

    @property
    def chime_ms(self) -> int:
        """Where the speech begins in a chimed clip."""
        return self.renderer.chime_ms

    def selftest(self, voice: VoiceSettings) -> ClipFile:
        """The short clip every speaker plays at its first window start each day."""
        return self.for_text(self.selftest_text, voice)

    def file(self, key: str) -> Path | None:
        """The verified file of a clip this library made, re-rendering it if it was damaged."""
        entry = self.renderer.cache.get(key, "wav")
        if entry is not None:
            return entry.path
        with self._guard:
            request = self._requests.get(key)
            if request is not None:
                del self._by_request[request]
        if request is None:
            return None
        again = self._render(request)
        return self.renderer.cache.path_for(again.key, "wav") if again.key == key else None
