"""Issue 11, item 7: names, not codes: reports, the CSV export, the audit log, the route sheet."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient

from broadcaster import urgent
from broadcaster.models import PlayKind, PlayLogEntry, Role, User
from broadcaster.service import Service
from tests.web.conftest import NOW, post
from web.panel import wording
from web.panel.catalog_zh import ZH

SPEAKER = "tunli-village-1"  # 屯里村大喇叭, chief-tunli's


def _play(i: int, **fields: Any) -> PlayLogEntry:
    started = NOW - timedelta(minutes=30 - i)
    values: dict[str, Any] = {
        "id": f"n-{i}",
        "speaker_id": SPEAKER,
        "clip": f"c{i:08d}",
        "message_id": "fire",
        "kind": PlayKind.LOOP,
        "planned_start": started,
        "started_at": started,
        "ended_at": started + timedelta(seconds=30),
        "completed": True,
        "reason": "",
    }
    return PlayLogEntry(**(values | fields))


def _plays(service: Service) -> None:
    entries = [
        _play(1),
        _play(2, completed=False, reason="cut:urgent", ended_at=NOW - timedelta(minutes=28)),
        _play(3, kind=PlayKind.URGENT, message_id=None),
        _play(4, speaker_id="xiaoyu-village-1", message_id="masks"),  # another village
        _play(5, started_at=NOW - timedelta(days=1), ended_at=NOW - timedelta(days=1, seconds=-30)),
        _play(6, started_at=NOW - timedelta(days=3), ended_at=NOW - timedelta(days=3, seconds=-30)),
    ]
    assert len(service.store.devices.add_plays(entries, NOW).accepted) == len(entries)


def _csv(client: FlaskClient, query: str) -> list[list[str]]:
    response = client.get("/reports/plays.csv" + query)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # Excel reads the Chinese names as UTF-8
    return list(csv.reader(io.StringIO(text[1:], newline="")))


def test_the_csv_has_chinese_headers_names_local_times_and_totals(
    login_as: Any, service: Service
) -> None:
    _plays(service)
    client = login_as("chief-tunli")
    rows = _csv(client, "?from=2025-05-05&to=2025-05-06")
    header = rows[0]
    assert header == [
        "喇叭", "区域", "消息", "类型", "紧急播放", "计划开始", "开始时间", "结束时间",
        "时长（秒）", "完整播完", "提前停止的原因",
    ]  # fmt: skip
    blank = rows.index([])
    plays = rows[1:blank]
    # Two days: today's three and yesterday's one, of the chief's loudspeaker only.
    assert len(plays) == 4
    assert {r[0] for r in plays} == {"屯里村大喇叭"} and {r[1] for r in plays} == {"屯里村"}
    first = plays[0]
    assert first[2] == "冬季防火" and first[3] == "循环播放" and first[4] == ""
    assert first[6] == "2025-05-05 10:00:00"  # local, as Excel reads a date and time
    assert plays[1][5:8] == ["2025-05-06 09:31:00", "2025-05-06 09:31:00", "2025-05-06 09:31:30"]
    assert first[8] == "30.0" and first[9] == "是" and first[10] == ""
    cut = next(r for r in plays if r[9] == "否")
    assert cut[10] == "被紧急广播打断"
    urgent = next(r for r in plays if r[3] == "紧急广播")
    assert urgent[4] == "是" and urgent[2] == "紧急广播（文字）"
    # Totals per message, then per loudspeaker, below the plays.
    rest = rows[blank + 1 :]
    assert rest[0] == ["按消息合计", "", "播放次数", "完整播完", "紧急播放次数", "分钟"]
    per_message = rest[1 : rest.index([])]
    assert ["冬季防火", "", "3", "2", "0", "1.0"] in per_message
    assert ["紧急广播（文字）", "", "1", "1", "1", "0.5"] in per_message
    speakers = rest[rest.index([]) + 1 :]
    assert speakers[0] == ["按喇叭合计", "区域", "播放次数", "完整播完", "紧急播放次数", "分钟"]
    assert speakers[1:] == [["屯里村大喇叭", "屯里村", "4", "3", "1", "1.5"]]
    # No codes anywhere: neither ids nor reasons as the client reports them.
    flat = "\n".join(",".join(r) for r in rows)
    for code in ("tunli-village", "fire", "cut:", "loop", "urgent"):
        assert code not in flat


def test_one_day_and_a_range_too_long_or_backwards(login_as: Any, service: Service) -> None:
    _plays(service)
    client = login_as("admin")
    today = _csv(client, "?day=2025-05-06")
    assert len(today[1 : today.index([])]) == 4  # both villages, today only
    for query, said in (
        ("?from=2025-04-01&to=2025-05-06", "最多选择 31 天。"),
        ("?from=2025-05-06&to=2025-05-01", "结束日期早于开始日期。"),
    ):
        page = client.get("/reports" + query)
        assert page.status_code == 400 and said in page.get_data(as_text=True)
        assert client.get("/reports/plays.csv" + query).status_code == 400
    assert client.get("/reports?from=2025-04-06&to=2025-05-06").status_code == 200


def test_the_csv_keeps_neutralizing_formulas(login_as: Any, service: Service) -> None:
    """A device-reported reason or message id that starts a formula stays text (issue 10)."""
    entries = [
        _play(1, reason='=HYPERLINK("http://evil.example")', completed=False),
        _play(2, message_id="+1+2"),
    ]
    assert len(service.store.devices.add_plays(entries, NOW).accepted) == 2
    rows = _csv(login_as("admin"), "?day=2025-05-06")
    cells = [c for r in rows for c in r]
    assert '\'=HYPERLINK("http://evil.example")' in cells and "'+1+2" in cells
    assert not any(c.lstrip(" ").startswith(("=", "+", "-", "@")) for c in cells)


def test_the_reports_page_says_why_a_play_stopped_and_marks_urgent_plays(
    login_as: Any, service: Service
) -> None:
    _plays(service)
    page = login_as("chief-tunli").get("/reports").get_data(as_text=True)
    assert "被紧急广播打断" in page and "cut:urgent" not in page
    assert '<span class="badge urgent">紧急广播</span>' in page
    assert 'id="totals-message"' in page and 'id="totals-speaker"' in page
    assert "冬季防火" in page and "小榆村大喇叭" not in page


def test_the_audit_log_reads_as_sentences_with_names(login_as: Any) -> None:
    client = login_as("admin")
    response = post(
        client,
        "/messages/new",
        {"title": "停电通知", "text": "明天停电。", "voice": "zh", "rate": "160",
         "volume": "1", "area": "tunli-village"},
    )  # fmt: skip
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:1000]
    page = client.get("/audit").get_data(as_text=True)
    page = page[page.index("<tbody>") :]
    row = page[page.index('<td class="what">新建消息') :]
    row = row[: row.index("</tr>")]
    assert '<td class="object">停电通知</td>' in row
    assert "<dt>区域</dt><dd>屯里村</dd>" in row and "<dt>标题</dt><dd>停电通知</dd>" in row
    # The stored record is still there for the curious, folded away.
    assert '<details class="raw">' in row
    assert "登录" in page and "message.create" not in page.split('<details class="raw">')[0]


def test_the_route_sheet_names_the_program_and_its_messages(login_as: Any) -> None:
    page = login_as("driver-01").get("/speakers/vehicle-01/sheet").get_data(as_text=True)
    assert "疫情防控循环播报：戴口罩、保持距离" in page, page[page.index("<table") :][:2000]
    assert "vehicles-daily" not in page and "排程 (" not in page


def test_every_word_the_panel_shows_for_a_code_has_a_translation() -> None:
    words = [
        *wording.KINDS.values(),
        *wording.REASONS.values(),
        *wording.ACTIONS.values(),
        *wording.ACTORS.values(),
        *wording.FIELDS.values(),
        *wording.LOGIN_FAILURES.values(),
    ]
    assert [w for w in words if w not in ZH] == []


def test_the_audit_log_names_an_urgent_by_what_it_says(login_as: Any, service: Service) -> None:
    sent = urgent.send(
        service,
        User("admin", Role.ADMIN),
        urgent.UrgentRequest(
            text="河水上涨请远离河道", speaker_ids=(SPEAKER,), override_window=True
        ),
        NOW,
    ).urgent
    # the line the urgent page writes when it sends (web/panel/urgent_views.py)
    service.store.journal.append_audit(
        NOW, "user:admin", "urgent.send", sent.id, {"text": sent.text}
    )
    page = login_as("admin").get("/audit?action=urgent.send").get_data(as_text=True)
    assert '<td class="object">紧急：河水上涨请远离河道</td>' in page
    assert sent.id not in page.split('<details class="raw">')[0]
