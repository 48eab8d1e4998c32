"""Every bound is declared once (broadcaster/limits.py, audio/limits.py: issue 11, item 1).

For each declared bound, every place that takes the value (the config loader, the models, the
user and device APIs, the panel's forms and the `min`/`max` of their inputs, the renderer)
accepts the bound itself and refuses one step past it. A bound changed in one place only (a
number written into a form, a template or a check instead of read from the declaration)
makes that place disagree here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient

from audio.cache import ClipCache
from audio.errors import InvalidInput
from audio.render import ClipRequest, Renderer
from audio.tts import SpeechRequest
from broadcaster import catalog, limits, urgent
from broadcaster.config import load_settings
from broadcaster.errors import ConfigError, ValidationError
from broadcaster.models import (
    Program,
    Role,
    Schedule,
    Speaker,
    SpeakerKind,
    Stop,
    Urgent,
    User,
    VoiceSettings,
)
from broadcaster.service import Service
from broadcaster.store import TokenKind
from tests.web.conftest import NOW, ToneSynthesizer, post
from web import openapi

Bound = limits.Bound


def edges(bound: Bound[Any]) -> list[tuple[float, bool]]:
    """(value, accepted): both ends, and one step past each (a unit, or a thousandth of the
    range for a bound of decimals)."""
    step = 1 if isinstance(bound.default, int) else (bound.high - bound.low) / 1000
    return [(bound.low, True), (bound.high, True), (bound.low - step, False),
            (bound.high + step, False)]  # fmt: skip


def text(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# -- the config loader ------------------------------------------------------------------------

CONFIG: dict[str, Any] = {
    "deployment": {"name": "测试区", "timezone": "Asia/Shanghai"},
    "audio": {"rate": 160, "volume": 1.0, "max_chars": 500},
    "areas": [{"id": "d", "name": "区", "kind": "district",
               "children": [{"id": "v", "name": "村", "kind": "village"}]}],
    "speakers": [{"id": "car", "name": "一号车", "kind": "vehicle", "area": "v", "volume": 80,
                  "route": [{"name": "村口", "lat": 30.0, "lon": 110.0}]}],
    "messages": [{"id": "m", "title": "通知", "text": "注意安全。", "rate": 160, "volume": 1.0}],
    "programs": [{"id": "p", "messages": ["m"], "gap_s": 5}],
    "schedules": [{"id": "s", "program": "p", "speakers": ["car"], "priority": 0}],
}  # fmt: skip

# (bound, where in the file: section, index or None, key)
IN_CONFIG = [
    (limits.RATE_WPM, "audio", None, "rate"),
    (limits.RATE_WPM, "messages", 0, "rate"),
    (limits.VOLUME, "audio", None, "volume"),
    (limits.VOLUME, "messages", 0, "volume"),
    (limits.MAX_CHARS, "audio", None, "max_chars"),
    (limits.SPEAKER_VOLUME, "speakers", 0, "volume"),
    (limits.GAP_S, "programs", 0, "gap_s"),
    (limits.PRIORITY, "schedules", 0, "priority"),
]


def config_accepts(tmp_path: Path, section: str, index: int | None, key: str, value: Any) -> bool:
    data = yaml.safe_load(yaml.safe_dump(CONFIG))
    (data[section] if index is None else data[section][index])[key] = value
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    try:
        load_settings(path)
    except ConfigError as exc:
        assert key in str(exc), exc
        return False
    return True


@pytest.mark.parametrize(("bound", "section", "index", "key"), IN_CONFIG)
def test_the_config_loader_takes_the_declared_bounds(
    tmp_path: Path, bound: Bound[Any], section: str, index: int | None, key: str
) -> None:
    for value, ok in edges(bound):
        assert config_accepts(tmp_path, section, index, key, value) is ok, (key, value)


def test_the_config_loader_takes_the_declared_coordinates(tmp_path: Path) -> None:
    for bound, key in ((limits.LAT, "lat"), (limits.LON, "lon")):
        for value, ok in edges(bound):
            data = yaml.safe_load(yaml.safe_dump(CONFIG))
            data["speakers"][0]["route"][0][key] = value
            path = tmp_path / "config.yaml"
            path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
            try:
                load_settings(path)
                accepted = True
            except ConfigError:
                accepted = False
            assert accepted is ok, (key, value)


def test_defaults_are_the_declared_ones(tmp_path: Path) -> None:
    data = yaml.safe_load(yaml.safe_dump(CONFIG))
    del data["audio"]
    for section in ("speakers", "messages", "programs", "schedules"):
        for key in ("volume", "rate", "gap_s", "priority"):
            data[section][0].pop(key, None)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    settings = load_settings(path)
    voice = settings.messages[0].voice
    assert (voice.voice, voice.rate, voice.volume) == (
        limits.DEFAULT_VOICE, limits.RATE_WPM.default, limits.VOLUME.default)  # fmt: skip
    assert settings.default_voice == VoiceSettings()
    assert settings.render.max_chars == limits.MAX_CHARS.default
    assert settings.speakers[0].volume == limits.SPEAKER_VOLUME.default
    assert settings.programs[0].gap_s == limits.GAP_S.default
    assert settings.schedules[0].priority == limits.PRIORITY.default
    assert (settings.schedules[0].start, settings.schedules[0].end) == limits.DEFAULT_WINDOW
    assert settings.default_window == limits.DEFAULT_WINDOW
    # what the audio pipeline assumes when nobody says (the CLI's synth, the self-test)
    request, speech = ClipRequest("注意安全。", "zh"), SpeechRequest("注意安全。", "zh")
    assert (request.rate, request.volume) == (limits.RATE_WPM.default, limits.VOLUME.default)
    assert (speech.rate, speech.volume) == (limits.RATE_WPM.default, limits.VOLUME.default)


# -- the models -------------------------------------------------------------------------------

MODELS: list[tuple[Bound[Any], Callable[[Any], object]]] = [
    (limits.RATE_WPM, lambda v: VoiceSettings(rate=v)),
    (limits.VOLUME, lambda v: VoiceSettings(volume=v)),
    (limits.SPEAKER_VOLUME, lambda v: Speaker("s", "喇叭", SpeakerKind.FIXED, "v", volume=v)),
    (limits.GAP_S, lambda v: Program("p", "循环", ("m",), v)),
    (limits.PRIORITY, lambda v: Schedule("s", "p", ("car",), priority=v)),
    (limits.REPEATS, lambda v: Urgent("u", NOW, NOW, NOW + timedelta(hours=1), "火警", None,
                                      ("car",), repeats=v)),
    (limits.INTERVAL_S, lambda v: Urgent("u", NOW, NOW, NOW + timedelta(hours=1), "火警", None,
                                         ("car",), interval_s=v)),
    (limits.LAT, lambda v: Stop("村口", v, 0.0)),
    (limits.LON, lambda v: Stop("村口", 0.0, v)),
]  # fmt: skip


@pytest.mark.parametrize(("bound", "build"), MODELS)
def test_the_models_take_the_declared_bounds(
    bound: Bound[Any], build: Callable[[Any], object]
) -> None:
    for value, ok in edges(bound):
        try:
            build(value)
            accepted = True
        except ValidationError:
            accepted = False
        assert accepted is ok, value


# -- the renderer -----------------------------------------------------------------------------


@pytest.mark.parametrize(("bound", "field"), [(limits.RATE_WPM, "rate"), (limits.VOLUME, "volume")])
def test_the_renderer_takes_the_declared_bounds(
    tmp_path: Path, service: Service, bound: Bound[Any], field: str
) -> None:
    renderer = Renderer(ToneSynthesizer(), ClipCache(tmp_path / "clips"), service.settings.render)
    for value, ok in edges(bound):
        request = ClipRequest("注意安全。", "zh", **{field: value})  # type: ignore[arg-type]
        try:
            renderer.key_for(request)
            accepted = True
        except InvalidInput:
            accepted = False
        assert accepted is ok, value


# -- the use cases behind the panel and the API (each edge may check first as well) -----------

USE_CASES: list[tuple[Bound[Any], str, dict[str, Any]]] = [
    (limits.RATE_WPM, "message", {"title": "通知", "text": "注意安全。"}),
    (limits.VOLUME, "message", {"title": "通知", "text": "注意安全。"}),
    (limits.GAP_S, "program", {"name": "循环", "message_ids": ("masks",)}),
    (limits.PRIORITY, "schedule", {"program_id": "prevention", "speaker_ids": ("tunli-village-1",),
                                   "weekdays": frozenset({1}), "accept_conflicts": True}),
    (limits.REPEATS, "urgent", {"text": "火警", "speaker_ids": ("tunli-village-1",),
                                "override_window": True}),
    (limits.INTERVAL_S, "urgent", {"text": "火警", "speaker_ids": ("tunli-village-1",),
                                   "override_window": True}),
]  # fmt: skip


def use_case_refuses(service: Service, kind: str, fields: dict[str, Any]) -> str | None:
    """The field the use case refuses (catalog.Invalid or a ValidationError), else None."""
    admin = User("admin", Role.ADMIN)
    try:
        if kind == "message":
            catalog.check_message(service, admin, catalog.MessageRequest(**fields), NOW)
        elif kind == "program":
            catalog.check_program(service, admin, catalog.ProgramRequest(**fields), NOW)
        elif kind == "schedule":
            catalog.check_schedule(service, admin, catalog.ScheduleRequest(**fields), NOW)
        else:
            urgent.send(service, admin, urgent.UrgentRequest(**fields), NOW, preview=True)
    except catalog.Invalid as exc:
        return exc.problems[0].field
    except ValidationError as exc:
        return str(exc).split(":", 1)[0]
    return None


@pytest.mark.parametrize(("bound", "kind", "fields"), USE_CASES)
def test_the_use_cases_take_the_declared_bounds(
    service: Service, bound: Bound[Any], kind: str, fields: dict[str, Any]
) -> None:
    name = next(n for n, b in NAMES.items() if b is bound)
    for value, ok in edges(bound):
        refused = use_case_refuses(service, kind, fields | {name: value})
        assert (refused != name) is ok, (value, refused)


NAMES = {"rate": limits.RATE_WPM, "volume": limits.VOLUME, "gap_s": limits.GAP_S,
         "priority": limits.PRIORITY, "repeats": limits.REPEATS,
         "interval_s": limits.INTERVAL_S}  # fmt: skip


# -- the user API -----------------------------------------------------------------------------

API: list[tuple[Bound[Any], str, dict[str, Any], str]] = [
    (limits.RATE_WPM, "/messages", {"title": "通知", "text": "注意安全。"}, "rate"),
    (limits.VOLUME, "/messages", {"title": "通知", "text": "注意安全。"}, "volume"),
    (limits.GAP_S, "/programs", {"name": "循环", "messages": ["masks"]}, "gap_s"),
    (limits.PRIORITY, "/schedules",
     {"program": "prevention", "speakers": ["tunli-village-1"], "weekdays": [1],
      "start": "03:00", "end": "03:10", "accept_conflicts": True}, "priority"),
    (limits.REPEATS, "/urgent",
     {"text": "紧急通知：请注意防火。", "speakers": ["tunli-village-1"], "override_window": True},
     "repeats"),
    (limits.INTERVAL_S, "/urgent",
     {"text": "紧急通知：请注意防火。", "speakers": ["tunli-village-1"], "override_window": True},
     "interval_s"),
]  # fmt: skip


def api_refuses(client: FlaskClient, service: Service, path: str, body: dict[str, Any]) -> Any:
    """The field the user API refuses `body` for (422), else None."""
    token = service.store.people.issue_token(TokenKind.USER, "admin", NOW)[1]
    response = client.post(
        f"/api/v1{path}", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    if response.status_code == 422:
        return response.get_json()["error"].get("field")
    assert response.status_code < 400 or response.status_code == 409, response.get_json()
    return None


@pytest.mark.parametrize(("bound", "path", "body", "field"), API)
def test_the_user_api_takes_the_declared_bounds(
    client: FlaskClient,
    service: Service,
    bound: Bound[Any],
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    for value, ok in edges(bound):
        refused = api_refuses(client, service, path, body | {"area": None, field: value})
        assert (refused != field) is ok, (value, refused)


def test_the_user_api_takes_the_declared_expiry(client: FlaskClient, service: Service) -> None:
    body = {"text": "紧急通知：请注意防火。", "speakers": ["tunli-village-1"],
            "override_window": True}  # fmt: skip
    for minutes, ok in edges(limits.EXPIRY_MIN):
        at = NOW + timedelta(minutes=minutes)
        refused = api_refuses(client, service, "/urgent", body | {"expires_at": at.isoformat()})
        assert (refused != "expires_at") is ok, (minutes, refused)


# -- the device API ---------------------------------------------------------------------------


def test_the_device_api_takes_the_declared_speaker_volume(
    client: FlaskClient, service: Service
) -> None:
    token = service.store.people.issue_token(TokenKind.DEVICE, "vehicle-01", NOW)[1]
    for value, ok in edges(limits.SPEAKER_VOLUME):
        response = client.post(
            "/api/v1/speakers/vehicle-01/heartbeat",
            json={"state": "idle", "volume": value},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert (response.status_code == 200) is ok, (value, response.get_json())
        if not ok:
            assert response.get_json()["error"]["field"] == "volume"


# -- the panel: the form's checks and its inputs' min/max -------------------------------------

PANEL: list[tuple[Bound[Any], str, str, dict[str, str], str]] = [
    (limits.RATE_WPM, "/messages/new", "/messages/new",
     {"title": "通知", "text": "注意安全。", "voice": "zh", "volume": "1", "area": ""}, "rate"),
    (limits.VOLUME, "/messages/new", "/messages/new",
     {"title": "通知", "text": "注意安全。", "voice": "zh", "rate": "160", "area": ""}, "volume"),
    (limits.GAP_S, "/programs/new", "/programs/new",
     {"name": "循环", "messages": "masks", "area": ""}, "gap_s"),
    (limits.PRIORITY, "/schedules/new", "/schedules/new",
     {"program": "prevention", "start": "03:00", "end": "03:10", "weekdays": "1",
      "speakers": "tunli-village-1", "enabled": "1", "accept_conflicts": "1"}, "priority"),
    (limits.SPEAKER_VOLUME, "/speakers/new", "/speakers/new",
     {"id": "new-1", "name": "新喇叭", "kind": "fixed", "area": "tunli-village"}, "volume"),
    (limits.REPEATS, "/urgent", "/urgent",
     {"source": "text", "text": "紧急通知：请注意防火。", "speakers": "tunli-village-1",
      "interval_s": "5", "expires_min": "30", "override_window": "1"}, "repeats"),
    (limits.INTERVAL_S, "/urgent", "/urgent",
     {"source": "text", "text": "紧急通知：请注意防火。", "speakers": "tunli-village-1",
      "repeats": "2", "expires_min": "30", "override_window": "1"}, "interval_s"),
    (limits.EXPIRY_MIN, "/urgent", "/urgent",
     {"source": "text", "text": "紧急通知：请注意防火。", "speakers": "tunli-village-1",
      "repeats": "2", "interval_s": "5", "override_window": "1"}, "expires_min"),
]  # fmt: skip


def number_input(page: str, name: str) -> dict[str, str]:
    match = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', page)
    assert match, f"no input {name}"
    return dict(re.findall(r'\b(min|max)="([^"]*)"', match.group(0)))


@pytest.mark.parametrize(("bound", "page_url", "url", "data", "field"), PANEL)
def test_the_panel_takes_the_declared_bounds(  # type: ignore[no-untyped-def]
    login_as,
    bound: Bound[Any],
    page_url: str,
    url: str,
    data: dict[str, str],
    field: str,
) -> None:
    client = login_as("admin")
    page = client.get(page_url).get_data(as_text=True)
    assert number_input(page, field) == {"min": f"{bound.low:g}", "max": f"{bound.high:g}"}
    for value, ok in edges(bound):
        response = post(client, url, {**data, field: text(value)})
        body = response.get_data(as_text=True)
        refused = f'id="err-{field}"' in body
        assert refused is not ok, (value, response.status_code, body[:3000])
        if not ok:
            assert response.status_code == 422


def test_the_panel_proposes_the_declared_defaults(login_as, service: Service) -> None:  # type: ignore[no-untyped-def]
    client = login_as("admin")
    urgent = client.get("/urgent").get_data(as_text=True)
    assert re.search(rf'name="expires_min"[^>]*value="{limits.EXPIRY_MIN.default}"', urgent)
    speaker = client.get("/speakers/new").get_data(as_text=True)
    assert re.search(rf'name="volume"[^>]*value="{limits.SPEAKER_VOLUME.default}"', speaker)


# -- the OpenAPI document ---------------------------------------------------------------------


def documented(method: str, path: str, field: str) -> dict[str, Any]:
    """A request field's schema as the OpenAPI document states it."""
    operation = openapi.openapi_document()["paths"][path][method]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    found: dict[str, Any] = body["properties"][field]
    return found


DOCUMENTED = [
    (("post", "/messages", "rate"), limits.RATE_WPM),
    (("patch", "/messages/{message_id}", "volume"), limits.VOLUME),
    (("post", "/programs", "gap_s"), limits.GAP_S),
    (("patch", "/schedules/{schedule_id}", "priority"), limits.PRIORITY),
    (("post", "/urgent", "repeats"), limits.REPEATS),
    (("post", "/urgent/preview", "interval_s"), limits.INTERVAL_S),
    (("post", "/speakers/{speaker_id}/heartbeat", "volume"), limits.SPEAKER_VOLUME),
]


def test_the_openapi_document_states_the_declared_id_length() -> None:
    new_id = documented("post", "/messages", "id")
    assert new_id["pattern"].endswith(f"{{1,{limits.ID_MAX}}}$")
    for method, path, field in [("post", "/urgent", "message"), ("post", "/schedules", "program")]:
        ref = documented(method, path, field)
        ref = ref["anyOf"][0] if "anyOf" in ref else ref  # an optional one: string or null
        assert ref["maxLength"] == limits.REF_MAX, (path, field)


@pytest.mark.parametrize(("where", "bound"), DOCUMENTED, ids=[d[0][2] for d in DOCUMENTED])
def test_the_openapi_document_states_the_declared_bounds(
    where: tuple[str, str, str], bound: Bound[Any]
) -> None:
    found = documented(*where)
    number = found["anyOf"][0] if "anyOf" in found else found  # an optional one: number or null
    assert (number["minimum"], number["maximum"]) == (bound.low, bound.high)
    assert number["type"] == ("integer" if isinstance(bound.default, int) else "number")
