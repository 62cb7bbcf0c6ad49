"""Bearer tokens are the only way into /api/v1."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from crm.db import Database
from crm.models import ApiToken, User
from crm.passwords import token_digest
from crm.services.users import create_token
from tests.api.conftest import Api, ApiFor
from tests.conftest import World, login

PATHS = ["/api/v1/partners", "/api/v1/me", "/api/v1/openapi.json", "/api/v1/no-such-thing"]


@pytest.mark.parametrize("path", PATHS)
def test_no_token_is_401_with_a_challenge(client: FlaskClient, world: World, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="Dossier API"'
    error = response.get_json()["error"]
    assert error["code"] == "unauthorized" and "Bearer" in error["message"]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer nesprávný-token",
        "Bearer " + "x" * 5000,
        "Basic amFuYUBmaXJtYS5jejpjb3JyZWN0IGhvcnNlIDE=",
        "Bearer",
        "Token abc",
    ],
)
def test_bad_token_is_401(client: FlaskClient, world: World, header: str) -> None:
    response = client.get("/api/v1/partners", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_a_wrong_token_is_named_invalid(client: FlaskClient, world: World) -> None:
    response = client.post(
        "/api/v1/partners", json={"name": "Ať"}, headers={"Authorization": "Bearer zlý"}
    )
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_the_session_cookie_alone_does_not_authenticate(client: FlaskClient, world: World) -> None:
    login(client, world.sales_a)
    assert client.get("/partners/").status_code == 200  # the cookie works for pages
    assert client.get("/api/v1/partners").status_code == 401
    response = client.post("/api/v1/partners", json={"name": "Přes cookie s.r.o."})
    assert response.status_code == 401


def test_a_valid_token_works_and_its_use_is_recorded(
    client: FlaskClient, database: Database, world: World
) -> None:
    with database.session() as s:
        token = create_token(s, world.sales_a.email, "Outlook")
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
        assert row is not None and row.last_used_at is None
    response = client.get("/api/v1/me", headers={"Authorization": f"bearer  {token} "})
    assert response.status_code == 200
    me = response.get_json()
    assert me["email"] == "jana@firma.cz" and me["name"] == "Jana Nováková"
    assert me["role"] == "sales" and [g["name"] for g in me["groups"]] == ["Tým A"]
    with database.session() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
        assert row is not None and row.last_used_at is not None
        assert token not in {row.token_hash, row.label}  # stored hashed


def test_a_deactivated_users_token_stops_working(
    api: Api, database: Database, world: World
) -> None:
    assert api.get("/api/v1/me").status_code == 200
    with database.session() as s:
        user = s.get(User, world.sales_a.id)
        assert user is not None
        user.active = False
    assert api.get("/api/v1/me").status_code == 401


def test_api_needs_no_csrf_token(api_for: ApiFor, world: World) -> None:
    response = api_for(world.admin).post("/api/v1/partners", {"name": "Bez CSRF a.s."})
    assert response.status_code == 201
