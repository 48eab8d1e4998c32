"""The urgent page's two steps: who will hear it (nothing stored), then the confirmed send;
the override confirmation; the refusal when nobody can hear it; the per-speaker states and
the dashboard's live part. The clock is Tuesday 10:00: 屯里村大喇叭's windows are 07-09 and
17:30-19, vehicle-01's 07-19."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from broadcaster.service import Service
from broadcaster.store import TokenKind
from tests.web.conftest import NOW, post
from tests.web.test_forms import tone_wav

TUNLI = {
    "source": "text",
    "text": "紧急通知：请注意防火。",
    "speakers": "tunli-village-1",
    "repeats": "1",
    "interval_s": "0",
    "expires_min": "30",
}


def beat(app: Flask, service: Service, speaker: str, **extra: Any) -> None:
    """A heartbeat of `speaker` (online from now on), reporting the plan it runs."""
    token = service.store.people.issue_token(TokenKind.DEVICE, speaker, NOW)[1]
    device = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    etag = device.get(f"/api/v1/speakers/{speaker}/plan", headers=headers).headers["ETag"]
    body = {"state": "idle", "plan_etag": etag, **extra}
    answer = device.post(f"/api/v1/speakers/{speaker}/heartbeat", headers=headers, json=body)
    assert answer.status_code == 200, answer.get_data(as_text=True)


def ack(app: Flask, service: Service, speaker: str, urgent_id: str, state: str) -> None:
    token = service.store.people.issue_token(TokenKind.DEVICE, speaker, NOW)[1]
    answer = app.test_client().post(
        f"/api/v1/speakers/{speaker}/acks",
        headers={"Authorization": f"Bearer {token}"},
        json={"urgent": urgent_id, "state": state},
    )
    assert answer.status_code == 204, answer.get_data(as_text=True)


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, name
    return match.group(1)


def confirm(client: FlaskClient, data: Mapping[str, object], page: str, **extra: str) -> Any:
    """Press the confirm button of the previewed form `page`."""
    return post(
        client,
        "/urgent",
        {**data, "step": "confirm", "preview_key": hidden(page, "preview_key"), **extra},
    )


def test_send_shows_who_will_hear_it_and_stores_nothing_until_confirmed(  # type: ignore[no-untyped-def]
    login_as, app: Flask, service: Service
) -> None:
    beat(app, service, "tunli-village-1")
    client = login_as("chief-tunli")
    data = TUNLI | {"expires_min": "480"}
    preview = post(client, "/urgent", data | {"step": "preview"})
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200, page[:3000]
    assert "哪些喇叭会播放" in page
    assert "现在听到：0" in page and "稍后听到：1" in page and "（最早 17:30）" in page
    assert "稍后，17:30" in page and "要等到播放时段开始" in page
    assert "urgent-confirm" in page and "确认发送" in page
    assert 'value="紧急通知：请注意防火。"' in page or "紧急通知：请注意防火。</textarea>" in page
    assert service.store.urgents.list_urgents() == ()
    sent = confirm(client, data, page)
    assert sent.status_code == 302, sent.get_data(as_text=True)[:3000]
    (stored,) = service.store.urgents.list_urgents()
    assert sent.headers["Location"].endswith(f"/urgent/{stored.id}")
    assert not stored.override_window


def test_a_confirm_for_a_changed_form_shows_the_coverage_again(login_as, service: Service) -> None:  # type: ignore[no-untyped-def]
    client = login_as("chief-tunli")
    data = TUNLI | {"expires_min": "480"}
    page = post(client, "/urgent", data).get_data(as_text=True)
    changed = confirm(client, data | {"expires_min": "470"}, page)
    assert changed.status_code == 200
    assert "检查之后表单有改动" in changed.get_data(as_text=True)
    assert service.store.urgents.list_urgents() == ()


def test_nobody_can_hear_it_is_said_at_the_override_box_with_the_fix(
    login_as, app, service
) -> None:  # type: ignore[no-untyped-def]
    beat(app, service, "tunli-village-1")
    client = login_as("chief-tunli")
    for step in ("preview", "confirm"):
        response = post(client, "/urgent", TUNLI | {"step": step})
        page = response.get_data(as_text=True)
        assert response.status_code == 422, page[:3000]
        error = re.search(r'<span class="error" id="err-override_window">([^<]*)</span>', page)
        assert error, page[:5000]
        assert "没有喇叭能播放它" in error.group(1)
        assert "在播放时段之外也播放" in error.group(1) and "延长有效时间" in error.group(1)
        assert "屯里村大喇叭" in page and "在它过期之前都不在播放时段内" in page
        assert "urgent-confirm" not in page
    assert service.store.urgents.list_urgents() == ()
    client.get("/?lang=en")
    page = post(client, "/urgent", TUNLI).get_data(as_text=True)
    assert "Nobody will hear it: the loudspeakers are outside their playing windows" in page


def test_offline_loudspeakers_are_named_with_why(login_as, service: Service) -> None:  # type: ignore[no-untyped-def]
    client = login_as("chief-tunli")
    page = post(client, "/urgent", TUNLI).get_data(as_text=True)
    assert 'id="err-speakers"' in page and "所选的喇叭都离线了" in page
    assert "离线，从未连接" in page
    page = post(client, "/urgent", TUNLI | {"override_window": "1"}).get_data(as_text=True)
    assert "听不到：1" in page and "离线，从未连接；如在有效期内恢复连接会补播" in page
    assert service.store.urgents.list_urgents() == ()


def test_a_chief_may_play_outside_the_windows_only_after_confirming_it(  # type: ignore[no-untyped-def]
    login_as, app: Flask, service: Service
) -> None:
    beat(app, service, "tunli-village-1")
    client = login_as("chief-tunli")
    data = TUNLI | {"override_window": "1"}
    page = post(client, "/urgent", data).get_data(as_text=True)
    assert "现在听到：1" in page
    assert "它会“现在”就响起" in page and "其中 1 个喇叭现在不在播放时段内" in page
    assert 'name="override_confirmed"' in page and "确认：现在就播放" in page
    refused = confirm(client, data, page)
    assert refused.status_code == 422
    assert 'id="err-override_confirmed"' in refused.get_data(as_text=True)
    assert service.store.urgents.list_urgents() == ()
    sent = confirm(client, data, page, override_confirmed="1")
    assert sent.status_code == 302, sent.get_data(as_text=True)[:3000]
    (stored,) = service.store.urgents.list_urgents()
    assert stored.override_window
    audit = [a for a in service.store.journal.list_audit(limit=50) if a.action == "urgent.send"]
    assert audit and audit[0].detail["override_window"] is True


def test_a_recording_becomes_one_message_only_when_confirmed(  # type: ignore[no-untyped-def]
    login_as, app: Flask, service: Service
) -> None:
    beat(app, service, "tunli-village-1")
    client = login_as("chief-tunli")
    data = {k: v for k, v in TUNLI.items() if k != "text"} | {
        "source": "recording",
        "override_window": "1",
    }
    titles = lambda: {m.id for m in service.deployment(NOW).messages}  # noqa: E731
    before = titles()
    page = post(
        client,
        "/urgent",
        data | {"recording": (io.BytesIO(tone_wav(1.5)), "rec.wav")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert "现在听到：1" in page, page[:3000]
    kept = hidden(page, "recording_file")
    assert re.fullmatch(r"[0-9a-f]{64}\.wav", kept)
    assert titles() == before  # a preview makes no message
    again = post(client, "/urgent", data | {"recording_file": kept}).get_data(as_text=True)
    assert hidden(again, "recording_file") == kept and titles() == before
    sent = confirm(client, data | {"recording_file": kept}, again, override_confirmed="1")
    assert sent.status_code == 302, sent.get_data(as_text=True)[:3000]
    (made,) = titles() - before
    (stored,) = service.store.urgents.list_urgents()
    assert stored.message_id == made and stored.text is None
    bad = post(client, "/urgent", data | {"recording_file": "../../etc/passwd"})
    assert bad.status_code == 422 and 'id="err-recording"' in bad.get_data(as_text=True)


def test_the_detail_page_says_every_loudspeakers_state(  # type: ignore[no-untyped-def]
    login_as, app: Flask, service: Service, clock
) -> None:
    beat(app, service, "vehicle-01")
    client = login_as("admin")
    data = TUNLI | {"speakers": ["tunli-village-1", "vehicle-01"], "expires_min": "30"}
    page = post(client, "/urgent", data).get_data(as_text=True)
    assert "现在听到：1" in page and "听不到：1" in page and "离线，从未连接" in page
    sent = confirm(client, data, page)
    assert sent.status_code == 302, sent.get_data(as_text=True)[:3000]
    (stored,) = service.store.urgents.list_urgents()

    def row(speaker: str) -> str:
        fragment = client.get(f"/urgent/{stored.id}/acks").get_data(as_text=True)
        found = re.search(rf'<tr id="ack-{speaker}".*?</tr>', fragment, re.S)
        assert found, fragment
        return found.group(0)

    assert 'data-state="offline"' in row("tunli-village-1") and "离线，从未连接" in row(
        "tunli-village-1"
    )
    assert 'data-state="waiting"' in row("vehicle-01") and "10:00:00 播放" in row("vehicle-01")
    ack(app, service, "vehicle-01", stored.id, "received")
    ack(app, service, "vehicle-01", stored.id, "playing")
    assert "正在播放" in row("vehicle-01")
    ack(app, service, "vehicle-01", stored.id, "played")
    assert "已播放" in row("vehicle-01") and '<td class="played-at">10:00:00' in row("vehicle-01")
    detail = client.get(f"/urgent/{stored.id}").get_data(as_text=True)
    assert "1/2 已播放，1 离线" in detail and 'data-every="2000"' in detail
    listing = client.get("/urgent").get_data(as_text=True)
    assert "1/2 已播放，1 离线" in listing
    clock[0] = NOW + timedelta(minutes=31)
    fragment = client.get(f"/urgent/{stored.id}/acks").get_data(as_text=True)
    assert "data-final" in fragment and "未播放" in row("tunli-village-1")
    assert "data-refresh" not in client.get(f"/urgent/{stored.id}").get_data(as_text=True)


def test_the_dashboard_names_what_plays_and_counts_synced_speakers(  # type: ignore[no-untyped-def]
    login_as, app: Flask, service: Service
) -> None:
    client = login_as("chief-tunli")
    live = client.get("/dashboard/live").get_json()
    assert (live["synced"], live["total"]) == (0, 1) and live["text"] == "已同步 0/1（1 个离线）"
    playing = {"clip": "abc", "message": "masks", "kind": "loop", "started_at": NOW.isoformat()}
    beat(app, service, "tunli-village-1", state="playing", now_playing=playing)
    live = client.get("/dashboard/live").get_json()
    title = next(m.title for m in service.deployment(NOW).messages if m.id == "masks")
    assert live["text"] == "已同步 1/1"
    assert live["speakers"] == [
        {
            "id": "tunli-village-1",
            "online": True,
            "synced": True,
            "playing": title,
            "badge": "在线",
            "sync_label": "已同步",
        }
    ]
    page = client.get("/").get_data(as_text=True)
    assert f'<dd class="now-playing">{title}</dd>' in page and "已同步 1/1" in page
    assert ">masks<" not in page


@pytest.mark.parametrize("role", ["driver-01"])
def test_operators_still_cannot_send(login_as, service: Service, role: str) -> None:  # type: ignore[no-untyped-def]
    client = login_as(role)
    assert post(client, "/urgent", TUNLI | {"step": "confirm"}).status_code == 403
    assert service.store.urgents.list_urgents() == ()


def test_a_fault_in_the_server_is_not_shown_as_the_users_recording_being_bad(  # type: ignore[no-untyped-def]
    login_as, app: Flask, service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the recording's own problems are said at the field; a bug is a server error (500,
    logged with its traceback), not 'this recording cannot be used: ...'."""
    beat(app, service, "tunli-village-1")
    client = login_as("chief-tunli")
    data = {k: v for k, v in TUNLI.items() if k != "text"} | {"source": "recording"}

    def broken(*args: object, **kwargs: object) -> object:
        raise TypeError("a bug")

    monkeypatch.setattr(type(service.library), "for_message", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    answer = post(
        client,
        "/urgent",
        data | {"recording": (io.BytesIO(tone_wav(1.5)), "rec.wav")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 500
    assert "无法使用此录音" not in answer.get_data(as_text=True)
