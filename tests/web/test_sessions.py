"""Web sessions end for real: a copied session cookie stops working after logout, a password
change, an admin's "sign out everywhere", a deactivation, a restore; the account page lists them.
The session cookie is Secure over HTTPS (behind a trusted proxy too), with HSTS."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from crm.backup import backup, restore
from crm.db import Database
from crm.models import UserSession, utcnow
from crm.passwords import token_digest
from crm.services.users import create_token
from crm.settings import Settings
from tests.conftest import World, login, post_form
from tests.web.conftest import flashes, text
from web import create_app

COOKIE = "dossier_session"
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)


def logged_in(app: Flask, world_user: object, agent: str = FIREFOX_LINUX) -> FlaskClient:
    browser = app.test_client()
    browser.environ_base["HTTP_USER_AGENT"] = agent
    login(browser, world_user)  # type: ignore[arg-type]
    return browser


def copy_of(app: Flask, browser: FlaskClient) -> FlaskClient:
    """Another browser given the first one's session cookie (stolen, or left on a PC)."""
    cookie = browser.get_cookie(COOKIE)
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie(COOKIE, cookie.value)
    return thief


def can_see_pages(browser: FlaskClient) -> bool:
    response = browser.get("/partners/")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def session_id(browser: FlaskClient) -> str:
    with browser.session_transaction() as sess:
        return str(sess["sid"])


def test_a_copied_cookie_stops_working_at_logout(app: Flask, world: World) -> None:
    laptop = logged_in(app, world.sales_a)
    thief = copy_of(app, laptop)
    assert can_see_pages(thief)
    assert post_form(laptop, "/logout", {}).status_code == 302
    assert not can_see_pages(thief)
    assert not can_see_pages(laptop)


def test_only_the_hash_of_the_session_id_is_stored(
    app: Flask, world: World, database: Database
) -> None:
    laptop = logged_in(app, world.sales_a)
    sid = session_id(laptop)
    with database.session(write=False) as s:
        hashes = list(s.scalars(select(UserSession.token_hash)))
    assert hashes == [token_digest(sid)]
    assert sid not in hashes


def test_a_made_up_session_id_is_not_logged_in(app: Flask, world: World) -> None:
    browser = app.test_client()
    for forged in ("x" * 43, "", 12, "a" * 5000):
        with browser.session_transaction() as sess:
            sess["sid"] = forged
        assert not can_see_pages(browser)


def test_a_password_change_ends_every_other_session(app: Flask, world: World) -> None:
    laptop = logged_in(app, world.sales_a)
    phone = logged_in(app, world.sales_a, SAFARI_IPHONE)
    thief = copy_of(app, laptop)
    account = laptop.get("/account").get_data(as_text=True)
    assert "signs you out on every other computer" in text(account)
    new = "nové heslo 2026"
    changed = post_form(
        laptop,
        "/account",
        {"current_password": World.password, "new_password": new, "confirm_password": new},
        follow_redirects=True,
    )
    assert "your other sessions have been signed out" in " ".join(flashes(changed.text))
    assert can_see_pages(laptop)  # the browser the password was changed in goes on
    assert not can_see_pages(phone)
    assert not can_see_pages(thief)  # even a copy of the laptop's own cookie has ended
    login(phone, world.sales_a, new)
    assert can_see_pages(phone)


def test_an_admin_signs_a_user_out_everywhere(app: Flask, world: World) -> None:
    laptop = logged_in(app, world.sales_a)
    phone = logged_in(app, world.sales_a, SAFARI_IPHONE)
    colleague = logged_in(app, world.sales_a2)
    admin = logged_in(app, world.admin)
    page = admin.get(f"/admin/users/{world.sales_a.id}").get_data(as_text=True)
    assert "Sign out everywhere" in page
    done = post_form(admin, f"/admin/users/{world.sales_a.id}/sign-out", {}, follow_redirects=True)
    assert "Signed out everywhere: 2 sessions ended." in flashes(done.text)
    assert not can_see_pages(laptop) and not can_see_pages(phone)
    assert can_see_pages(colleague) and can_see_pages(admin)
    again = post_form(admin, f"/admin/users/{world.sales_a.id}/sign-out", {}, follow_redirects=True)
    assert "The user had no open sessions." in flashes(again.text)
    login(laptop, world.sales_a)  # signing out is no lockout
    assert can_see_pages(laptop)


def test_only_an_admin_may_sign_others_out(app: Flask, world: World) -> None:
    victim = logged_in(app, world.sales_a2)
    for who in (world.sales_a, world.manager_a):
        response = post_form(logged_in(app, who), f"/admin/users/{world.sales_a2.id}/sign-out", {})
        assert response.status_code == 403
    assert can_see_pages(victim)
    admin = logged_in(app, world.admin)
    assert post_form(admin, "/admin/users/999999/sign-out", {}).status_code == 404


def user_form(world: World, **changes: str) -> dict[str, object]:
    form: dict[str, object] = {
        "name": "Jana Nováková",
        "role": "sales",
        "language": "en",
        "group_ids": [str(g.id) for g in world.sales_a.groups],
        "active": "1",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v != ""}


def test_deactivation_ends_the_sessions_for_good(app: Flask, world: World) -> None:
    laptop = logged_in(app, world.sales_a)
    admin = logged_in(app, world.admin)
    url = f"/admin/users/{world.sales_a.id}"
    assert post_form(admin, url, user_form(world, active="")).status_code == 302
    assert not can_see_pages(laptop)
    assert post_form(admin, url, user_form(world)).status_code == 302  # active again
    assert not can_see_pages(laptop)  # the old cookie does not come back to life
    login(laptop, world.sales_a)
    assert can_see_pages(laptop)


def test_a_password_set_by_the_admin_ends_the_sessions(app: Flask, world: World) -> None:
    laptop = logged_in(app, world.sales_a)
    admin = logged_in(app, world.admin)
    other_admin_tab = copy_of(app, admin)
    url = f"/admin/users/{world.sales_a.id}"
    assert post_form(admin, url, user_form(world, password="nové heslo 2026")).status_code == 302
    assert not can_see_pages(laptop)
    # an admin setting their own password stays logged in in that session
    own = {
        "name": world.admin.name,
        "role": "admin",
        "language": "en",
        "group_ids": [str(g.id) for g in world.admin.groups],
        "active": "1",
        "password": "admin heslo 2026",
    }
    assert post_form(admin, f"/admin/users/{world.admin.id}", own).status_code == 302
    assert can_see_pages(admin)
    assert not can_see_pages(other_admin_tab)


def test_the_account_page_lists_sessions_and_signs_out_the_others(app: Flask, world: World) -> None:
    laptop = logged_in(app, world.sales_a)
    phone = logged_in(app, world.sales_a, SAFARI_IPHONE)
    thief = copy_of(app, laptop)
    colleague = logged_in(app, world.sales_a2)  # a colleague's session is not Jana's business
    page = text(laptop.get("/account").get_data(as_text=True))
    assert "Where you are logged in" in page
    assert "Firefox, Linux this session" in page
    assert "Safari, iOS" in page and "Safari, iOS this session" not in page
    assert page.count("127.0.0.1") == 2
    done = post_form(laptop, "/account/sessions/sign-out-others", {}, follow_redirects=True)
    assert "Your other sessions have been signed out." in flashes(done.text)
    assert not can_see_pages(phone) and not can_see_pages(thief)
    assert can_see_pages(laptop) and can_see_pages(colleague)
    page = text(laptop.get("/account").get_data(as_text=True))
    assert "Firefox, Linux this session" in page and "Safari" not in page
    assert "Sign out other sessions" not in page  # nothing left to sign out


def test_last_seen_is_written_at_most_once_a_minute(
    app: Flask, world: World, database: Database
) -> None:
    laptop = logged_in(app, world.sales_a)

    def last_seen() -> dt.datetime:
        with database.session(write=False) as s:
            found = s.scalar(select(UserSession.last_seen_at))
            assert found is not None
            return found

    first = last_seen()
    assert can_see_pages(laptop)
    assert last_seen() == first  # a page view a moment later writes nothing
    earlier = utcnow() - dt.timedelta(minutes=5)
    with database.session() as s:
        s.execute(update(UserSession).values(last_seen_at=earlier))
    assert can_see_pages(laptop)
    assert last_seen() > earlier + dt.timedelta(minutes=4)


def test_a_session_unused_for_14_days_has_ended(
    app: Flask, world: World, database: Database
) -> None:
    laptop = logged_in(app, world.sales_a)
    with database.session() as s:
        s.execute(update(UserSession).values(last_seen_at=utcnow() - dt.timedelta(days=15)))
    assert not can_see_pages(laptop)


def test_a_restore_brings_back_tokens_but_no_session(
    app: Flask, world: World, database: Database, settings: Settings, tmp_path: Path
) -> None:
    laptop = logged_in(app, world.sales_a)
    with database.session() as s:
        token = create_token(s, world.sales_a.email, "Outlook")
    archive = tmp_path / "backup.tar.gz"
    summary = backup(settings, archive)
    assert "users 5" in summary and "api_tokens 1" in summary
    assert "user_sessions" not in summary  # no session rows in the archive
    restore(settings, archive)
    assert not can_see_pages(laptop)
    bearer = {"Authorization": f"Bearer {token}"}
    assert app.test_client().get("/api/v1/me", headers=bearer).status_code == 200
    login(laptop, world.sales_a)
    assert can_see_pages(laptop)


# -- HTTPS ---------------------------------------------------------------------------------------


def app_with(settings: Settings, database: Database, **options: object) -> Flask:
    flask_app = create_app(dataclasses.replace(settings, **options), database)  # type: ignore[arg-type]
    flask_app.config["TESTING"] = True
    return flask_app


def login_response(browser: FlaskClient, base_url: str, **headers: str) -> tuple[str, str]:
    """The Set-Cookie and Strict-Transport-Security of a login."""
    browser.get("/login", base_url=base_url, headers=headers)
    with browser.session_transaction() as sess:
        csrf = str(sess.get("csrf", ""))
    response = browser.post(
        "/login",
        base_url=base_url,
        headers=headers,
        data={"email": "jana@firma.cz", "password": World.password, "csrf_token": csrf},
    )
    assert response.status_code == 302, response.text
    return response.headers.get("Set-Cookie", ""), response.headers.get(
        "Strict-Transport-Security", ""
    )


@pytest.mark.parametrize(
    ("https", "proxies", "base_url", "headers", "secure"),
    [
        ("auto", 0, "http://localhost", {}, False),
        ("auto", 0, "https://localhost", {}, True),
        # X-Forwarded-Proto from anyone is not believed ...
        ("auto", 0, "http://localhost", {"X-Forwarded-Proto": "https"}, False),
        # ... only from the proxy the setting names
        ("auto", 1, "http://localhost", {"X-Forwarded-Proto": "https"}, True),
        ("auto", 1, "http://localhost", {"X-Forwarded-Proto": "http"}, False),
        ("on", 0, "http://localhost", {}, True),
        ("off", 0, "https://localhost", {}, False),
    ],
)
def test_the_session_cookie_is_secure_over_https(
    settings: Settings,
    database: Database,
    world: World,
    https: str,
    proxies: int,
    base_url: str,
    headers: dict[str, str],
    secure: bool,
) -> None:
    browser = app_with(settings, database, https=https, trusted_proxies=proxies).test_client()
    cookie, hsts = login_response(browser, base_url, **headers)
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert attributes[0].startswith(COOKIE + "=")
    assert "httponly" in attributes and "samesite=lax" in attributes
    assert ("secure" in attributes) is secure
    assert (hsts == "max-age=31536000") is secure


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DOSSIER_HTTPS": "yes"}, "DOSSIER_HTTPS must be one of auto, on, off"),
        ({"DOSSIER_TRUSTED_PROXIES": "-1"}, "DOSSIER_TRUSTED_PROXIES must be a whole number"),
    ],
)
def test_bad_https_settings_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env({"DOSSIER_HOME": "/tmp/x", **env})


def test_https_settings_are_read_from_the_environment() -> None:
    found = Settings.from_env(
        {"DOSSIER_HOME": "/tmp/x", "DOSSIER_HTTPS": " ON", "DOSSIER_TRUSTED_PROXIES": "2"}
    )
    assert (found.https, found.trusted_proxies) == ("on", 2)
    assert (Settings.from_env({}).https, Settings.from_env({}).trusted_proxies) == ("auto", 0)
