"""Guessing passwords through the login form: throttled per account and per client address,
answering 429 with Retry-After and a clear message, with no lockout an attacker can use
against the real user. Unknown and inactive accounts take the same path as a wrong password
(their failures count alike; bench/login_timing.py shows they cost the same time)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from crm.db import Database
from crm.models import LoginFailure, User
from crm.services.throttle import ACCOUNT_LIMIT, ADDRESS_LIMIT
from crm.settings import Settings
from tests.conftest import World, count, csrf_of
from web import create_app

ATTACKER = "10.6.6.6"
JANA_PC = "10.0.0.7"


def attempt(
    client: FlaskClient,
    email: str,
    password: str,
    address: str = ATTACKER,
    headers: dict[str, str] | None = None,
) -> TestResponse:
    client.get("/login", environ_base={"REMOTE_ADDR": address})
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(client)},
        environ_base={"REMOTE_ADDR": address},
        headers=headers or {},
    )


def retry_after(response: TestResponse) -> int:
    assert response.status_code == 429, response.status_code
    return int(response.headers["Retry-After"])


def time_passes(database: Database, seconds: int) -> None:
    """Move every recorded failure back in time (what waiting would do)."""
    with database.session() as s:
        for failure in s.scalars(select(LoginFailure)):
            failure.failed_at -= dt.timedelta(seconds=seconds)


def test_a_loop_of_wrong_passwords_is_stopped(client: FlaskClient, world: World) -> None:
    for _ in range(ACCOUNT_LIMIT):
        assert attempt(client, "jana@firma.cz", "hádám heslo").status_code == 401
    blocked = attempt(client, "jana@firma.cz", "hádám znovu")
    assert 0 < retry_after(blocked) <= 30
    page = blocked.get_data(as_text=True)
    assert "Too many failed attempts; try again in 1 minute." in page
    assert "Wrong email or password." not in page
    # while it waits, not even the right password is checked from there
    assert retry_after(attempt(client, "jana@firma.cz", World.password)) > 0
    assert client.get("/partners/").status_code == 302


def test_the_real_user_still_gets_in_from_elsewhere(app: Flask, world: World) -> None:
    attacker = app.test_client()
    for _ in range(3 * ACCOUNT_LIMIT):
        attempt(attacker, "jana@firma.cz", "hádám heslo")
    assert retry_after(attempt(attacker, "jana@firma.cz", "hádám")) > 0
    jana = app.test_client()
    assert attempt(jana, "jana@firma.cz", World.password, JANA_PC).status_code == 302
    assert jana.get("/partners/").status_code == 200
    assert retry_after(attempt(attacker, "jana@firma.cz", World.password)) > 0  # still waits


def test_a_user_who_mistypes_under_attack_waits_briefly(app: Flask, world: World) -> None:
    attacker = app.test_client()
    for _ in range(3 * ACCOUNT_LIMIT):
        attempt(attacker, "jana@firma.cz", "hádám heslo")
    jana = app.test_client()
    assert attempt(jana, "jana@firma.cz", "překlep", JANA_PC).status_code == 401
    # her own failure counts, the attacker's do not: half a minute, not a quarter of an hour
    assert retry_after(attempt(jana, "jana@firma.cz", World.password, JANA_PC)) <= 30


def test_the_wait_grows_and_ends(client: FlaskClient, database: Database, world: World) -> None:
    for _ in range(ACCOUNT_LIMIT):
        attempt(client, "jana@firma.cz", "hádám heslo")
    first = retry_after(attempt(client, "jana@firma.cz", "x"))
    time_passes(database, first + 1)
    assert attempt(client, "jana@firma.cz", "hádám zase").status_code == 401
    second = retry_after(attempt(client, "jana@firma.cz", "x"))
    assert 30 < second <= 60  # doubled
    time_passes(database, 15 * 60)  # the whole window: everything forgotten
    assert attempt(client, "jana@firma.cz", World.password).status_code == 302
    assert count(database, LoginFailure) == 0


def test_a_successful_login_forgets_the_failures(
    client: FlaskClient, database: Database, world: World
) -> None:
    for _ in range(ACCOUNT_LIMIT - 1):
        attempt(client, "jana@firma.cz", "překlep")
    assert attempt(client, "jana@firma.cz", World.password).status_code == 302
    assert count(database, LoginFailure) == 0
    for _ in range(ACCOUNT_LIMIT - 1):
        assert attempt(client, "jana@firma.cz", "překlep").status_code == 401


def test_one_address_cannot_spray_many_accounts(client: FlaskClient, world: World) -> None:
    emails = [f"kdo{i}@firma.cz" for i in range(ADDRESS_LIMIT)]
    for email in emails:
        assert attempt(client, email, "heslo123").status_code == 401
    assert retry_after(attempt(client, "petr@firma.cz", World.password)) > 0
    assert attempt(client, "petr@firma.cz", World.password, JANA_PC).status_code == 302


@pytest.mark.parametrize("who", ["unknown", "inactive", "no password"])
def test_unknown_and_inactive_accounts_take_the_same_path(
    client: FlaskClient, database: Database, world: World, who: str
) -> None:
    """Each answer is the one a wrong password gets, and each counts as a failure (the same
    code path: the password check runs against a stand-in hash, crm.passwords)."""
    email = {"unknown": "nikdo@firma.cz", "inactive": "petr@firma.cz"}.get(who, "jana@firma.cz")
    with database.session() as s:
        user = s.get(User, world.sales_a2.id if who == "inactive" else world.sales_a.id)
        assert user is not None
        if who == "inactive":
            user.active = False
        if who == "no password":
            user.password_hash = None
    known = attempt(client, "zofia@firma.pl", "hádám heslo", "10.9.9.9")
    for n in range(1, ACCOUNT_LIMIT + 1):
        response = attempt(client, email, World.password)
        assert response.status_code == 401
        assert response.get_data(as_text=True) == known.get_data(as_text=True).replace(
            "zofia@firma.pl", email
        )
        assert count(database, LoginFailure) == n + 1
    assert retry_after(attempt(client, email, World.password)) > 0


def test_forged_forwarded_for_is_not_believed(client: FlaskClient, world: World) -> None:
    for i in range(ACCOUNT_LIMIT):
        forged = {"X-Forwarded-For": f"192.0.2.{i}"}
        attempt(client, "jana@firma.cz", "hádám", headers=forged)
    blocked = attempt(client, "jana@firma.cz", "x", headers={"X-Forwarded-For": "192.0.2.99"})
    assert retry_after(blocked) > 0


def test_behind_a_trusted_proxy_the_forwarded_address_counts(
    settings: Settings, database: Database, world: World
) -> None:
    app = create_app(dataclasses.replace(settings, trusted_proxies=1), database)
    app.config["TESTING"] = True
    client = app.test_client()
    proxy = "10.0.0.1"  # every request comes from the proxy
    for _ in range(ACCOUNT_LIMIT):
        attempt(client, "jana@firma.cz", "hádám", proxy, {"X-Forwarded-For": ATTACKER})
    assert retry_after(attempt(client, "jana@firma.cz", "x", proxy, {"X-Forwarded-For": ATTACKER}))
    jana = {"X-Forwarded-For": JANA_PC}
    assert attempt(client, "jana@firma.cz", World.password, proxy, jana).status_code == 302


def test_the_message_is_in_czech(client: FlaskClient, world: World) -> None:
    czech = {"Accept-Language": "cs"}
    for _ in range(ACCOUNT_LIMIT):
        attempt(client, "jana@firma.cz", "hádám", headers=czech)
    blocked = attempt(client, "jana@firma.cz", "x", headers=czech)
    assert retry_after(blocked) > 0
    assert "Příliš mnoho neúspěšných pokusů; zkuste to znovu za 1 minutu." in blocked.text
