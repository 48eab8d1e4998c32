"""Hypothesis over the inputs users and files give us: the config loader, the planner and the
text normalizer. Each either answers with a valid result or a clear domain error; never another
exception, never a hang (every example runs under a deadline).
"""

from __future__ import annotations

import copy
import time as clock
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audio.errors import InvalidInput
from audio.textnorm import normalize
from broadcaster.config import Settings, load_settings
from broadcaster.errors import ConfigError, NotFound, ValidationError
from broadcaster.models import (
    Area,
    AreaKind,
    ClipRef,
    Program,
    Schedule,
    Speaker,
    SpeakerKind,
    Urgent,
)
from broadcaster.planning import plan
from tests.conftest import SAMPLE_CONFIG

SAMPLE_TEXT = SAMPLE_CONFIG.read_text(encoding="utf-8")
SAMPLE = yaml.safe_load(SAMPLE_TEXT)
FUZZ = settings(
    max_examples=60,
    deadline=timedelta(seconds=3),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)

# -- the config loader --------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["07:00", "25:61", "2025-02-30", "Asia/Shanghai", "Mars/Olympus", "", "~"]),
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


def _load(tmp: Path, text: str) -> Settings | None:
    path = tmp / "config.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        return load_settings(path)
    except ConfigError as exc:
        assert str(path) in str(exc), f"the error does not name the file: {exc}"
        return None


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, i))
    return found


SAMPLE_PATHS = _paths(SAMPLE)


@st.composite
def mutated_samples(draw: st.DrawFn) -> Any:
    """The sample config with one to three values replaced, removed or given a new key."""
    doc = copy.deepcopy(SAMPLE)
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(SAMPLE_PATHS[1:]))
        parent: Any = doc
        try:
            for key in where[:-1]:
                parent = parent[key]
            last = where[-1]
            action = draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "replace":
                parent[last] = draw(documents)
            elif action == "delete":
                del parent[last]
            elif isinstance(parent, dict):
                parent[draw(st.text(max_size=8))] = draw(documents)
        except (KeyError, IndexError, TypeError):
            pass  # an earlier mutation removed or replaced this path
    return doc


@FUZZ
@given(doc=documents)
def test_any_yaml_document_is_a_settings_or_a_config_error(tmp_path: Path, doc: Any) -> None:
    _load(tmp_path, yaml.safe_dump(doc, allow_unicode=True))


@FUZZ
@given(doc=mutated_samples())
def test_a_mutated_sample_config_is_a_settings_or_a_config_error(tmp_path: Path, doc: Any) -> None:
    _load(tmp_path, yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))


@FUZZ
@given(
    cut=st.integers(0, len(SAMPLE_TEXT)),
    junk=st.text(alphabet=st.sampled_from(list(":-[]{}&*!|>'\"%@`#, \n\t?")), max_size=8),
)
def test_a_damaged_sample_config_text_is_a_settings_or_a_config_error(
    tmp_path: Path, cut: int, junk: str
) -> None:
    _load(tmp_path, SAMPLE_TEXT[:cut] + junk + SAMPLE_TEXT[cut:])


def test_undecodable_bytes_are_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"deployment:\n  name: \xff\xfe\n")
    with pytest.raises(ConfigError, match=r"config\.yaml"):
        load_settings(path)


def test_an_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    """Nested YAML aliases (billion laughs) must not expand into memory or time."""
    rows = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    rows += [f"a{i}: &a{i} [{','.join(f'*a{i - 1}' for _ in range(9))}]" for i in range(1, 9)]
    text = "\n".join(rows) + "\nlexicon: *a8\n"
    started = clock.monotonic()
    _load(tmp_path, text)
    assert clock.monotonic() - started < 3


# -- the planner --------------------------------------------------------------------------

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
AREAS = {
    "district": Area("district", "District", AreaKind.DISTRICT),
    "village": Area("village", "Village", AreaKind.VILLAGE, "district"),
}
SPEAKER = Speaker("spk", "Speaker", SpeakerKind.FIXED, "village")
IDS = st.sampled_from(["m0", "m1", "m2", "missing", "p0", "p1", "spk", "village", "district"])


def _built(factory: Any, *args: Any, **kwargs: Any) -> Any:
    """A model, or None when the model itself refuses the values (a ValidationError)."""
    try:
        return factory(*args, **kwargs)
    except ValidationError:
        return None


@st.composite
def planner_inputs(draw: st.DrawFn) -> dict[str, Any]:
    clips = {
        m: _built(ClipRef, f"h{m}", draw(st.integers(-1000, 4 * 3600 * 1000)))
        for m in draw(st.lists(st.sampled_from(["m0", "m1", "m2"]), unique=True))
    }
    programs = {
        p: _built(
            Program,
            p,
            p,
            tuple(draw(st.lists(IDS, max_size=4))),
            draw(st.floats(-10, 7200, allow_nan=False)),
        )
        for p in draw(st.lists(st.sampled_from(["p0", "p1", "missing"]), unique=True))
    }
    times = st.times().map(lambda t: t.replace(microsecond=0))
    day = st.dates(date(2026, 3, 25), date(2026, 4, 3))
    schedules = [
        _built(
            Schedule,
            f"s{i}",
            draw(IDS),
            tuple(draw(st.lists(st.sampled_from(["spk", "other"]), max_size=2))),
            tuple(draw(st.lists(st.sampled_from(["village", "district", "nowhere"]), max_size=2))),
            frozenset(draw(st.lists(st.integers(-1, 7), max_size=7))),
            draw(times),
            draw(times),
            draw(st.none() | day),
            draw(st.none() | day),
            frozenset(draw(st.lists(day, max_size=3))),
            draw(st.integers(-5, 5)),
            draw(st.booleans()),
        )
        for i in range(draw(st.integers(0, 3)))
    ]
    moments = st.integers(-48 * 60, 48 * 60).map(lambda m: NOW + timedelta(minutes=m))
    urgents = []
    for i in range(draw(st.integers(0, 2))):
        created = draw(moments)
        urgent = _built(
            Urgent,
            f"u{i}",
            created,
            draw(moments),
            draw(moments),
            text="x",
            speaker_ids=tuple(draw(st.lists(st.sampled_from(["spk", "other"]), max_size=2))),
            area_ids=tuple(draw(st.lists(st.sampled_from(["village", "nowhere"]), max_size=1))),
            repeats=draw(st.integers(-1, 30)),
            interval_s=draw(st.floats(-5, 3600, allow_nan=False)),
            override_window=draw(st.booleans()),
            cancelled_at=draw(st.none() | moments),
        )
        clip = _built(ClipRef, f"u{i}", draw(st.integers(0, 600_000)))
        if urgent is not None and clip is not None:
            urgents.append((urgent, clip))
    start = draw(moments)
    return {
        "schedules": [s for s in schedules if s is not None],
        "programs": {k: v for k, v in programs.items() if v is not None},
        "clips": {k: v for k, v in clips.items() if v is not None},
        "urgents": urgents,
        "start": start,
        "end": start + timedelta(minutes=draw(st.integers(-60, 36 * 60))),
        "selftest": draw(st.none() | st.just(ClipRef("selftest", 2000))),
    }


@settings(
    max_examples=150,
    deadline=timedelta(seconds=5),
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(inputs=planner_inputs())
def test_the_planner_answers_a_timeline_or_a_domain_error(inputs: dict[str, Any]) -> None:
    try:
        items = plan(SPEAKER, areas=AREAS, zone=ZONE, now=NOW, **inputs)
    except (ValidationError, NotFound):
        return
    for item in items:
        assert item.start < item.end
        assert inputs["start"] <= item.start and item.end <= max(inputs["end"], inputs["start"])
    for a, b in pairwise(items):
        assert a.end <= b.start, f"clips overlap: {a} {b}"


# -- the text normalizer ------------------------------------------------------------------

NASTY = st.lists(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(
            [
                "\u0301",  # combining acute
                "\u202e",  # right-to-left override
                "\u200b",  # zero width space
                "\ufeff",  # byte order mark
                "\u3000",  # ideographic space
                "０１２３",  # full-width digits
                "①",
                "〇",
                "%",
                "℃",
                "\U0001f4e2",  # loudspeaker emoji
                "\x00",
                "<b",
                "&#",
                "&amp;",
                "(",
                "（",
            ]
        ),
    ),
    max_size=200,
).map("".join)


@settings(max_examples=200, deadline=timedelta(seconds=2), database=None)
@given(text=NASTY, lexicon=st.dictionaries(NASTY.filter(bool), NASTY, max_size=4))
def test_nasty_unicode_and_lexicons_normalize_or_are_refused(
    text: str, lexicon: dict[str, str]
) -> None:
    try:
        spoken = normalize(text, lexicon)
    except InvalidInput:
        return
    assert isinstance(spoken, str)


@settings(max_examples=10, deadline=timedelta(seconds=2), database=None)
@given(mark=st.sampled_from(["\u0301", "\u200b", "\u202e", "０", "①"]))
def test_long_runs_of_odd_characters_stay_fast(mark: str) -> None:
    assert isinstance(normalize(("通知" + mark * 50) * 400), str)
