"""Loading config.yaml: the sample loads; every mistake is named by file, key path and expectation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from broadcaster.config import load_settings
from broadcaster.errors import ConfigError
from tests.conftest import SAMPLE_CONFIG

MINIMAL = """\
deployment:
  name: 测试
  timezone: Asia/Shanghai
"""


def test_sample_deployment_has_what_the_issues_promise(settings):
    assert settings.zone.key == "Asia/Shanghai"
    vehicles = [s for s in settings.speakers if s.kind.value == "vehicle"]
    assert [v.id for v in vehicles] == [f"vehicle-{i:02d}" for i in range(1, 24)]
    assert [v.name for v in vehicles] == [f"宣传车{i:02d}" for i in range(1, 24)]
    assert all(v.route is not None and len(v.route.stops) >= 3 for v in vehicles)
    assert all(stop.lat is not None for v in vehicles for stop in v.route.stops)
    assert len(settings.messages) >= 8
    assert settings.default_window == (dt.time(7), dt.time(19))
    village_speakers = {s.id for s in settings.speakers if s.kind.value == "fixed"}
    own = {sp for sch in settings.schedules for sp in sch.speaker_ids if sp in village_speakers}
    assert len(own) >= 2, "at least two village loudspeakers have their own schedules"
    assert settings.lexicon["洪洞"] == "洪同"


def test_times_stay_strings_not_base_60_numbers(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        MINIMAL
        + "programs:\n  - {id: p, messages: [m]}\nschedules:\n  - {id: s, program: p, speakers: [x], start: 07:30, end: 19:00}\n"
    )
    schedule = load_settings(path).schedules[0]
    assert (schedule.start, schedule.end) == (dt.time(7, 30), dt.time(19))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", "(top level): expected a mapping", id="empty-file"),
        pytest.param(
            "deployment: {name: x}\n",
            "deployment.timezone: required key is missing",
            id="missing-zone",
        ),
        pytest.param(
            MINIMAL.replace("Asia/Shanghai", "Asia/Nowhere"),
            "deployment.timezone: expected an IANA time zone",
            id="bad-zone",
        ),
        pytest.param(
            MINIMAL + "audio: {rate: fast}\n",
            "audio.rate: expected a whole number from 80 to 400, got 'fast'",
            id="bad-rate",
        ),
        pytest.param(
            MINIMAL + "audio: {volume: 3}\n",
            "audio.volume: expected a number from 0.01 to 1.0",
            id="volume-range",
        ),
        pytest.param(
            MINIMAL + "audio: {rat: 150}\n", "audio.rat: unknown key (allowed here:", id="typo-key"
        ),
        pytest.param(
            MINIMAL + "server: {port: 70000}\n",
            "server.port: expected a whole number from 1 to 65535",
            id="bad-port",
        ),
        pytest.param(
            MINIMAL + "schedules:\n  - {id: s, program: p, speakers: [a], start: '25:00'}\n",
            'schedules[0].start: expected a time of day as "HH:MM"',
            id="bad-time",
        ),
        pytest.param(
            MINIMAL
            + "schedules:\n  - {id: s, program: p, speakers: [a], weekdays: [mon, funday]}\n",
            "schedules[0].weekdays[1]: expected a weekday",
            id="bad-weekday",
        ),
        pytest.param(
            MINIMAL + "schedules:\n  - {id: s, program: p, speakers: [a], from: '2026-13-01'}\n",
            'schedules[0].from: expected a date as "YYYY-MM-DD"',
            id="bad-date",
        ),
        pytest.param(
            MINIMAL + "schedules:\n  - {id: s, program: p}\n",
            "schedules[0]: expected a schedule with `speakers` or `areas`",
            id="no-targets",
        ),
        pytest.param(
            MINIMAL + "programs:\n  - {id: p, messages: []}\n",
            "programs[0].messages: expected at least one message id",
            id="empty-program",
        ),
        pytest.param(
            MINIMAL + "speakers:\n  - {id: s, name: x, kind: boat, area: a}\n",
            "speakers[0]: speaker s.kind: 'boat' is not one of vehicle, fixed",
            id="bad-kind",
        ),
        pytest.param(
            MINIMAL + "speakers:\n  - {id: s, name: x, kind: fixed, area: a, route: [北街]}\n",
            "speakers[0]: speaker s.route: only vehicles have a route",
            id="route-on-fixed",
        ),
        pytest.param(
            MINIMAL + "messages:\n  - {id: m, title: t}\n",
            "messages[0].text: required key is missing",
            id="message-without-text",
        ),
        pytest.param(
            MINIMAL
            + "areas:\n  - {id: a, name: x, kind: district, children: [{id: b, name: y}]}\n",
            "areas[0].children[0].kind: required key is missing",
            id="nested-area",
        ),
        pytest.param(
            MINIMAL + "server: {trusted_proxies: [10.0.0.1, nginx.local]}\n",
            "server.trusted_proxies[1]: expected an IP address or network",
            id="proxy-not-an-address",
        ),
        pytest.param(
            MINIMAL + "server: {trusted_proxies: [10.0.0.5/24]}\n",
            "server.trusted_proxies[0]: expected an IP address or network",
            id="proxy-network-with-host-bits",
        ),
        pytest.param(
            MINIMAL + "server: {trusted_proxies: 127.0.0.1}\n",
            "server.trusted_proxies: expected a list",
            id="proxies-not-a-list",
        ),
        pytest.param(
            MINIMAL + "server: {trusted_proxies: [8080]}\n",
            "server.trusted_proxies[0]: expected an IP address or network as a string",
            id="proxy-a-number",
        ),
        pytest.param("deployment: [1, 2\n", "not valid YAML", id="broken-yaml"),
    ],
)
def test_bad_config_names_file_key_and_expectation(tmp_path, text, expected):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:")
    assert expected in message


def test_trusted_proxies_are_addresses_and_networks(tmp_path, settings):
    import ipaddress

    assert settings.server.trusted_proxies == ()  # the sample trusts no proxy
    path = tmp_path / "config.yaml"
    path.write_text(MINIMAL + "server:\n  trusted_proxies: [127.0.0.1, '::1', 10.8.0.0/16]\n")
    assert load_settings(path).server.trusted_proxies == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("::1/128"),
        ipaddress.ip_network("10.8.0.0/16"),
    )


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"missing\.yaml: file not found"):
        load_settings(tmp_path / "missing.yaml")


def test_sample_config_file_is_the_one_in_the_repository():
    assert Path(__file__).resolve().parents[2] / "config.yaml" == SAMPLE_CONFIG
