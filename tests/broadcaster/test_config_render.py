"""The rendering settings of `server:` (issue 10, item 5): defaults, values, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from broadcaster.config import load_settings
from broadcaster.errors import ConfigError

MINIMAL = """\
deployment:
  name: 测试
  timezone: Asia/Shanghai
"""


def test_defaults_and_values(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(MINIMAL)
    server = load_settings(path).server
    assert (server.render_slots, server.render_queue, server.renders_per_user) == (2, 8, 2)
    assert server.clip_cache_mb == 2048
    path.write_text(
        MINIMAL + "server: {render_slots: 1, render_queue: 4, renders_per_user: 1, "
        "clip_cache_mb: 500}\n"
    )
    server = load_settings(path).server
    assert (server.render_slots, server.render_queue, server.renders_per_user) == (1, 4, 1)
    assert server.clip_cache_mb == 500


@pytest.mark.parametrize(
    "line", ["render_slots: 0", "render_queue: 0", "renders_per_user: 0", "clip_cache_mb: 0"]
)
def test_zero_is_refused_naming_the_key(tmp_path: Path, line: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(MINIMAL + f"server: {{{line}}}\n")
    with pytest.raises(ConfigError, match=rf"server\.{line.split(':')[0]}"):
        load_settings(path)
