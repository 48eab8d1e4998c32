"""The device API in-process (Flask test client): ETags, auth, validation, idempotency.

The same endpoints are exercised with real processes in tests/integration.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import uuid
from datetime import timedelta

import pytest

from broadcaster.store import EventKind, TokenKind
from tests.web.conftest import NOW


@pytest.fixture
def device(service):
    """A device token for vehicle-01."""
    return {
        "Authorization": f"Bearer {service.store.people.issue_token(TokenKind.DEVICE, 'vehicle-01', NOW)[1]}"
    }


def test_plan_has_a_content_etag_and_304_on_if_none_match(client, device):
    first = client.get("/api/v1/speakers/vehicle-01/plan", headers=device)
    assert first.status_code == 200
    body = first.get_json()
    assert body["speaker"] == "vehicle-01" and body["items"] and body["windows"]
    assert {item["clip"] for item in body["items"]} <= set(body["clips"])
    etag = first.headers["ETag"]
    again = client.get(
        "/api/v1/speakers/vehicle-01/plan", headers={**device, "If-None-Match": etag}
    )
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    stale = client.get(
        "/api/v1/speakers/vehicle-01/plan", headers={**device, "If-None-Match": '"old"'}
    )
    assert stale.status_code == 200


def test_plan_is_gzipped_when_asked_and_decodes_to_the_same_json(client, device):
    plain = client.get("/api/v1/speakers/vehicle-01/plan", headers=device).get_json()
    packed = client.get(
        "/api/v1/speakers/vehicle-01/plan", headers={**device, "Accept-Encoding": "gzip"}
    )
    assert packed.headers["Content-Encoding"] == "gzip"
    decoded = json.loads(gzip.decompress(packed.data))
    assert len(packed.data) * 5 < len(json.dumps(decoded))
    plain.pop("server_time"), decoded.pop("server_time")
    assert decoded == plain


def test_edit_changes_the_etag(client, device, service):
    etag = client.get("/api/v1/speakers/vehicle-01/plan", headers=device).headers["ETag"]
    message = service.store.content.get_message("masks")
    from dataclasses import replace

    service.store.content.update_message(replace(message, text="请大家出门戴好口罩。"), NOW)
    again = client.get(
        "/api/v1/speakers/vehicle-01/plan", headers={**device, "If-None-Match": etag}
    )
    assert again.status_code == 200 and again.headers["ETag"] != etag


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({}, 401, id="no-token"),
        pytest.param({"Authorization": "Bearer bcd_not-a-real-token"}, 401, id="unknown-token"),
        pytest.param({"Authorization": "Basic abc"}, 401, id="wrong-scheme"),
    ],
)
def test_device_endpoints_need_a_valid_token(client, headers, status):
    assert client.get("/api/v1/speakers/vehicle-01/plan", headers=headers).status_code == status


def test_a_token_opens_only_its_own_speaker(client, device, service):
    answer = client.get("/api/v1/speakers/vehicle-02/plan", headers=device)
    assert answer.status_code == 403
    assert answer.get_json()["error"]["code"] == "forbidden"
    assert service.store.journal.list_audit(action="denied")


def test_user_token_cannot_reach_device_endpoints(client, service):
    token = service.store.people.issue_token(TokenKind.USER, "admin", NOW)[1]
    answer = client.get(
        "/api/v1/speakers/vehicle-01/plan", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 401


def test_clip_download_supports_ranges_and_is_immutable(client, device):
    plan = client.get("/api/v1/speakers/vehicle-01/plan", headers=device).get_json()
    key, spec = next(iter(plan["clips"].items()))
    # File responses stream: close them as a WSGI server would.
    with client.get(f"/api/v1/clips/{key}", headers=device) as whole:
        assert whole.status_code == 200 and len(whole.data) == spec["size"]
        assert "immutable" in whole.headers["Cache-Control"]
    with client.get(f"/api/v1/clips/{key}", headers={**device, "Range": "bytes=100-"}) as part:
        assert part.status_code == 206 and part.data == whole.data[100:]
    assert client.get(f"/api/v1/clips/{'0' * 64}", headers=device).status_code == 404


def play(entry_id: str, **extra: object) -> dict[str, object]:
    start = NOW.isoformat()
    return {"id": entry_id, "clip": "c" * 64, "message": "masks", "kind": "loop", "planned_start": start,
            "started_at": start, "ended_at": (NOW + timedelta(seconds=9)).isoformat(), "completed": True,
            **extra}  # fmt: skip


def test_play_upload_is_idempotent_by_entry_id(client, device, service):
    ids = [str(uuid.uuid4()) for _ in range(3)]
    first = client.post(
        "/api/v1/speakers/vehicle-01/plays",
        headers=device,
        json={"entries": [play(i) for i in ids[:2]]},
    )
    assert first.get_json()["accepted"] == ids[:2]
    second = client.post(
        "/api/v1/speakers/vehicle-01/plays",
        headers=device,
        json={"entries": [play(i) for i in ids]},
    )
    assert second.get_json() | {"server_time": None} == {
        "accepted": ids[2:],
        "duplicates": ids[:2],
        "server_time": None,
    }
    stored = service.store.devices.plays(
        NOW - timedelta(hours=1), NOW + timedelta(hours=1), speaker_id="vehicle-01"
    )
    assert sorted(p.id for p in stored) == sorted(ids)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({}, "entries", id="no-entries"),
        pytest.param({"entries": [{"id": "x"}]}, "entries[0].clip", id="missing-fields"),
        pytest.param({"entries": [play("x", kind="music")]}, "entries[0].kind", id="bad-kind"),
        pytest.param(
            {"entries": [play("x", started_at="yesterday")]}, "entries[0].started_at", id="bad-time"
        ),
        pytest.param(
            {"entries": [play("x", started_at="2025-05-06T10:00:00")]},
            "entries[0].started_at",
            id="naive-time",
        ),
        pytest.param({"entries": [play(str(i)) for i in range(501)]}, "entries", id="too-many"),
    ],
)
def test_bad_play_uploads_are_refused_and_name_the_field(client, device, service, body, field):
    answer = client.post("/api/v1/speakers/vehicle-01/plays", headers=device, json=body)
    assert answer.status_code == 422
    assert answer.get_json()["error"]["field"] == field
    assert service.store.devices.plays(NOW - timedelta(days=1), NOW + timedelta(days=1)) == ()


def test_heartbeat_records_status_and_returns_the_plan_etag(client, device, service):
    etag = client.get("/api/v1/speakers/vehicle-01/plan", headers=device).headers["ETag"]
    beat = {"state": "playing", "now_playing": {"clip": "abc", "message": "masks", "kind": "loop", "position_ms": 1200},
            "volume": 80, "clock_offset_ms": -35, "cache": {"clips": 3, "missing": 0},
            "selftest": {"at": NOW.isoformat(), "ok": True, "detail": "played 2.1 s"}}  # fmt: skip
    answer = client.post("/api/v1/speakers/vehicle-01/heartbeat", headers=device, json=beat)
    assert answer.status_code == 200 and answer.get_json()["plan_etag"] == etag
    status = service.store.devices.speaker_status("vehicle-01")
    assert status is not None and status.state == "playing" and status.clock_offset_ms == -35
    assert status.selftest_ok is True and status.position_ms == 1200
    bad = client.post("/api/v1/speakers/vehicle-01/heartbeat", headers=device, json={"volume": 400})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "volume"


def test_events_without_after_answer_at_once_with_the_current_sequence(client, device, service):
    seq = service.store.devices.append_event("vehicle-01", EventKind.RESYNC, {}, NOW)
    answer = client.get("/api/v1/speakers/vehicle-01/events?wait=30", headers=device).get_json()
    assert answer["events"] == [] and answer["last"] == seq


def test_long_poll_wakes_when_an_event_is_published(client, device, service):
    start = service.store.devices.last_event_seq()

    def publish_later() -> None:
        time.sleep(0.3)
        seq = service.store.devices.append_event("vehicle-01", EventKind.STOP, {"until": None}, NOW)
        service.notifier.publish(seq)

    threading.Thread(target=publish_later).start()
    began = time.monotonic()
    answer = client.get(
        f"/api/v1/speakers/vehicle-01/events?after={start}&wait=10", headers=device
    ).get_json()
    assert time.monotonic() - began < 2
    assert [e["kind"] for e in answer["events"]] == ["stop"]


def test_long_poll_times_out_empty(client, device, service):
    start = service.store.devices.last_event_seq()
    began = time.monotonic()
    answer = client.get(
        f"/api/v1/speakers/vehicle-01/events?after={start}&wait=1", headers=device
    ).get_json()
    assert answer["events"] == [] and 0.9 <= time.monotonic() - began < 3


def test_other_speakers_events_are_not_delivered(client, device, service):
    start = service.store.devices.last_event_seq()
    service.store.devices.append_event("vehicle-02", EventKind.STOP, {}, NOW)
    answer = client.get(
        f"/api/v1/speakers/vehicle-01/events?after={start}&wait=0", headers=device
    ).get_json()
    assert answer["events"] == []
