"""Panel users against a real server: accounts made in its database, signed-in sessions,
long preview texts, an open-loop prober and a recording bomb (used by
tests/integration/test_preview_fairness.py and benchmarks/bench_fairness.py)."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import requests

from broadcaster.models import Role, User
from broadcaster.passwords import hash_password
from broadcaster.store import Store, sqlite_url
from tests.audio import bombs
from tests.integration.harness import Server

PASSWORD = "fairness-test-pw"

# Plain Han sentences: nothing for the normalizer to expand, so 500 typed characters are
# about 500 spoken ones (about 150 s of speech at the default rate).
_SENTENCES = (
    "请大家注意防火安全", "出门戴好口罩", "保持两米距离", "不要在河边玩耍", "看好家里的老人和孩子",
    "雨天路滑注意慢行", "发现火情马上报告村委会", "不要私拉乱接电线", "秋收时节严禁焚烧秸秆",
    "外出务工人员返乡请登记", "按时接种疫苗", "遇到诈骗电话立即挂断", "汛期不要靠近水库",
)  # fmt: skip
_NUMBERS = "一二三四五六七八九十"


def add_users(server: Server, names: list[str], role: Role = Role.ADMIN) -> None:
    """Accounts that can sign in with PASSWORD, written straight into the server's database."""
    store = Store.open(sqlite_url(server.data), upgrade=False)
    try:
        now = datetime.now(UTC)
        for name in names:
            store.people.create_user(User(name, role), now, password_hash=hash_password(PASSWORD))
    finally:
        store.close()


def login(url: str, name: str, password: str = PASSWORD) -> tuple[requests.Session, str]:
    """A signed-in session and its CSRF token (for the X-CSRF-Token header)."""
    session = requests.Session()
    page = session.get(url + "/login", timeout=30).text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert token, page[:300]
    response = session.post(
        url + "/login",
        data={"name": name, "password": password, "csrf_token": token.group(1)},
        allow_redirects=False,
        timeout=60,
    )
    assert response.status_code == 302, response.text[:500]
    page = session.get(url + "/messages/new", timeout=30).text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert token, page[:300]
    return session, token.group(1)


def long_text(i: int, length: int = 500) -> str:
    """A distinct text of `length` characters (each one renders a clip of its own)."""
    head = f"第{_NUMBERS[i % 10]}{_NUMBERS[(i // 10) % 10]}号通知。"
    body: list[str] = []
    j = i
    while len(head) + len("，".join(body)) < length + 20:
        body.append(_SENTENCES[j % len(_SENTENCES)])
        j += 7
    return (head + "，".join(body))[: length - 1] + "。"


def preview(
    session: requests.Session, csrf: str, url: str, text: str, timeout_s: float = 180
) -> requests.Response:
    """The panel's spoken preview of `text` (what the message form's Preview button sends)."""
    return session.post(
        url + "/messages/preview",
        data={"text": text, "rate": "170", "chime": "1"},
        headers={"X-CSRF-Token": csrf},
        timeout=timeout_s,
    )


class Poller:
    """GETs `url` every `every_s` seconds on a fixed schedule (open loop: a probe does not wait
    for the one before, so a stalled server shows in every probe sent during the stall)."""

    def __init__(self, url: str, every_s: float = 0.05, headers: dict[str, str] | None = None):
        self.url, self.every_s, self.headers = url, every_s, headers or {}
        self.latencies: list[float] = []
        self.failures = 0
        self._done = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=256)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _probe(self) -> None:
        start = time.monotonic()
        try:
            ok = requests.get(self.url, headers=self.headers, timeout=120).status_code < 500
        except requests.RequestException:
            ok = False
        self.latencies.append(time.monotonic() - start)
        self.failures += 0 if ok else 1

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._done.is_set():
            self._pool.submit(self._probe)
            next_at += self.every_s
            self._done.wait(max(0.0, next_at - time.monotonic()))

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(10)
        self._pool.shutdown(wait=True)


def opus_bomb(folder: Path) -> bytes:
    """Two hours of Opus silence (about 2.7 MB): a recording bomb."""
    return bombs.opus(folder / "bomb.opus").read_bytes()
