"""Every user-visible string of the panel has a Chinese translation."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from web.panel.catalog_zh import ZH

WEB = Path(__file__).resolve().parents[2] / "web"
IN_TEMPLATE = re.compile(r"""_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*[,)]""")


def strings_in_code() -> set[str]:
    found = set()
    for path in (WEB / "panel").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "_"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    return found


def strings_in_templates() -> set[str]:
    found = set()
    for path in (WEB / "templates" / "panel").glob("*.html"):
        for match in IN_TEMPLATE.finditer(path.read_text()):
            found.add(
                match.group(1) if match.group(1) is not None else match.group(2).replace("\\'", "'")
            )
    return found


def test_every_string_has_a_chinese_translation() -> None:
    wanted = strings_in_code() | strings_in_templates()
    assert len(wanted) > 200
    assert sorted(s for s in wanted if s not in ZH) == []


def test_translations_keep_their_placeholders() -> None:
    for english, chinese in ZH.items():
        assert sorted(re.findall(r"%\(\w+\)s", english)) == sorted(
            re.findall(r"%\(\w+\)s", chinese)
        ), english


def test_values_shown_through_variables_are_translated() -> None:
    from broadcaster.models import AreaKind, PlayKind, Role, SpeakerKind
    from web.panel import TITLES
    from web.panel.schedules import WEEKDAYS
    from web.panel.urgent_views import STATE_LABELS

    dynamic = [
        *(r.value for r in Role),
        *(k.value for k in AreaKind),
        *(k.value for k in SpeakerKind),
        *(k.value for k in PlayKind),
        *WEEKDAYS,
        *TITLES.values(),
        *STATE_LABELS.values(),
        "live",
        "expired",
        "cancelled",
    ]
    assert [d for d in dynamic if d not in ZH] == []
