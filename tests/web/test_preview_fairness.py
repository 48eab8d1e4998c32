"""Previews in the panel are fair and leave nothing behind for good (issue 10, item 5).

- one user has at most `renders_per_user` previews under way: the next one is a 429 with
  Retry-After and the reason in Chinese, in the JSON the preview box shows; others still get in;
- when `render_queue` people's renders are under way, anyone's next one is a 429;
- a preview's clip is collected when the cache is over its budget, while the clips of the
  messages, the self-test and the chime stay; its URL is then a 404.

The engine is the panel tests' tone synthesizer, held until the test lets it finish, so
who is rendering, waiting and refused is exact (the real engine under the real server is in
tests/integration/test_preview_fairness.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from audio.cache import ClipCache
from audio.render import Renderer
from audio.tts import ClipCheck, SpeechRequest
from broadcaster import jobs
from broadcaster.clips import ClipLibrary
from broadcaster.config import Settings
from broadcaster.models import Role, User
from broadcaster.notify import Notifier
from broadcaster.passwords import hash_password
from broadcaster.renderqueue import RenderQueue
from broadcaster.service import Service
from broadcaster.store import Store, sqlite_url
from tests.web.conftest import NOW, PASSWORD, ToneSynthesizer, login

PER_USER = "您已有 2 段音频正在生成，请等它们生成完再试。"
QUEUE_FULL = "服务器正忙于生成其他音频，请"


class HeldSynthesizer(ToneSynthesizer):
    """The tone synthesizer, each synthesis held until `release` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = 0

    def synthesize(self, request: SpeechRequest, out_path: Path) -> ClipCheck:
        self.started += 1
        assert self.release.wait(30), "the test never let the engine finish"
        return super().synthesize(request, out_path)


@pytest.fixture
def engine() -> HeldSynthesizer:
    return HeldSynthesizer()


@pytest.fixture
def queue() -> RenderQueue:
    return RenderQueue(slots=1, limit=3, per_user=2, reserve=0, threads=False)


@pytest.fixture
def service(
    settings: Settings, tmp_path: Path, engine: HeldSynthesizer, queue: RenderQueue
) -> Iterator[Service]:
    store = Store.open(sqlite_url(tmp_path))
    store.seed_from(settings, NOW)
    renderer = Renderer(engine, ClipCache(tmp_path / "clips"), settings.render, queue)
    library = ClipLibrary(renderer, tmp_path / "recordings", settings.selftest_text)
    svc = Service(settings, store, library, Notifier(store.devices.last_event_seq()))
    password = hash_password(PASSWORD)
    for name in ("admin", "admin2", "admin3"):
        store.people.create_user(User(name, Role.ADMIN), NOW, password_hash=password)
    store.people.set_password_hash("chief-tunli", password)
    yield svc
    store.close()


@dataclass
class Preview:
    """One user's preview request in a thread of its own (its own signed-in session)."""

    client: FlaskClient
    text: str
    answer: list[tuple[int, dict[str, object], dict[str, str]]] = field(default_factory=list)
    thread: threading.Thread | None = None

    def send(self) -> Preview:
        def run() -> None:
            with self.client.session_transaction() as s:
                token = s["csrf"]
            response = self.client.post(
                "/messages/preview",
                data={"text": self.text, "rate": "170", "chime": "1"},
                headers={"X-CSRF-Token": token},
            )
            self.answer.append((response.status_code, response.get_json(), dict(response.headers)))

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        return self

    def result(self, timeout_s: float = 30) -> tuple[int, dict[str, object], dict[str, str]]:
        assert self.thread is not None
        self.thread.join(timeout_s)
        assert self.answer, "no answer"
        return self.answer[0]


@pytest.fixture
def session(app: Flask) -> Callable[[str], FlaskClient]:
    def signed_in(name: str) -> FlaskClient:
        client = app.test_client()
        assert login(client, name).status_code == 302
        return client

    return signed_in


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_one_user_gets_two_previews_at_a_time_and_others_still_get_theirs(
    session: Callable[[str], FlaskClient], engine: HeldSynthesizer, queue: RenderQueue
) -> None:
    mine = [Preview(session("admin"), f"请注意防火安全，第{n}条。").send() for n in "一二"]
    wait_until(lambda: queue.stats().users_admitted == 2)
    third = Preview(session("admin"), "请注意防火安全，第三条。").send()
    status, body, headers = third.result()
    assert status == 429
    assert body == {"error": {"code": "busy", "message": PER_USER}}
    assert int(headers["Retry-After"]) >= 1
    other = Preview(session("chief-tunli"), "请注意用电安全。").send()
    wait_until(lambda: queue.stats().users_admitted == 3)
    engine.release.set()
    for preview in [*mine, other]:
        status, body, _ = preview.result()
        assert status == 200, body
        assert str(body["url"]).startswith("/clips/")
    assert engine.started == 3


def test_a_full_queue_refuses_everyone_with_retry_after(
    session: Callable[[str], FlaskClient], engine: HeldSynthesizer, queue: RenderQueue
) -> None:
    admitted = [
        Preview(session(name), f"{name}的通知：请注意防火。").send()
        for name in ("admin", "admin2", "admin3")
    ]
    wait_until(lambda: queue.stats().users_admitted == 3)
    status, body, headers = Preview(session("chief-tunli"), "请注意用电安全。").send().result()
    assert status == 429
    error = body["error"]
    assert isinstance(error, dict)
    assert error["code"] == "busy"  # the API's one error shape
    assert error["message"].startswith(QUEUE_FULL)
    assert f"{headers['Retry-After']} 秒后再试" in error["message"]
    engine.release.set()
    assert [p.result()[0] for p in admitted] == [200, 200, 200]
    # A preview already made is served from the cache without a slot, whatever the queue.
    assert Preview(session("chief-tunli"), "admin的通知：请注意防火。").send().result()[0] == 200


def test_a_preview_clip_is_collected_and_the_plans_clips_stay(
    session: Callable[[str], FlaskClient], engine: HeldSynthesizer, service: Service
) -> None:
    engine.release.set()
    client = session("admin")
    status, body, _ = Preview(client, "这是一段只试听一次的文字。").send().result()
    assert status == 200
    preview_url = str(body["url"])
    with client.get(preview_url) as played:
        assert played.status_code == 200
    deployment = service.deployment(NOW)
    library = service.library
    kept = {library.for_message(m).key for m in deployment.messages}
    kept.add(library.selftest(service.settings.default_voice).key)
    kept.add(library.chime().key)
    assert library.keys_in_use(deployment, service.settings.default_voice) == kept
    cache = library.renderer.cache
    library.budget_bytes = 1  # far over budget: everything that may go, goes
    report = jobs.collect_clips(service, NOW)
    assert report is not None and report.over_budget
    removed = {clip.key for clip in report.removed}
    assert preview_url == f"/clips/{next(iter(removed))}.wav" and len(removed) == 1
    assert {clip.key for clip in cache.stored()} == kept
    assert client.get(preview_url).status_code == 404  # forgotten, not rendered again
    assert all(cache.get(key, "wav") is not None for key in kept)


def test_without_a_budget_nothing_is_collected(engine: HeldSynthesizer, service: Service) -> None:
    assert service.library.budget_bytes is None
    assert jobs.collect_clips(service, NOW) is None
