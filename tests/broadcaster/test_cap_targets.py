"""CAP mapping, pure parts (issue 15): targets by geocode and by geometry against our areas'
polygons and loudspeakers' locations, the info blocks acted on, the spoken text and its
bound, the `cap:` settings, and our export's headline and circles."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from broadcaster.cap.document import Area as CapArea
from broadcaster.cap.document import Circle, Info, parse
from broadcaster.cap.export import OutAlert, OutArea, headline, to_xml
from broadcaster.cap.ingest import bounded_text, chosen_infos
from broadcaster.cap.policy import Action, spoken_text
from broadcaster.cap.settings import load
from broadcaster.cap.targets import from_geocodes, from_geometry, targets_of
from broadcaster.errors import ConfigError
from broadcaster.models import Area, AreaKind, Speaker, SpeakerKind
from broadcaster.yamlload import Node
from tests.broadcaster.test_cap import SENT, alert, info

# 乙村: a square of about 1.1 km x 0.9 km; 甲村 has no outline (its parent 测试区 has one).
VILLAGE_B = ((36.10, 111.50), (36.11, 111.50), (36.11, 111.51), (36.10, 111.51))
DISTRICT = ((36.0, 111.3), (36.3, 111.3), (36.3, 111.7), (36.0, 111.7))
FIXED_A = (36.20, 111.40)  # a fixed loudspeaker in 甲村, placed


def deployment() -> Any:
    areas = [
        Area("district", "测试区", AreaKind.DISTRICT, polygon=DISTRICT),
        Area("village-a", "甲村", AreaKind.VILLAGE, parent_id="district"),
        Area("village-b", "乙村", AreaKind.VILLAGE, parent_id="district", polygon=VILLAGE_B),
    ]
    speakers = [
        Speaker("a-fixed", "甲村喇叭", SpeakerKind.FIXED, "village-a", location=FIXED_A),
        Speaker("a-car", "甲村宣传车", SpeakerKind.VEHICLE, "village-a"),
        Speaker("b-fixed", "乙村喇叭", SpeakerKind.FIXED, "village-b"),
    ]
    return SimpleNamespace(areas=areas, speakers=speakers)


def ring(*points: tuple[float, float]) -> tuple[tuple[float, float], ...]:
    return (*points, points[0])


def test_a_circle_takes_the_placed_loudspeakers_within_its_radius() -> None:
    north = 0.018  # degrees of latitude: 2.0 km
    near = CapArea("x", circles=(Circle(FIXED_A[0] + north, FIXED_A[1], 2.2),))
    short = CapArea("x", circles=(Circle(FIXED_A[0] + north, FIXED_A[1], 1.8),))
    assert from_geometry([near], deployment()) == ("a-fixed",)
    assert from_geometry([short], deployment()) == ()


def test_a_polygon_takes_what_lies_in_it_and_unplaced_speakers_by_their_areas_outline() -> None:
    over_b = CapArea("乙村一带", polygons=(ring((36.105, 111.505), (36.12, 111.505),
                                                   (36.12, 111.52), (36.105, 111.52)),))  # fmt: skip
    assert from_geometry([over_b], deployment()) == ("b-fixed",)  # 乙村's outline meets it
    far = CapArea("外省", polygons=(ring((30.0, 110.0), (30.1, 110.0), (30.1, 110.1)),))
    assert from_geometry([far], deployment()) == ()
    whole = CapArea("全区", polygons=(ring(*DISTRICT),))
    # 甲村 has no outline: its vehicle is not placed by the district's (geocodes reach it)
    assert from_geometry([whole], deployment()) == ("a-fixed", "b-fixed")
    both = CapArea("两处", circles=(Circle(*FIXED_A, 0.1), Circle(36.105, 111.505, 0.1)))
    assert from_geometry([both], deployment()) == ("a-fixed", "b-fixed")


def test_geocodes_map_through_the_table_full_key_first_unknown_areas_dropped() -> None:
    table = {"GB/T 2260:141002001": ("village-a",), "141002002": ("village-b", "gone")}
    areas = [CapArea("x", geocodes=(("GB/T 2260", "141002001"), ("other", "141002002"),
                                     ("GB/T 2260", "999")))]  # fmt: skip
    assert from_geocodes(areas, table, ["village-a", "village-b"]) == ("village-a", "village-b")
    only = Info("zh-CN", ("Met",), "暴雨", "Immediate", "Extreme", "Observed", areas=tuple(areas))
    found = targets_of(only, table, deployment())
    assert found.area_ids == ("village-a", "village-b") and found.speaker_ids == ()


def test_the_infos_acted_on_are_every_one_in_the_chosen_language() -> None:
    parsed = parse(alert(info("en-US", "Rain"), info("zh-CN", "暴雨"), info("zh-CN", "大风"),
                         info("en-US", "Wind")))  # fmt: skip
    assert [(n, i.headline) for n, i in chosen_infos(parsed, "zh-CN")] == [(1, "暴雨"), (2, "大风")]
    assert [n for n, _ in chosen_infos(parsed, "zh-TW")] == [1, 2]  # same primary language
    assert [n for n, _ in chosen_infos(parsed, "fr-FR")] == [0, 3]  # the first one's language
    assert chosen_infos(parse(alert()), "zh-CN") == []


def _info(headline_: str, description: str, instruction: str = "") -> Info:
    return Info("zh-CN", ("Met",), "暴雨", "Immediate", "Extreme", "Observed",
                headline=headline_, description=description, instruction=instruction)  # fmt: skip


def test_a_headline_the_description_contains_is_said_once() -> None:
    assert spoken_text(_info("今晚暴雨", "今晚暴雨，请转移。")) == "今晚暴雨，请转移。"
    assert spoken_text(_info("暴雨预警", "请转移", "请转移")) == "暴雨预警。请转移。"


def test_a_long_text_is_cut_at_the_last_whole_sentence() -> None:
    long = _info("暴雨预警。", "第一句话很长很长。" * 30, "最后一句。")
    text = bounded_text(long, 100)
    assert len(text) <= 100 and text.endswith("。") and text.startswith("暴雨预警。第一句")
    assert bounded_text(_info("通知", "短文。"), 100) == "通知。短文。"


def test_our_headline_is_the_text_or_its_first_sentence_and_circles_go_out() -> None:
    assert headline("短通知。") == "短通知。"
    long = "第一句。" + "后面很长。" * 60
    assert headline(long) == "第一句。"
    out = OutAlert("u-1", "us@example.cn", SENT, long,
                   [OutArea("喇叭1", circles=((FIXED_A, 0.05),))])  # fmt: skip
    back = parse(to_xml(out)).infos[0]
    assert spoken_text(back) == long  # the headline is not said twice on re-import
    assert back.areas[0].circles == (Circle(FIXED_A[0], FIXED_A[1], 0.05),)


def _settings(text: str, where: Path = Path("config.yaml")) -> Any:
    import yaml

    return load(Node(yaml.safe_load(text), where, "cap"))


def test_cap_settings_read_sources_rules_geocodes_and_feeds() -> None:
    digest = hashlib.sha256(b"the-key").hexdigest()
    settings = _settings(f"""
sources: [{{id: met, key_sha256: {digest}, senders: [met@example.cn]}}]
geocodes: {{"GB/T 2260:141002001": [village-a], "141002002": village-b}}
rules:
  - {{source: met, event: [暴雨], action: broadcast}}
  - {{action: hold}}
feeds: [{{id: f, url: "https://example.cn/cap.xml", every_s: 30}}]
""")  # fmt: skip
    assert settings.source_for_key("the-key").id == "met"
    assert settings.source_for_key("another") is None
    assert settings.geocodes == {"GB/T 2260:141002001": ("village-a",),
                                 "141002002": ("village-b",)}  # fmt: skip
    assert [(r.action, r.source, r.event) for r in settings.rules] == [
        (Action.BROADCAST, ("met",), ("暴雨",)), (Action.HOLD, (), ())]  # fmt: skip
    assert settings.feeds[0].every_s == 30 and settings.language == "zh-CN"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("sources: [{id: met, key_sha256: abc}]", "64 hexadecimal digits"),
        ("rules: [{action: shout}]", "one of broadcast"),
        ("rules: [{severity: [Extreme], colour: red, action: hold}]", "unknown key"),
        ("feeds: [{id: f, url: 'ftp://x'}]", "http"),
        ("tones: 1", "unknown key"),
        (
            f"sources: [{{id: s, key_sha256: {'a' * 64}, certificates: [nowhere.pem]}}]",
            "readable PEM certificate",
        ),
        (
            f"sources: [{{id: s, key_sha256: {'a' * 64}, certificates: [config.yaml]}}]",
            "BEGIN CERTIFICATE",
        ),
    ],
)
def test_cap_settings_refuse_what_is_wrong_naming_it(text: str, says: str, tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("cap: {}\n")
    with pytest.raises(ConfigError, match=says):
        _settings(text, tmp_path / "config.yaml")


def test_certificates_are_read_beside_the_configuration(tmp_path: Path) -> None:
    from tests.broadcaster.test_cap_signature import key_and_cert

    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "met.pem").write_text(key_and_cert("met")[1])
    settings = _settings(f"sources: [{{id: met, key_sha256: {'b' * 64}, "
                         f"certificates: [certs/met.pem]}}]", tmp_path / "config.yaml")  # fmt: skip
    (source,) = settings.sources
    assert source.certificates[0].startswith("-----BEGIN CERTIFICATE-----")
