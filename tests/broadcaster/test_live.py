"""Live pages on the server (issue 12): one page per speaker, take-over, maximum length, and
frames that reach every speaker in order, starting near the newest audio."""

from __future__ import annotations

import threading

import pytest

from broadcaster.errors import Conflict
from broadcaster.live import FRAME_MS, Pages, SpeakerBusy

PCM = b"\x00\x01" * 441


def test_a_second_pager_is_told_who_is_talking():
    pages = Pages()
    pages.start("屯里村 王主任", ["s1", "s2"], 0)
    with pytest.raises(SpeakerBusy) as refused:
        pages.start("admin", ["s2", "s3"], 10)
    assert refused.value.by == "屯里村 王主任"
    assert refused.value.speaker_ids == ("s2",)
    assert isinstance(refused.value, Conflict)
    pages.start("other chief", ["s3"], 20)  # other speakers are free


def test_an_admin_takes_over_some_speakers_and_the_first_page_goes_on_elsewhere():
    pages = Pages()
    first = pages.start("chief", ["s1", "s2"], 0)
    second = pages.start("admin", ["s2"], 10, take_over=True)
    assert pages.holding("s2") is second
    assert pages.holding("s1") is first and first.ended is None
    frames, _, why = first.frames_after("s2", 0, wait_s=0.01)
    assert (frames, why) == ([], "taken over by admin")
    pages.start("admin", ["s1"], 20, take_over=True)
    assert first.ended == "taken over by admin"


def test_a_page_ends_at_its_maximum_length():
    pages = Pages(max_ms=60_000)
    page = pages.start("chief", ["s1"], 1_000)
    assert pages.expire(60_999) == []
    assert pages.expire(61_000) == [page]
    assert page.ended == "max-length"
    with pytest.raises(Conflict):
        page.add(PCM)
    assert pages.holding("s1") is None
    pages.start("chief", ["s1"], 61_500)


def test_every_speaker_gets_every_frame_in_order_then_the_end():
    pages = Pages()
    page = pages.start("chief", [f"s{n}" for n in range(5)], 0)
    got: dict[str, list[int]] = {}
    ends: dict[str, str | None] = {}

    def follow(speaker: str) -> None:
        seq, seen = 0, []
        while True:
            frames, seq, why = page.frames_after(speaker, seq, wait_s=2.0)
            seen += [f.seq for f in frames]
            if why is not None:
                ends[speaker] = why
                break
        got[speaker] = seen

    followers = [threading.Thread(target=follow, args=(f"s{n}",)) for n in range(5)]
    for thread in followers:
        thread.start()
    for _ in range(50):  # 1 s of audio: the ring (2 s) keeps it all
        page.add(PCM)
    page.end("released")
    for thread in followers:
        thread.join(timeout=10)
    assert got == {f"s{n}": list(range(50)) for n in range(5)}
    assert set(ends.values()) == {"released"}


def test_a_late_or_stalled_speaker_starts_near_the_newest_audio():
    pages = Pages(ring_ms=400)
    page = pages.start("chief", ["s1"], 0)
    for _ in range(100):
        page.add(PCM)
    # Joining now, 120 ms behind the newest frame.
    assert page.start_seq(120) == 100 - 120 // FRAME_MS
    # A speaker that asked for frame 3 long ago gets what the ring still holds: 400 ms.
    frames, after, why = page.frames_after("s1", 3, wait_s=0.0)
    assert [f.seq for f in frames] == list(range(80, 100))
    assert (after, why) == (100, None)


# -- each target's state as the pager is told it ----------------------------------------------


def test_each_target_goes_connecting_live_behind_live_and_its_outcome_is_kept():
    from broadcaster.live import BEHIND, CONNECTING, DROPPED, ENDED, LIVE

    pages = Pages(ring_ms=400)
    page = pages.start("chief", ["s1", "s2", "s3"], 0)
    version, states = page.states()
    assert {s: t.state for s, t in states.items()} == dict.fromkeys(("s1", "s2", "s3"), CONNECTING)
    page.stream_opened("s1")
    page.stream_opened("s2")
    assert page.wait_states(version, 0.0) > version
    assert page.states()[1]["s1"].state == LIVE

    for _ in range(30):  # 600 ms: the ring (400 ms) no longer holds frame 0
        page.add(PCM)
    frames, seq, _ = page.frames_after("s1", 0, wait_s=0.0)
    assert frames[0].seq == 10  # the oldest the ring holds
    assert page.states()[1]["s1"].state == BEHIND
    assert page.states()[1]["s1"].skipped == 10
    for _ in range(60):  # caught up: 1 s without a skip is `live` again
        page.add(PCM)
        _frames, seq, _ = page.frames_after("s1", seq, wait_s=0.0)
    assert page.states()[1]["s1"].state == LIVE

    page.stream_closed("s2", finished=False)  # its connection broke mid-page
    assert page.states()[1]["s2"].state == DROPPED
    page.end("released")
    final = page.states()[1]
    assert {s: t.state for s, t in final.items()} == dict.fromkeys(("s1", "s2", "s3"), ENDED)
    assert {s: t.outcome for s, t in final.items()} == {
        "s1": "heard", "s2": "dropped", "s3": "not-connected"}  # fmt: skip


def test_a_dropped_speaker_that_comes_back_is_live_again():
    from broadcaster.live import DROPPED, LIVE

    page = Pages().start("chief", ["s1"], 0)
    page.stream_opened("s1")
    page.stream_closed("s1", finished=False)
    assert page.states()[1]["s1"].state == DROPPED
    page.stream_opened("s1")
    assert page.states()[1]["s1"].state == LIVE
    assert page.states()[1]["s1"].streams == 2
    page.stream_closed("s1", finished=True)  # after the end flag: not a drop
    page.end("released")
    assert page.states()[1]["s1"].outcome == "heard"


def test_a_taken_over_speaker_keeps_who_took_it():
    pages = Pages()
    first = pages.start("chief", ["s1", "s2"], 0)
    first.stream_opened("s1")
    pages.start("admin", ["s1"], 10, take_over=True)
    first.end("released")
    outcomes = {s: t.outcome for s, t in first.states()[1].items()}
    assert outcomes == {"s1": "taken over by admin", "s2": "not-connected"}


def test_page_ids_do_not_repeat_across_registries():
    """A restarted server's pages never take the id of a kept one."""
    ids = {Pages().start("chief", ["s1"], 0).id for _ in range(50)}
    assert len(ids) == 50


# -- live.max_minutes ------------------------------------------------------------------------


def _config(tmp_path, live: str | None):  # type: ignore[no-untyped-def]
    from broadcaster.config import load_settings

    path = tmp_path / "config.yaml"
    text = "deployment: {name: 测试, timezone: Asia/Shanghai}\n"
    if live is not None:
        text += f"live: {live}\n"
    path.write_text(text, encoding="utf-8")
    return load_settings(path)


def test_the_maximum_length_is_configured_within_its_declared_bound(tmp_path):
    from broadcaster import limits
    from broadcaster.errors import ConfigError

    assert _config(tmp_path, None).live_max_minutes == limits.LIVE_MIN.default == 10
    for value, ok in ((0, False), (1, True), (60, True), (61, False)):
        if ok:
            assert _config(tmp_path, f"{{max_minutes: {value}}}").live_max_minutes == value
        else:
            with pytest.raises(ConfigError, match="max_minutes"):
                _config(tmp_path, f"{{max_minutes: {value}}}")
    with pytest.raises(ConfigError, match="max_mins"):
        _config(tmp_path, "{max_mins: 5}")


def test_the_server_ends_pages_at_the_configured_length(tmp_path):
    """`live.max_minutes` reaches the registry the server's pagers use."""
    from broadcaster.config import load_settings
    from web import live_api

    _config(tmp_path, "{max_minutes: 3}")
    settings = load_settings(tmp_path / "config.yaml")

    class App:
        def __init__(self) -> None:
            self.extensions: dict[str, object] = {}

        def register_blueprint(self, bp: object) -> None:
            pass

    class Runtime:
        def __init__(self) -> None:
            self.settings = settings
            self.service = _NoPages()

        def clock(self):  # type: ignore[no-untyped-def]
            from datetime import UTC, datetime

            return datetime.now(UTC)

    app = App()
    app.extensions["broadcaster"] = Runtime()
    live_api.register(app)  # type: ignore[arg-type]
    pages = app.extensions["live_pages"]
    assert isinstance(pages, Pages) and pages.max_ms == 3 * 60_000


class _NoPages:
    """A service whose store has no page left open."""

    class store:
        class live:
            @staticmethod
            def close_unfinished(now, reason):  # type: ignore[no-untyped-def]
                return ()


def test_reports_name_live_plays_and_their_cuts_in_chinese():
    """The play log's live entries (the clients', kind live) and the reasons a page ends
    early on a speaker are named in the reports and the history, in Chinese."""
    from broadcaster.models import PlayKind
    from web.panel.catalog_zh import ZH
    from web.panel.wording import KINDS, REASONS

    assert {k.value for k in PlayKind} <= set(KINDS)
    assert ZH[KINDS["live"]] == "现场喊话"
    for reason in ("cut:live", "cut:stream-lost", "cut:max-length", "cut:stop"):
        assert REASONS[reason] in ZH, reason
