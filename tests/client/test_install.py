"""The client as its own installable part (issue 11, item 5).

`pip install .` (no extras) into a clean venv gives a working `broadcaster-client` and none
of the server's packages; `broadcaster` there says in one line what to install. In the
full environment, importing the client still pulls in none of the server's modules.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import venv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from broadcaster.cli import SERVER_MISSING
from tests.client.fakes import TOKEN, StubServer, make_clip, plan_body, read_log

ROOT = Path(__file__).resolve().parents[2]
# What a loudspeaker computer must not carry (import names).
SERVER_ONLY = (
    "flask", "werkzeug", "jinja2", "sqlalchemy", "alembic", "apscheduler", "gevent",
    "psycopg", "numpy", "scipy", "pydub", "pyttsx3", "pypinyin", "opencc", "pyloudnorm",
    "yaml", "lxml", "defusedxml", "shapely",
)  # fmt: skip
CLIENT_MODULES = (
    "broadcaster.client.main",
    "broadcaster.client.app",
    "broadcaster.client.api",
    "broadcaster.client.runner",
)

# Prints the server-only modules that importing the client's modules loaded.
PROBE = f"""
import importlib, sys
for name in {CLIENT_MODULES!r}:
    importlib.import_module(name)
print(sorted({{m.split(".")[0] for m in sys.modules}} & set({SERVER_ONLY!r})))
"""


def test_importing_the_client_loads_no_server_module() -> None:
    """In the full environment (everything installed), the client imports none of it."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.strip() == "[]"


def test_broadcaster_without_the_server_part_says_what_to_install() -> None:
    code = "import sys; sys.modules['flask'] = None\nfrom broadcaster.cli import main\nsys.exit(main(['check']))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2
    assert done.stderr == SERVER_MISSING + "\n" and done.stdout == ""


def _server_extra() -> set[str]:
    """The distributions of pyproject.toml's `server` extra (names lowercased)."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        extra = tomllib.load(f)["project"]["optional-dependencies"]["server"]
    names = {re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0].lower() for req in extra}
    assert {"flask", "sqlalchemy", "numpy", "scipy", "gevent"} <= names
    return names | {"werkzeug", "jinja2", "psycopg-binary"}  # what they bring along


def _source_copy(dest: Path) -> Path:
    """What `pip install .` reads, copied: the build must not write into the shared tree."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for name in ("broadcaster", "audio", "web"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    return dest


@pytest.mark.slow  # kept out of `make test` (10 minutes); runs in `make test-slow`
def test_plain_pip_install_is_the_client_alone(tmp_path: Path) -> None:
    src = _source_copy(tmp_path / "src")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False, clear=True).create(env_dir)
    bin_dir = env_dir / "bin"
    python = bin_dir / "python"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))},
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }

    def run(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            check=check,
            timeout=600,
        )

    run(python, "-m", "pip", "install", "--quiet", src)

    installed = {
        p["name"].lower(): p["version"]
        for p in json.loads(run(python, "-m", "pip", "list", "--format=json").stdout)
    }
    print("client-only venv:", installed)  # for the report: what a loudspeaker carries
    assert "broadcaster" in installed and "urllib3" in installed
    assert not _server_extra() & set(installed)
    for module in ("flask", "sqlalchemy", "numpy", "scipy", "gevent"):
        assert run(python, "-c", f"import {module}", check=False).returncode != 0, module
    assert run(python, "-c", PROBE).stdout.strip() == "[]"

    helped = run(bin_dir / "broadcaster-client", "--help")
    assert "--server" in helped.stdout and "--token-file" in helped.stdout

    server = run(bin_dir / "broadcaster", "check", check=False)
    assert server.returncode == 2
    assert server.stderr == SERVER_MISSING + "\n" and server.stdout == ""
    assert "Traceback" not in server.stderr

    # And it plays: the installed client against a stub server, to a file sink.
    t0 = datetime.now(UTC)
    clip = make_clip("loop01", 0.5)
    with StubServer() as stub:
        stub.serve(
            plan_body(
                [(t0, t0 + timedelta(minutes=5))],
                [(t0 + timedelta(seconds=1.5), clip, "loop", None)],
                heartbeat_s=1,
            ),
            [clip],
        )
        token_file = tmp_path / "token"
        token_file.write_text(TOKEN + "\n")
        token_file.chmod(0o600)
        out = tmp_path / "speaker.wav"
        proc = subprocess.Popen(
            [
                str(bin_dir / "broadcaster-client"),
                *("--server", stub.url, "--speaker", "vehicle-01"),
                *("--token-file", str(token_file), "--cache", str(tmp_path / "cache")),
                *("--output", f"file:{out}"),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not any(
                e["event"] == "stop" for e in read_log(out)
            ):
                time.sleep(0.1)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not stub.state.plays:
                time.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert [e["event"] for e in read_log(out)][:2] == ["start", "stop"]
        assert stub.state.heartbeats and len(stub.state.plays) == 1, err
