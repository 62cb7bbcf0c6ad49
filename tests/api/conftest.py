"""API test helpers: a client that sends one user's bearer token, and a Tým A partner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from crm.db import Database
from crm.models import User
from crm.services.users import create_token
from tests.conftest import World


class Api:
    """``client`` with ``Authorization: Bearer`` of one user; JSON in, JSON out."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **params: Any) -> TestResponse:
        return self.client.get(path, query_string=params, headers=self.headers)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> TestResponse:
        return self.client.post(path, json=body, headers=self.headers, **kwargs)

    def patch(self, path: str, body: Any) -> TestResponse:
        return self.client.patch(path, json=body, headers=self.headers)

    def put(self, path: str, body: Any) -> TestResponse:
        return self.client.put(path, json=body, headers=self.headers)

    def delete(self, path: str) -> TestResponse:
        return self.client.delete(path, headers=self.headers)

    def raw(self, method: str, path: str, **kwargs: Any) -> TestResponse:
        return self.client.open(path, method=method, headers=self.headers, **kwargs)


ApiFor = Callable[[User], Api]


@pytest.fixture
def api_for(client: FlaskClient, database: Database, world: World) -> ApiFor:
    tokens: dict[int, str] = {}

    def make(user: User) -> Api:
        if user.id not in tokens:
            with database.session() as s:
                tokens[user.id] = create_token(s, user.email, "tests")
        return Api(client, tokens[user.id])

    return make


@pytest.fixture
def api(api_for: ApiFor, world: World) -> Api:
    """Jana Nováková, a salesperson of Tým A."""
    return api_for(world.sales_a)


@pytest.fixture
def partner_a(api: Api) -> dict[str, Any]:
    response = api.post(
        "/api/v1/partners",
        {
            "name": "Stavby Příbram s.r.o.",
            "city": "Příbram",
            "country": "cz",
            "company_id": "27082440",
            "domains": ["stavby-pribram.cz"],
            "kind": "Customer",
        },
    )
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json())


def group_id(user: User) -> int:
    return user.group_ids[0]


from tests.mail_archive.conftest import dossier  # noqa: E402, F401  (mail tests' partner)
