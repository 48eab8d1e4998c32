"""CAP 1.2 in and out (issue 15): documents the tests write themselves, hostile XML refused
before anything expands, the default policy, and a round trip through our export."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from broadcaster.cap.document import MAX_BYTES, CapRefused, parse
from broadcaster.cap.export import OutAlert, OutArea, to_xml
from broadcaster.cap.policy import Action, Rule, choose_info, decide, spoken_text

CST = timezone(timedelta(hours=8))
TUNLI = ((36.2, 111.7), (36.2, 111.71), (36.21, 111.71), (36.2, 111.7))
SENT = datetime(2026, 12, 1, 1, 0, tzinfo=CST)


def info(language: str, headline: str, *, severity: str = "Extreme", urgency: str = "Immediate",
         areas: str = "") -> str:  # fmt: skip
    return f"""
  <info>
    <language>{language}</language>
    <category>Met</category>
    <event>暴雨</event>
    <urgency>{urgency}</urgency>
    <severity>{severity}</severity>
    <certainty>Observed</certainty>
    <expires>2026-12-01T07:00:00+08:00</expires>
    <senderName>洪洞县气象台</senderName>
    <headline>{headline}</headline>
    <description>未来三小时降雨量将达100毫米以上</description>
    <instruction>请沿河群众立即转移到高处</instruction>
    {areas}
  </info>"""


AREAS = """
    <area>
      <areaDesc>屯里村及沿河地区</areaDesc>
      <polygon>36.20,111.70 36.20,111.71 36.21,111.71 36.21,111.70 36.20,111.70</polygon>
      <circle>36.25,111.75 2.5</circle>
      <geocode><valueName>GB/T 2260</valueName><value>141024</value></geocode>
    </area>"""


def alert(*infos: str, msg_type: str = "Alert", status: str = "Actual", references: str = "",
          identifier: str = "CN-HD-2026-0001", extra: str = "") -> bytes:  # fmt: skip
    refs = f"<references>{references}</references>" if references else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier>
  <sender>hongtong-met@example.cn</sender>
  <sent>2026-12-01T01:00:00+08:00</sent>
  <status>{status}</status>
  <msgType>{msg_type}</msgType>
  <scope>Public</scope>
  {refs}{"".join(infos)}{extra}
</alert>""".encode()


def test_an_alert_in_two_languages_reads_in_chinese_with_its_areas():
    parsed = parse(alert(info("en-US", "Rainstorm warning", areas=AREAS),
                         info("zh-CN", "暴雨红色预警", areas=AREAS)))  # fmt: skip
    assert (parsed.identifier, parsed.msg_type, parsed.sent) == ("CN-HD-2026-0001", "Alert", SENT)
    chosen = choose_info(parsed, "zh-CN")
    assert chosen is not None and chosen.headline == "暴雨红色预警"
    assert chosen.expires == datetime(2026, 12, 1, 7, 0, tzinfo=CST)
    (area,) = chosen.areas
    assert area.polygons[0][0] == (36.20, 111.70) and len(area.polygons[0]) == 5
    assert (area.circles[0].lat, area.circles[0].radius_km) == (36.25, 2.5)
    assert area.geocodes == (("GB/T 2260", "141024"),)
    assert (
        spoken_text(chosen)
        == "暴雨红色预警。未来三小时降雨量将达100毫米以上。请沿河群众立即转移到高处。"
    )
    assert choose_info(parsed, "zh-TW") is chosen  # same primary language
    assert choose_info(parsed, "fr-FR") == parsed.infos[0]


def test_update_and_cancel_name_what_they_change():
    parsed = parse(alert(info("zh-CN", "解除"), msg_type="Cancel",
                         references="hongtong-met@example.cn,CN-HD-2026-0001,2026-12-01T01:00:00+08:00",
                         identifier="CN-HD-2026-0002"))  # fmt: skip
    (ref,) = parsed.references
    assert (ref.sender, ref.identifier, ref.sent) == (
        "hongtong-met@example.cn",
        "CN-HD-2026-0001",
        SENT,
    )


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&x;</identifier></alert>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol9;</identifier></alert>"""


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        pytest.param(XXE, "DTDs and entities are not allowed", id="external-entity"),
        pytest.param(LAUGHS, "DTDs and entities are not allowed", id="billion-laughs"),
        pytest.param(b"<alert>" + b" " * MAX_BYTES + b"</alert>", "at most", id="huge"),
        pytest.param(b"<alert><unclosed></alert>", "not well-formed", id="broken"),
        pytest.param(alert(info("zh-CN", "x")).replace(b"cap:1.2", b"cap:1.1"), "expected alert in", id="cap-1.1"),
        pytest.param(alert(info("zh-CN", "x", severity="Huge")), "invalid against CAP 1.2", id="severity"),
        pytest.param(alert(info("zh-CN", "x")).replace(b"<scope>Public</scope>", b""), "invalid against CAP 1.2", id="no-scope"),
        pytest.param(alert(info("zh-CN", "x")).replace(b"+08:00</sent>", b"Z</sent>"), "invalid against CAP 1.2", id="utc-z"),
        pytest.param(alert(info("zh-CN", "x", areas="<area><areaDesc>a</areaDesc><polygon>36.2,111.7 36.2,111.8 36.3,111.8</polygon></area>")), "first repeated last", id="open-polygon"),
        pytest.param(alert(info("zh-CN", "x", areas="<area><areaDesc>a</areaDesc><circle>96,111 1</circle></area>")), "out of range", id="circle-range"),
        pytest.param(alert(info("zh-CN", "x"), references="only-two,parts"), "sender,identifier,sent", id="references"),
    ],
)  # fmt: skip
def test_hostile_and_invalid_documents_are_refused_naming_the_problem(document, problem):
    started = time.monotonic()
    with pytest.raises(CapRefused, match=problem):
        parse(document)
    assert time.monotonic() - started < 2.0


def test_the_default_policy():
    extreme = parse(alert(info("zh-CN", "x")))
    severe = parse(alert(info("zh-CN", "x", severity="Severe")))
    drill = parse(alert(info("zh-CN", "x"), status="Exercise"))
    (i_extreme,), (i_severe,), (i_drill,) = extreme.infos, severe.infos, drill.infos
    assert decide(extreme, i_extreme, "feed") is Action.BROADCAST_OVERRIDE
    assert decide(severe, i_severe, "feed") is Action.HOLD
    assert decide(drill, i_drill, "feed") is Action.IGNORE
    rules = [Rule(Action.BROADCAST, source=("county",), severity=("Severe", "Extreme"))]
    assert decide(severe, i_severe, "county", rules) is Action.BROADCAST
    assert decide(severe, i_severe, "other", rules) is Action.HOLD  # no rule matched


def test_our_export_is_valid_cap_and_reads_back_the_same():
    expires = datetime(2026, 12, 1, 3, 30, tzinfo=UTC)
    out = OutAlert(
        identifier="hongtong:u-20261201-0007",
        sender="broadcaster@hongtong",
        sent=datetime(2026, 12, 1, 1, 5, 30, 123456, tzinfo=CST),
        text="各位村民请注意，今晚有暴雨，请沿河群众立即转移。",
        areas=[OutArea("屯里村", (TUNLI,), (("broadcaster-area", "tunli-village"),))],
        expires=expires,
        msg_type="Update",
        references=[("broadcaster@hongtong", "hongtong:u-20261201-0006", SENT)],
        sender_name="洪洞县",
    )
    back = parse(to_xml(out))
    assert back.identifier == "hongtong:u-20261201-0007"
    assert back.msg_type == "Update" and back.references[0].identifier == "hongtong:u-20261201-0006"
    (i,) = back.infos
    assert i.description == out.text and i.expires == expires
    assert i.areas[0].desc == "屯里村" and i.areas[0].polygons[0][1] == (36.2, 111.71)
    assert i.areas[0].geocodes == (("broadcaster-area", "tunli-village"),)
