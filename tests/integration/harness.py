"""Real processes on loopback: a `broadcaster serve` and `broadcaster-client`s with file sinks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

from tests.conftest import BIN

ZONE = ZoneInfo("Asia/Shanghai")
ADMIN_PASSWORD = "integration-admin-pw"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def deployment_yaml(
    *,
    window_start: datetime,
    window_end: datetime,
    speakers: int,
    gap_s: float = 1.0,
    heartbeat_s: int = 2,
    messages: tuple[str, ...] = ("请大家戴好口罩。", "出门保持两米距离。"),
) -> str:
    """A small deployment: one village, `speakers` fixed loudspeakers, one window today."""
    start = window_start.astimezone(ZONE)
    end = window_end.astimezone(ZONE)
    lines = [
        "deployment:",
        "  name: 测试部署",
        "  timezone: Asia/Shanghai",
        "audio: {rate: 220, tail_ms: 200, lead_ms: 100, selftest_text: 测试}",
        f"server: {{heartbeat_s: {heartbeat_s}, offline_after_missed: 3, long_poll_max_s: 30}}",
        "areas:",
        "  - id: district",
        "    name: 测试区",
        "    kind: district",
        "    children:",
        "      - {id: village-a, name: 甲村, kind: village}",
        "      - {id: village-b, name: 乙村, kind: village}",
        "speakers:",
    ]
    for i in range(1, speakers + 1):
        area = "village-a" if i % 2 else "village-b"
        lines.append(f"  - {{id: spk-{i}, name: 喇叭{i}, kind: fixed, area: {area}}}")
    lines.append("messages:")
    for i, text in enumerate(messages, start=1):
        lines.append(f"  - {{id: m{i}, title: 消息{i}, text: {text}, chime: false}}")
    ids = ", ".join(f"m{i}" for i in range(1, len(messages) + 1))
    lines += [
        "programs:",
        f"  - {{id: p1, name: 循环, messages: [{ids}], gap_s: {gap_s}}}",
        "schedules:",
        "  - id: s1",
        "    program: p1",
        "    areas: [district]",
        f'    start: "{start:%H:%M:%S}"',
        f'    end: "{end:%H:%M:%S}"',
        "users:",
        "  - {name: chief-a, role: chief, areas: [village-a]}",
    ]
    return "\n".join(lines) + "\n"


@dataclass
class Server:
    root: Path
    config: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. PYTHONTZPATH

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def start(self, timeout_s: float = 30) -> None:
        env = {**os.environ, "BROADCASTER_ADMIN_PASSWORD": ADMIN_PASSWORD, **self.extra_env}
        log = (self.root / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [str(BIN / "broadcaster"), "serve", "--config", str(self.config), "--data", str(self.data),
             "--port", str(self.port)],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.root,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_text()[-2000:]}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("server did not come up")

    def log_text(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "broadcaster"), *args, "--config", str(self.config), "--data", str(self.data)],
            capture_output=True, text=True, timeout=60, cwd=self.root, check=True,
        )  # fmt: skip

    def device_token(self, speaker: str) -> str:
        return self.cli("token", "issue", "--speaker", speaker).stdout.strip()

    def user_token(self, user: str) -> str:
        return self.cli("token", "issue", "--user", user).stdout.strip()


@dataclass
class Client:
    speaker: str
    root: Path
    server_url: str
    token: str
    proc: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. a clock hook

    @property
    def wav(self) -> Path:
        return self.root / f"{self.speaker}.wav"

    @property
    def sink_log(self) -> Path:
        return self.root / f"{self.speaker}.wav.log"

    def start(self) -> None:
        token_file = self.root / f"{self.speaker}.token"
        token_file.write_text(self.token)
        log = (self.root / f"{self.speaker}.client.log").open("ab")
        self.proc = subprocess.Popen(
            [str(BIN / "broadcaster-client"), "--server", self.server_url, "--speaker", self.speaker,
             "--token-file", str(token_file), "--cache", str(self.root / f"{self.speaker}-cache"),
             "--output", f"file:{self.wav}"],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.root, env={**os.environ, **self.extra_env},
        )  # fmt: skip
        log.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def events(self) -> list[dict[str, Any]]:
        """The sink's log: start and stop lines with wall-clock times."""
        if not self.sink_log.exists():
            return []
        return [json.loads(line) for line in self.sink_log.read_text().splitlines() if line.strip()]

    def log_text(self) -> str:
        path = self.root / f"{self.speaker}.client.log"
        return path.read_text(errors="replace") if path.exists() else ""


def starts(client: Client, kind: str | None = None) -> list[dict[str, Any]]:
    """The `start` lines of the client's sink log (of one kind: loop, urgent, selftest)."""
    return [
        e for e in client.events() if e["event"] == "start" and (kind is None or e["kind"] == kind)
    ]


def stops(client: Client, kind: str | None = None) -> list[dict[str, Any]]:
    """The `stop` lines of the client's sink log (of one kind)."""
    return [
        e for e in client.events() if e["event"] == "stop" and (kind is None or e["kind"] == kind)
    ]


def long_polls(server: Server) -> int:
    """How many long polls (a client's events request) the server holds waiting now."""
    health = requests.get(f"{server.url}/healthz", timeout=10).json()
    return int(health["worker"]["long_polls"])


def wait_for(predicate, timeout_s: float, step_s: float = 0.1) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return predicate()


def clients(server: Server, root: Path, speakers: list[str]) -> Iterator[Client]:
    for speaker in speakers:
        client = Client(speaker, root, server.url, server.device_token(speaker))
        client.start()
        yield client


def aware_now() -> datetime:
    return datetime.now(ZONE)


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)
