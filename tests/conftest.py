"""Shared fixtures: settings from the sample config, a real synthesizer, a renderer."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from audio.cache import ClipCache
from audio.render import Renderer
from audio.tts import Pyttsx3Synthesizer
from broadcaster.config import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CONFIG = ROOT / "config.yaml"
BIN = Path(sys.executable).parent


def require_tool(name: str) -> str:
    """The path of a system tool the tests need; a missing one is an error, not a skip."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `make test` (it installs the Debian packages)")
    return path


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings(SAMPLE_CONFIG)


@pytest.fixture(scope="session")
def synthesizer() -> Iterator[Pyttsx3Synthesizer]:
    require_tool("espeak-ng")
    with Pyttsx3Synthesizer() as synth:
        yield synth


@pytest.fixture
def renderer(settings: Settings, synthesizer: Pyttsx3Synthesizer, tmp_path: Path) -> Renderer:
    require_tool("ffmpeg")
    return Renderer(synthesizer, ClipCache(tmp_path / "clips"), settings.render)
