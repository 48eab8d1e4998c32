"""CAP 1.2 in and out on a real `broadcaster serve` with real clients (issue 15).

The tests write their own CAP documents. An Extreme+Immediate alert by geocode is heard at
once (outside the windows) on its targets' file sinks and nowhere else; a repeat is ignored;
an Update replaces the urgent, a Cancel stops it; a Severe one is held; hostile XML is
refused with nothing stored and the server unaffected; our export is valid CAP, and
re-imported into a second server gives the same text, areas and expiry.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import pytest
import requests

from broadcaster.cap.document import parse
from broadcaster.store import Store, sqlite_url
from tests.broadcaster.test_cap_signature import key_and_cert, sign
from tests.integration.harness import (
    Client,
    Server,
    aware_now,
    deployment_yaml,
    long_polls,
    seconds,
    starts,
    wait_for,
)

# Minutes of real servers, clients and a browser: in `make test-slow`, to keep `make test`
# under its ten minutes.
pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEY = "test-met-key-0123456789"
SIGNED_KEY = "signed-met-key-9876543210"
SENDER = "met@example.cn"
CODE = "141002001"  # village-a in the geocode table


def cap_section(key: str = KEY, certificate: Path | None = None) -> str:
    """Our cap: section; with `certificate`, a second source (SIGNED_KEY) whose alerts must be
    signed by it."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    signed = hashlib.sha256(SIGNED_KEY.encode()).hexdigest()
    return "\n".join([
        "cap:",
        "  sender: test-broadcast@example.cn",
        "  sources:",
        f"    - {{id: test-met, key_sha256: {digest}, senders: [{SENDER}]}}",
        *([f"    - {{id: signed-met, key_sha256: {signed}, certificates: [{certificate}]}}"]
          if certificate else []),
        "  geocodes:",
        f'    "GB/T 2260:{CODE}": [village-a]',
        '    "GB/T 2260:141002002": [village-b]',
    ]) + "\n"  # fmt: skip


# Shapes (issue 13): 喇叭1 (甲村) stands at SPK1; 乙村 has an outline; 喇叭3 has neither.
SPK1 = (36.2000, 111.4000)
VILLAGE_B = "[[36.10, 111.50], [36.11, 111.50], [36.11, 111.51], [36.10, 111.51]]"


def shapes(config: str) -> str:
    """The harness's deployment with a location for spk-1 and an outline for village-b."""
    placed = config.replace(
        "{id: spk-1, name: 喇叭1, kind: fixed, area: village-a}",
        f"{{id: spk-1, name: 喇叭1, kind: fixed, area: village-a, "
        f"location: {{lat: {SPK1[0]}, lon: {SPK1[1]}}}}}",
    ).replace(
        "{id: village-b, name: 乙村, kind: village}",
        f"{{id: village-b, name: 乙村, kind: village, polygon: {VILLAGE_B}}}",
    )
    assert placed.count("location") == 1 and placed.count("polygon") == 1
    return placed


def shaped(headline: str, area: str, severity: str = "Extreme") -> str:
    """An info block whose area is a polygon or circle, no geocode."""
    until = (aware_now() + timedelta(minutes=30)).replace(microsecond=0).isoformat()
    return f"""
  <info>
    <language>zh-CN</language><category>Geo</category><event>山洪</event>
    <urgency>Immediate</urgency><severity>{severity}</severity><certainty>Observed</certainty>
    <expires>{until}</expires><headline>{headline}</headline>
    <area><areaDesc>沿河地区</areaDesc>{area}</area>
  </info>"""


def info(headline: str, *, language: str = "zh-CN", severity: str = "Extreme",
         urgency: str = "Immediate", code: str = CODE, expires: datetime | None = None,
         description: str = "请沿河群众立即转移到高处。") -> str:  # fmt: skip
    until = expires or aware_now() + timedelta(minutes=30)
    return f"""
  <info>
    <language>{language}</language>
    <category>Met</category>
    <event>暴雨</event>
    <urgency>{urgency}</urgency>
    <severity>{severity}</severity>
    <certainty>Observed</certainty>
    <expires>{until.replace(microsecond=0).isoformat()}</expires>
    <headline>{headline}</headline>
    <description>{description}</description>
    <area><areaDesc>测试村</areaDesc>
      <geocode><valueName>GB/T 2260</valueName><value>{code}</value></geocode></area>
  </info>"""


def alert(identifier: str, *infos: str, msg_type: str = "Alert", references: str = "") -> bytes:
    refs = f"<references>{references}</references>" if references else ""
    sent = aware_now().replace(microsecond=0).isoformat()
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier>
  <sender>{SENDER}</sender>
  <sent>{sent}</sent>
  <status>Actual</status>
  <msgType>{msg_type}</msgType>
  <scope>Public</scope>{refs}{"".join(infos)}
</alert>""".encode()


def ref(identifier: str) -> str:
    return f"{SENDER},{identifier},{aware_now().replace(microsecond=0).isoformat()}"


def post(server: Server, body: bytes, key: str = KEY) -> requests.Response:
    return requests.post(
        f"{server.url}/api/v1/cap", data=body, timeout=30,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/cap+xml"},
    )  # fmt: skip


def _stack(root: Path, speakers: list[str], *, extra: str = "",
           certificate: Path | None = None) -> tuple[Server, list[Client]]:  # fmt: skip
    """A server whose only window starts in two hours (so only an override is heard now)."""
    root.mkdir(parents=True, exist_ok=True)
    start = aware_now() + seconds(7200)
    config = root / "config.yaml"
    base = deployment_yaml(window_start=start, window_end=start + seconds(1800), speakers=3)
    config.write_text(shapes(base) + cap_section(certificate=certificate) + extra)
    server = Server(root, config)
    server.start()
    running = [Client(s, root, server.url, server.device_token(s)) for s in speakers]
    for client in running:
        client.start()
    return server, running


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, list[Client]]]:
    root = tmp_path_factory.mktemp("cap")
    certificate = root / "signed-met.pem"
    certificate.write_text(SIGNER[1])
    server, running = _stack(root, ["spk-1", "spk-2", "spk-3"], certificate=certificate)
    admin = _admin(server)

    def online() -> bool:
        rows = requests.get(f"{server.url}/api/v1/speakers", headers=admin, timeout=10).json()
        return all(r["online"] for r in rows["data"])

    assert wait_for(online, 40)
    time.sleep(1.0)  # let the long polls settle
    assert wait_for(lambda: long_polls(server) >= len(running), 15), long_polls(server)
    yield server, running
    for client in running:
        client.stop()
    server.stop()


def _store(server: Server) -> Store:
    """The server's own database, read beside it (SQLite in WAL mode)."""
    return Store.open(sqlite_url(server.data), upgrade=False)


_TOKENS: dict[tuple[str, str], str] = {}


def _token(server: Server, user: str) -> str:
    """A user token, issued once per server (the CLI takes seconds under load)."""
    key = (server.url, user)
    if key not in _TOKENS:
        _TOKENS[key] = server.user_token(user)
    return _TOKENS[key]


def _admin(server: Server) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(server, 'admin')}"}


def _urgent(server: Server, urgent_id: str) -> dict:  # type: ignore[type-arg]
    got = requests.get(f"{server.url}/api/v1/urgent/{urgent_id}", headers=_admin(server),
                       timeout=10)  # fmt: skip
    assert got.status_code == 200, got.text
    return got.json()["data"]  # type: ignore[no-any-return]


def _urgent_ids(server: Server) -> list[str]:
    got = requests.get(f"{server.url}/api/v1/urgent", headers=_admin(server), timeout=10)
    return [u["id"] for u in got.json()["data"]]


def test_extreme_immediate_is_heard_at_once_then_updated_and_cancelled(stack) -> None:  # type: ignore[no-untyped-def]
    server, running = stack
    spk1, spk2, spk3 = running
    body = alert("T-1", info("Heavy rain", language="en-US"), info("暴雨红色预警"))
    received = time.time()
    answer = post(server, body)
    assert answer.status_code == 201, answer.text
    (made,) = answer.json()["urgents"]
    assert answer.json()["held"] == []
    for client in (spk1, spk3):  # village-a, outside the windows: the override plays it now
        assert wait_for(lambda c=client: starts(c, "urgent"), 15), client.log_text()[-2000:]
        assert starts(client, "urgent")[0]["t"] - received < 5
    urgent = _urgent(server, made)
    assert urgent["text"] == "暴雨红色预警。请沿河群众立即转移到高处。"  # the zh-CN info
    assert urgent["areas"] == ["village-a"] and urgent["override_window"] is True
    assert not starts(spk2, "urgent")  # village-b: not a target

    again = post(server, body)  # the same identifier: nothing new
    assert again.status_code == 200 and again.json()["repeated"] is True, again.text
    assert again.json()["urgents"] == [] and _urgent_ids(server).count(made) == 1

    update = post(server, alert("T-2", info("暴雨红色预警更新", description="水位继续上涨。"),
                                msg_type="Update", references=ref("T-1")))  # fmt: skip
    assert update.status_code == 201, update.text
    replaced, superseded = update.json()["urgents"]  # made, and cancelled
    assert superseded == made
    assert _urgent(server, made)["state"] == "cancelled"
    assert _urgent(server, replaced)["text"] == "暴雨红色预警更新。水位继续上涨。"

    other = alert("X-1", msg_type="Cancel", references=ref("T-2")).replace(
        f"<sender>{SENDER}<".encode(), b"<sender>other@example.cn<")  # fmt: skip
    foreign = post(server, other, key=_token(server, "admin"))  # another sender's Cancel
    assert foreign.status_code == 200 and foreign.json()["urgents"] == [], foreign.text
    assert _urgent(server, replaced)["state"] == "live"
    cancel = post(server, alert("T-3", msg_type="Cancel", references=ref("T-2")))
    assert cancel.status_code == 201, cancel.text
    assert cancel.json()["urgents"] == [replaced]
    assert _urgent(server, replaced)["state"] == "cancelled"


def test_the_same_alert_delivered_four_times_at_once_makes_one_urgent(stack) -> None:  # type: ignore[no-untyped-def]
    server, _running = stack
    body = alert("D-1", info("同时到达的预警"))
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: post(server, body), range(4)))
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201], [a.text for a in answers]
    made = [u for a in answers for u in a.json()["urgents"]]
    assert len(made) == 1
    assert sum(a.json()["repeated"] for a in answers) == 3
    texts = [_urgent(server, u)["text"] for u in _urgent_ids(server)]
    assert texts.count("同时到达的预警。请沿河群众立即转移到高处。") == 1


def test_severe_is_held_and_other_parts_ignored(stack) -> None:  # type: ignore[no-untyped-def]
    server, _running = stack
    before = _urgent_ids(server)
    answer = post(server, alert(
        "H-1",
        info("暴雨橙色预警", severity="Severe", urgency="Expected"),
        info("大风蓝色预警", severity="Moderate", urgency="Expected", code="999999"),
    ))  # fmt: skip
    assert answer.status_code == 201, answer.text
    assert len(answer.json()["held"]) == 1 and answer.json()["urgents"] == []
    assert answer.json()["ignored"] == [
        {"part": 1, "reason": "covers none of our areas or loudspeakers"}]  # fmt: skip
    assert _urgent_ids(server) == before


def test_several_infos_are_several_urgents_and_an_update_supersedes_a_held_alert(stack) -> None:  # type: ignore[no-untyped-def]
    server, _running = stack
    both = post(server, alert(
        "M-1",
        info("Flood", language="en-US"),
        info("甲村山洪预警"),
        info("乙村山洪预警", code="141002002"),
    ))  # fmt: skip
    assert both.status_code == 201, both.text
    made = both.json()["urgents"]
    assert [_urgent(server, u)["areas"] for u in made] == [["village-a"], ["village-b"]]
    assert [_urgent(server, u)["text"] for u in made] == [
        "甲村山洪预警。请沿河群众立即转移到高处。", "乙村山洪预警。请沿河群众立即转移到高处。"]  # fmt: skip

    held = post(server, alert("M-2", info("大风预警", severity="Moderate", urgency="Expected")))
    (first,) = held.json()["held"]
    update = post(server, alert("M-3", info("大风预警（更新）", severity="Moderate",
                                             urgency="Expected"),
                                msg_type="Update", references=ref("M-2")))  # fmt: skip
    (second,) = update.json()["held"]
    with _store(server) as store:
        assert store.cap.get(first).state == "superseded"
        assert store.cap.get(second).state == "held"


def test_polygons_and_circles_reach_the_loudspeakers_they_cover(stack) -> None:  # type: ignore[no-untyped-def]
    server, running = stack
    spk1 = running[0]
    heard_before = len(starts(spk1, "urgent"))
    north = SPK1[0] + 0.018  # 2.0 km north of 喇叭1
    circle = post(
        server, alert("G-1", shaped("山洪预警", f"<circle>{north},{SPK1[1]} 2.2</circle>"))
    )
    assert circle.status_code == 201, circle.text
    (made,) = circle.json()["urgents"]
    urgent = _urgent(server, made)
    assert (urgent["speakers"], urgent["areas"]) == (["spk-1"], [])
    assert wait_for(lambda: len(starts(spk1, "urgent")) > heard_before, 15), spk1.log_text()[-2000:]

    missed = post(
        server, alert("G-2", shaped("山洪预警", f"<circle>{north},{SPK1[1]} 1.5</circle>"))
    )
    assert missed.status_code == 200 and missed.json()["ignored"][0]["part"] == 0, missed.text

    square = "36.105,111.505 36.12,111.505 36.12,111.52 36.105,111.52 36.105,111.505"
    polygon = post(server, alert("G-3", shaped("滑坡预警", f"<polygon>{square}</polygon>",
                                               severity="Severe")))  # fmt: skip
    assert polygon.status_code == 201, polygon.text
    (held,) = polygon.json()["held"]
    with _store(server) as store:
        row = store.cap.get(held)
    assert (row.speaker_ids, row.area_ids) == (("spk-2",), ())  # 乙村's outline meets it


SIGNER = key_and_cert("signed-met.example.cn")


def test_a_source_that_must_sign_is_taken_only_signed(stack) -> None:  # type: ignore[no-untyped-def]
    server, _running = stack
    before = _urgent_ids(server)
    plain = alert("SIG-1", info("签名预警"))
    refused = post(server, plain, key=SIGNED_KEY)
    assert refused.status_code == 422, refused.text
    assert "must be signed" in refused.json()["error"]["message"]
    forged = sign(plain, *key_and_cert("forger"))
    assert post(server, forged, key=SIGNED_KEY).status_code == 422
    assert _urgent_ids(server) == before
    with _store(server) as store:
        assert not store.cap.known(SENDER, "SIG-1")
    answer = post(server, sign(plain, *SIGNER), key=SIGNED_KEY)
    assert answer.status_code == 201, answer.text
    assert _urgent(server, answer.json()["urgents"][0])["text"].startswith("签名预警。")


HOSTILE = {
    "xxe": b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&x;</identifier></alert>""",
    "billion_laughs": (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
            for i in range(1, 10)
        )
        + b']><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">&lol9;</alert>'
    ),
    "huge": b'<?xml version="1.0"?><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
    + b"<note>" + b"x" * (2 * 1024 * 1024) + b"</note></alert>",
    "wrong_namespace": alert("W-1", info("x")).replace(
        b"urn:oasis:names:tc:emergency:cap:1.2", b"urn:oasis:names:tc:emergency:cap:1.1"),
    "schema_invalid": alert("S-1", info("x")).replace(b"<status>Actual", b"<status>Real"),
    "not_xml": b"\x00\x01 not xml at all <<<",
    "unknown_sender": alert("U-1", info("x")).replace(SENDER.encode(), b"other@example.cn"),
}  # fmt: skip


def _rss_kb(server: Server) -> int:
    assert server.proc is not None
    status = Path(f"/proc/{server.proc.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))


def test_hostile_documents_are_refused_and_nothing_is_stored(stack) -> None:  # type: ignore[no-untyped-def]
    server, _running = stack
    before = _urgent_ids(server)
    rss = _rss_kb(server)
    for name, body in HOSTILE.items():
        started = time.monotonic()
        answer = post(server, body)
        assert time.monotonic() - started < 10, name
        assert answer.status_code in (413, 422), (name, answer.text)
        assert answer.json()["error"]["code"] == "cap_refused", (name, answer.text)
        assert "root:" not in answer.text  # /etc/passwd never read
    chunked = requests.post(  # no Content-Length: read up to the bound, no further
        f"{server.url}/api/v1/cap", timeout=30, headers={"Authorization": f"Bearer {KEY}"},
        data=iter([HOSTILE["huge"][:1000], b"x" * (4 * 1024 * 1024), b"</alert>"]),
    )  # fmt: skip
    assert chunked.status_code == 413 and "larger than 524288" in chunked.text, chunked.text
    assert _rss_kb(server) - rss < 64 * 1024  # no expansion held in memory
    assert requests.get(f"{server.url}/healthz", timeout=5).ok
    assert _urgent_ids(server) == before
    with _store(server) as store:  # the refusals are in the audit log, and only there
        refusals = store.journal.list_audit(limit=500, action="cap.refused")
        assert len(refusals) >= len(HOSTILE)
        assert not any(r.identifier in ("W-1", "S-1", "U-1") for r in store.cap.list())
    again = post(server, alert("OK-1", info("正常预警", severity="Severe", urgency="Expected")))
    assert again.status_code == 201, again.text  # the server still takes good alerts


def test_who_may_post(stack) -> None:  # type: ignore[no-untyped-def]
    server, _running = stack
    assert post(server, alert("A-1", info("x")), key="wrong-key").status_code == 401
    chief = _token(server, "chief-a")
    assert post(server, alert("A-2", info("x")), key=chief).status_code == 403
    admin = _token(server, "admin")
    answer = post(server, alert("A-3", info("管理员转发", severity="Minor")), key=admin)
    assert answer.status_code == 201 and len(answer.json()["held"]) == 1, answer.text


def test_export_is_valid_cap_and_round_trips_into_a_second_server(stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, _running = stack
    admin = _admin(server)
    expires = (aware_now() + timedelta(minutes=45)).replace(microsecond=0)
    sent = requests.post(
        f"{server.url}/api/v1/urgent", headers=admin, timeout=30,
        json={"text": "明天上午九点全村停水，请提前储水。", "areas": ["village-a"],
              "expires_at": expires.isoformat(), "override_window": True},
    )  # fmt: skip
    assert sent.status_code == 201, sent.text
    urgent_id = sent.json()["id"]
    exported = requests.get(f"{server.url}/api/v1/urgent/{urgent_id}.cap", headers=admin,
                            timeout=10)  # fmt: skip
    assert exported.status_code == 200 and exported.headers["Content-Type"].startswith(
        "application/cap+xml")  # fmt: skip
    document = parse(exported.content)  # valid against the same XSD, or CapRefused
    assert document.identifier == urgent_id and document.msg_type == "Alert"
    assert document.infos[0].areas[0].geocodes == (("GB/T 2260", CODE),)

    feed = requests.get(f"{server.url}/api/v1/cap/feed", headers=admin, timeout=10)
    assert feed.status_code == 200, feed.text
    atom = "{http://www.w3.org/2005/Atom}"
    links = [e.find(f"{atom}link").get("href")  # type: ignore[union-attr]
             for e in ElementTree.fromstring(feed.content).iter(f"{atom}entry")]  # fmt: skip
    assert f"{server.url}/api/v1/urgent/{urgent_id}.cap" in links

    second, running = _stack(tmp_path / "second", [])
    try:
        answer = post(second, exported.content.replace(
            b"test-broadcast@example.cn", SENDER.encode()))  # fmt: skip
        assert answer.status_code == 201, answer.text
        held = answer.json()["held"]  # Severe/Immediate: held by the default policy
        assert len(held) == 1
        with _store(second) as store:
            row = store.cap.get(held[0])
        assert row.text == "明天上午九点全村停水，请提前储水。"
        assert row.area_ids == ("village-a",)
        assert row.expires_at == expires
    finally:
        second.stop()
        for client in running:
            client.stop()


def test_a_second_server_polls_our_feed_with_conditional_requests(stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, _running = stack
    admin = _admin(server)
    expires = (aware_now() + timedelta(minutes=50)).replace(microsecond=0)
    sent = requests.post(
        f"{server.url}/api/v1/urgent", headers=admin, timeout=30,
        json={"text": "今天下午三点村委会开会。", "areas": ["village-a"],
              "expires_at": expires.isoformat(), "override_window": True},
    )  # fmt: skip
    assert sent.status_code == 201, sent.text
    feed = requests.get(f"{server.url}/api/v1/cap/feed", headers=admin, timeout=10)
    again = requests.get(f"{server.url}/api/v1/cap/feed", timeout=10,
                         headers={**admin, "If-None-Match": feed.headers["ETag"]})  # fmt: skip
    assert again.status_code == 304 and again.content == b""

    feed_section = "\n".join([
        "  feeds:",
        f'    - {{id: upstream, url: "{server.url}/api/v1/cap/feed", every_s: 10,',
        "       senders: [test-broadcast@example.cn], key_env: UPSTREAM_CAP_KEY}",
    ]) + "\n"  # fmt: skip
    root = tmp_path / "poller"
    root.mkdir()
    start = aware_now() + seconds(7200)
    config = root / "config.yaml"
    base = deployment_yaml(window_start=start, window_end=start + seconds(1800), speakers=3)
    config.write_text(shapes(base) + cap_section() + feed_section)
    second = Server(root, config, extra_env={"UPSTREAM_CAP_KEY": KEY})
    second.start()
    try:

        def taken() -> list[str]:
            with _store(second) as store:
                return [r.text for r in store.cap.list() if r.source == "feed:upstream"]

        assert wait_for(lambda: "今天下午三点村委会开会。" in taken(), 30), second.log_text()[
            -3000:
        ]
        with _store(second) as store:
            row = next(r for r in store.cap.list() if r.text == "今天下午三点村委会开会。")
        assert (row.state, row.area_ids, row.expires_at) == ("held", ("village-a",), expires)
        # the next polls are conditional: the upstream answers 304 while nothing changes
        polled = re.compile(r"GET /api/v1/cap/feed (\d{3}) \d+ ms key:test-met")
        assert wait_for(lambda: "304" in polled.findall(server.log_text()), 25)
        assert polled.findall(server.log_text())[0] == "200"
        assert len(taken()) == len(set(taken()))  # each alert taken once
    finally:
        second.stop()
