"""Every page renders for every role on the demo data, in English and in Czech."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from crm.db import Database
from crm.demo import DEMO_PASSWORD, DEMO_USERS, load_demo
from tests.conftest import login

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def demo(database: Database) -> Database:
    assert load_demo(database) is not None
    assert load_demo(database) is None  # loading twice adds nothing
    return database


def links(html: str, prefix: str) -> list[str]:
    return sorted(set(re.findall(rf'href="({prefix}\d+)"', html)))[:5]


@pytest.mark.parametrize(
    ("email", "language"),
    [(u[0], "en") for u in DEMO_USERS]
    + [
        ("jana@demo.dossier.cz", "cs"),
        ("admin@demo.dossier.cz", "cs"),
        ("lucia@demo.dossier.cz", "sk"),
        ("tomasz@demo.dossier.cz", "pl"),
    ],
)
def test_every_page_renders(client: FlaskClient, demo: Database, email: str, language: str) -> None:
    login(client, email, DEMO_PASSWORD)
    client.post("/language", data={"language": language, "csrf_token": _csrf(client)})
    pages = [
        "/partners/",
        "/deals/",
        "/activities/",
        "/persons/",
        "/account",
        "/partners/new",
        "/activities/new",
        "/deals/new",
        "/partners/?sort=-region",
        "/deals/?sort=stage&status=open",
        "/activities/?done=false&sort=-due_date",
    ]
    for listing, prefix in (
        ("/partners/", "/partners/"),
        ("/deals/", "/deals/"),
        ("/activities/", "/activities/"),
        ("/persons/", "/persons/"),
    ):
        pages += links(client.get(listing).get_data(as_text=True), prefix)
    deal = links(client.get("/deals/").get_data(as_text=True), "/deals/")[0]
    pages += [f"{deal}/edit", f"{deal}/actions/meeting", f"{deal}/actions/close"]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        assert "<title>" in response.get_data(as_text=True)
    admin = client.get("/admin/codebooks")
    assert admin.status_code == (200 if email.startswith("admin") else 403)


def _csrf(client: FlaskClient) -> str:
    from tests.conftest import csrf_of

    return csrf_of(client)
