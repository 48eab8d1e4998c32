"""The login throttle (issue 10, item 4): it holds against interleaved decoys, an address
rotating names and proxied addresses, and unknown names cost a password check too.

Uses the tests/web fixtures: `service` (a fresh SQLite store), `app`, `settings`, `clock`.
The real-server side is tests/integration/test_login_throttle.py.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

import broadcaster.passwords as passwords
from broadcaster.config import Settings
from broadcaster.models import Role, User
from broadcaster.service import Service
from tests.web.conftest import NOW, login
from web.app import create_app

NAME_LOCK = "此用户名在这台电脑上登录失败次数过多"
ADDRESS_LOCK = "这台电脑登录失败次数过多"


def client_from(app: Flask, address: str, forwarded_for: str | None = None) -> FlaskClient:
    """A browser whose connection comes from `address` (with an X-Forwarded-For header)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    if forwarded_for is not None:
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client


def fail(client: FlaskClient, name: str, times: int = 1) -> list[int]:
    return [login(client, name, "wrong-password").status_code for _ in range(times)]


def fail_across_names(client: FlaskClient, times: int) -> list[int]:
    return [login(client, f"nobody-{i}", "wrong-password").status_code for i in range(times)]


@pytest.fixture
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Hundreds of decoy sign-ins in seconds: the hash check is counted, not computed."""
    real = passwords.check_password_hash

    def quick(pwhash: str, password: str) -> bool:
        return pwhash != passwords._dummy_hash() and real(pwhash, password)

    monkeypatch.setattr(passwords, "_dummy_hash", lambda: "dummy", raising=False)
    monkeypatch.setattr(passwords, "check_password_hash", quick)
    yield


# -- interleaved decoys -------------------------------------------------------------------


def test_failures_for_other_names_do_not_flush_the_victims_lockout(
    app: Flask, service: Service, cheap_hashing: None
) -> None:
    attacker = client_from(app, "198.51.100.7")
    assert fail(attacker, "admin", 5) == [401] * 5
    assert login(attacker, "admin").status_code == 429  # locked, even with the right password
    # 600 failures for other names (more than the old throttle read) from other addresses,
    # each address staying under its own limit.
    for i in range(600):
        decoy = client_from(app, f"10.{i // 250}.{i % 250}.1")
        assert fail(decoy, f"decoy-{i}") == [401]
    response = login(attacker, "admin")
    assert response.status_code == 429
    assert NAME_LOCK in response.get_data(as_text=True)
    assert fail(attacker, "admin") == [429]  # guessing does not go on


def test_decoys_from_the_same_address_only_lock_that_address(
    app: Flask, service: Service, cheap_hashing: None
) -> None:
    attacker = client_from(app, "198.51.100.7")
    assert fail(attacker, "admin", 5) == [401] * 5
    statuses = [fail(attacker, f"decoy-{i}")[0] for i in range(30)]
    assert statuses[:15] == [401] * 15 and statuses[15:] == [429] * 15  # 20 failures in all
    assert login(attacker, "admin").status_code == 429
    assert login(client_from(app, "192.0.2.44"), "admin").status_code == 302


# -- an address rotating names ------------------------------------------------------------


def test_an_address_guessing_across_names_is_throttled(app: Flask, service: Service) -> None:
    attacker = client_from(app, "198.51.100.8")
    names = ["admin", "chief-tunli", "chief-xiguan", "driver-01", "nobody"]
    statuses = [fail(attacker, names[i % 5])[0] for i in range(20)]
    assert statuses == [401] * 20  # four failures per name: no name is locked
    response = login(attacker, "chief-tunli")  # the right password, but the address is locked
    assert response.status_code == 429
    assert ADDRESS_LOCK in response.get_data(as_text=True)
    assert NAME_LOCK not in response.get_data(as_text=True)
    page = login(client_from(app, "198.51.100.8"), "chief-xiguan", "wrong")
    assert page.status_code == 429
    # Everyone else signs in as usual.
    assert login(client_from(app, "192.0.2.45"), "chief-tunli").status_code == 302
    throttled = service.store.journal.list_audit(action="login.throttled")
    assert throttled and throttled[0].detail == {"by": "address"}


def test_the_address_lock_message_in_english(app: Flask) -> None:
    attacker = client_from(app, "198.51.100.9")
    attacker.get("/login?lang=en")
    assert fail_across_names(attacker, 20) == [401] * 20
    page = login(attacker, "admin").get_data(as_text=True)
    assert "Too many failed sign-ins from this computer. Wait 15 minutes" in page


def test_an_ipv6_client_is_counted_by_its_64(app: Flask) -> None:
    for i in range(5):
        assert fail(client_from(app, f"2001:db8:1:2::{i + 1}"), "admin") == [401]
    assert login(client_from(app, "2001:db8:1:2::ffff"), "admin").status_code == 429
    assert login(client_from(app, "2001:db8:1:3::1"), "admin").status_code == 302


def test_the_window_still_ends(app: Flask, clock: list) -> None:  # type: ignore[type-arg]
    from datetime import timedelta

    attacker = client_from(app, "198.51.100.10")
    assert fail_across_names(attacker, 20) == [401] * 20
    assert login(attacker, "admin").status_code == 429
    clock[0] = NOW + timedelta(minutes=16)
    assert login(attacker, "admin").status_code == 302


# -- proxied addresses --------------------------------------------------------------------


def _app_behind(settings: Settings, service: Service, *proxies: str) -> Flask:
    server = dataclasses.replace(
        settings.server, trusted_proxies=tuple(ipaddress.ip_network(p) for p in proxies)
    )
    return create_app(
        dataclasses.replace(settings, server=server),
        service,
        secret_key="test-secret",
        clock=lambda: NOW,
    )


def test_behind_a_trusted_proxy_clients_are_counted_apart(
    settings: Settings, service: Service
) -> None:
    app = _app_behind(settings, service, "127.0.0.1", "10.0.0.0/8")
    proxy = "127.0.0.1"
    mallory = client_from(app, proxy, "203.0.113.5")
    assert fail(mallory, "admin", 5) == [401] * 5
    assert login(mallory, "admin").status_code == 429
    # Alice comes through the same proxy: her sign-in is not locked by Mallory's failures.
    assert login(client_from(app, proxy, "203.0.113.9"), "admin").status_code == 302
    # Mallory's made-up hops left of the one the proxy appended do not free him, nor does a
    # second trusted proxy in between.
    for spoof in ("1.2.3.4, 203.0.113.5", "203.0.113.5, 10.1.1.1", "garbage, 203.0.113.5"):
        assert login(client_from(app, proxy, spoof), "admin").status_code == 429, spoof
    failed = service.store.journal.list_audit(action="login.failed")
    assert {e.remote_addr for e in failed} == {"203.0.113.5"}
    assert {e.remote_addr for e in service.store.journal.list_audit(action="login")} == {
        "203.0.113.9"
    }


def test_behind_a_trusted_proxy_one_client_cannot_lock_everyone_out_across_names(
    settings: Settings, service: Service
) -> None:
    app = _app_behind(settings, service, "127.0.0.1")
    mallory = client_from(app, "127.0.0.1", "203.0.113.5")
    assert fail_across_names(mallory, 20) == [401] * 20
    assert login(mallory, "chief-tunli").status_code == 429
    assert login(client_from(app, "127.0.0.1", "203.0.113.9"), "chief-tunli").status_code == 302


def test_without_trusted_proxies_x_forwarded_for_is_ignored(
    app: Flask, service: Service, settings: Settings
) -> None:
    assert settings.server.trusted_proxies == ()
    for i in range(5):
        assert fail(client_from(app, "198.51.100.11", f"203.0.113.{i}"), "admin") == [401]
    assert login(client_from(app, "198.51.100.11", "203.0.113.99"), "admin").status_code == 429
    failed = service.store.journal.list_audit(action="login.failed")
    assert {e.remote_addr for e in failed} == {"198.51.100.11"}


def test_x_forwarded_for_from_a_peer_that_is_not_a_trusted_proxy_is_ignored(
    settings: Settings, service: Service
) -> None:
    app = _app_behind(settings, service, "10.0.0.1")
    for i in range(5):
        assert fail(client_from(app, "198.51.100.12", f"203.0.113.{i}"), "admin") == [401]
    assert login(client_from(app, "198.51.100.12", "203.0.113.99"), "admin").status_code == 429
    assert login(client_from(app, "10.0.0.1", "203.0.113.99"), "admin").status_code == 302


# -- no timing oracle ---------------------------------------------------------------------


@pytest.fixture
def hash_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hashes `broadcaster.passwords` checks passwords against, in order."""
    checked: list[str] = []
    real = passwords.check_password_hash

    def counting(pwhash: str, password: str) -> bool:
        checked.append(pwhash)
        return real(pwhash, password)

    monkeypatch.setattr(passwords, "check_password_hash", counting)
    return checked


def test_unknown_names_cost_one_password_check_like_known_ones(
    app: Flask, service: Service, hash_checks: list[str]
) -> None:
    store = service.store
    store.people.create_user(User("no-password", Role.CHIEF, ("tunli-village",)), NOW)
    store.people.create_user(
        User("disabled", Role.CHIEF, ("tunli-village",)),
        NOW,
        password_hash=store.people.get_user("admin").password_hash,
    )
    store.people.set_user_disabled("disabled", True)
    cases: dict[str, Callable[[], int]] = {
        "known, wrong password": lambda: fail(client_from(app, "192.0.2.1"), "admin")[0],
        "known, right password": lambda: login(client_from(app, "192.0.2.2"), "admin").status_code,
        "unknown name": lambda: fail(client_from(app, "192.0.2.3"), "no-such-user")[0],
        "empty name": lambda: fail(client_from(app, "192.0.2.4"), "")[0],
        "no password": lambda: fail(client_from(app, "192.0.2.5"), "no-password")[0],
        "disabled": lambda: login(client_from(app, "192.0.2.6"), "disabled").status_code,
    }
    scrypt = passwords.METHOD
    for case, attempt in cases.items():
        before = len(hash_checks)
        status = attempt()
        assert status == (302 if case == "known, right password" else 401), case
        new = hash_checks[before:]
        assert len(new) == 1, case
        assert new[0].startswith(scrypt + "$"), (case, new[0][:30])  # the same cost


def test_the_dummy_hash_is_made_once_with_the_same_cost() -> None:
    dummy = passwords._dummy_hash()
    assert dummy is passwords._dummy_hash()
    assert dummy.startswith(passwords.METHOD + "$")
    assert not passwords.verify_password(None, "")
