"""Logging in and out, CSRF, redirects, error pages and headers."""

from __future__ import annotations

from flask.testing import FlaskClient

from crm.db import Database
from crm.models import User
from tests.conftest import World, csrf_of, login, post_form


def test_pages_need_a_login(client: FlaskClient, world: World) -> None:
    response = client.get("/partners/?region=1")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/partners/")


def test_login_wrong_password_says_so(client: FlaskClient, world: World) -> None:
    client.get("/login")
    response = post_form(client, "/login", {"email": world.sales_a.email, "password": "nope"})
    assert response.status_code == 401
    assert "Wrong email or password." in response.get_data(as_text=True)
    assert client.get("/partners/").status_code == 302


def test_login_then_logout(client: FlaskClient, world: World) -> None:
    login(client, world.sales_a)
    page = client.get("/partners/").get_data(as_text=True)
    assert "Jana Nováková" in page and "Log out" in page
    assert post_form(client, "/logout", {}).status_code == 302
    assert client.get("/partners/").status_code == 302


def test_login_refuses_a_foreign_redirect(client: FlaskClient, world: World) -> None:
    client.get("/login")
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = client.post(
            f"/login?next={target}",
            data={
                "email": world.sales_a.email,
                "password": World.password,
                "csrf_token": csrf_of(client),
            },
        )
        assert response.headers["Location"] == "/"


def test_deactivated_user_is_logged_out(
    client: FlaskClient, world: World, database: Database
) -> None:
    login(client, world.sales_a)
    with database.session() as s:
        user = s.get(User, world.sales_a.id)
        assert user is not None
        user.active = False
    assert client.get("/partners/").status_code == 302


def test_forms_without_the_csrf_token_are_refused(client: FlaskClient, world: World) -> None:
    login(client, world.sales_a)
    response = client.post("/partners/new", data={"name": "Podvržená s.r.o."})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    response = client.post(
        "/partners/new", data={"name": "Podvržená s.r.o.", "csrf_token": "guessed"}
    )
    assert response.status_code == 400
    assert "Podvržená" not in client.get("/partners/").get_data(as_text=True)
    # logging out is a form too: a foreign page cannot log the user out
    assert client.post("/logout").status_code == 400


def test_change_password(client: FlaskClient, world: World) -> None:
    login(client, world.sales_a)
    bad = post_form(
        client,
        "/account",
        {"current_password": "wrong", "new_password": "x", "confirm_password": "x"},
    )
    assert bad.status_code == 422
    assert "is not your current password" in bad.get_data(as_text=True)
    ok = post_form(
        client,
        "/account",
        {
            "current_password": World.password,
            "new_password": "nové heslo 2026",
            "confirm_password": "nové heslo 2026",
        },
    )
    assert ok.status_code == 302
    post_form(client, "/logout", {})
    login(client, world.sales_a, "nové heslo 2026")


def test_error_pages_are_html_for_people_and_json_for_programs(
    client: FlaskClient, world: World
) -> None:
    login(client, world.sales_a)
    page = client.get("/partners/999999")
    assert page.status_code == 404
    assert page.mimetype == "text/html" and "Not found" in page.get_data(as_text=True)
    api = client.get("/partners/999999", headers={"Accept": "application/json"})
    assert api.status_code == 404
    assert api.get_json()["error"]["code"] == "not_found"


def test_security_headers_and_health(client: FlaskClient) -> None:
    response = client.get("/login")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/healthz").get_json()["status"] == "ok"


def test_language_switch_needs_the_csrf_token(client: FlaskClient, world: World) -> None:
    login(client, world.sales_a)
    assert client.post("/language", data={"language": "cs"}).status_code == 400
    assert 'lang="en"' in client.get("/partners/").get_data(as_text=True)
