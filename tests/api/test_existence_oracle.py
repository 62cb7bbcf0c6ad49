"""No answer tells a salesperson about records they cannot see (issue 8, finding 10).

A company ID (IČO) stays unique in the whole database, but a clash with a partner the user
cannot see says only that the ID is taken, never whose (no name, id, owner or team), so an
admin resolves it; a clash with a visible partner keeps the helpful answer and the form links
to it. The siblings (mail domains, persons' emails, deal titles) have no uniqueness to leak.
Through the API, the web form and the import (the command's report and the upload page).
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from crm.db import Database
from crm.services.importer import import_partners
from tests.api.conftest import Api, ApiFor
from tests.conftest import World, login, post_form
from tests.web.conftest import field_error

COMPANY_ID = "27082440"
HIDDEN = (
    f"company ID {COMPANY_ID} is taken by a partner you cannot see; an administrator can resolve it"
)
HIDDEN_REASON = (
    "this company ID is taken by a partner you cannot see; an administrator can resolve it"
)


@pytest.fixture
def zofias(api_for: ApiFor, world: World) -> dict[str, Any]:
    """Tým B's partner with the IČO, a mail domain, a person and a deal."""
    zofia = api_for(world.sales_b)
    partner = zofia.post(
        "/api/v1/partners",
        {"name": "Budowy Łódź sp. z o.o.", "company_id": COMPANY_ID, "domains": ["budowy-lodz.pl"]},
    )
    assert partner.status_code == 201, partner.get_json()
    body = dict(partner.get_json())
    person = zofia.post(
        "/api/v1/persons",
        {"partner_id": body["id"], "name": "Tajná Osoba", "emails": ["prezes@budowy-lodz.pl"]},
    )
    deal = zofia.post("/api/v1/deals", {"title": "Hala Łódź", "partner_id": body["id"]})
    assert person.status_code == 201 and deal.status_code == 201
    return body


def leaks(answer: str, partner: dict[str, Any]) -> list[str]:
    """What of the hidden partner an answer gives away."""
    told = [w for w in ("Budowy", "Łódź", "Zofia", "Wójcik", "Tým B") if w in answer]
    if re.search(rf"\b(partner|id)\W+{partner['id']}\b", answer):
        told.append("its id")
    return told


def test_creating_with_a_hidden_partners_company_id_says_only_that_it_is_taken(
    api: Api, zofias: dict[str, Any]
) -> None:
    response = api.post("/api/v1/partners", {"name": "Stavby Příbram", "company_id": COMPANY_ID})
    assert response.status_code == 409
    assert response.get_json() == {"error": {"code": "conflict", "message": HIDDEN}}
    assert leaks(response.get_data(as_text=True), zofias) == []
    assert api.get("/api/v1/partners").get_json()["total"] == 0


def test_changing_to_a_hidden_partners_company_id_says_the_same(
    api: Api, zofias: dict[str, Any]
) -> None:
    mine = api.post("/api/v1/partners", {"name": "Stavby Příbram", "company_id": "25123891"})
    url = f"/api/v1/partners/{mine.get_json()['id']}"
    for change in (api.patch, api.put):
        response = change(url, {"name": "Stavby Příbram", "company_id": COMPANY_ID})
        assert response.status_code == 409
        assert response.get_json()["error"]["message"] == HIDDEN
    assert api.get(url).get_json()["company_id"] == "25123891"


def test_a_colleagues_private_partner_is_hidden_too(
    api: Api, api_for: ApiFor, world: World
) -> None:
    petr = api_for(world.sales_a2)
    private = petr.post(
        "/api/v1/partners",
        {"name": "Petrova tajná firma", "company_id": COMPANY_ID, "private": True},
    )
    assert private.status_code == 201
    response = api.post("/api/v1/partners", {"name": "Kopie", "company_id": COMPANY_ID})
    assert response.get_json()["error"]["message"] == HIDDEN
    assert "Petr" not in response.get_data(as_text=True)


def test_a_visible_clash_keeps_the_helpful_answer(
    api: Api, api_for: ApiFor, world: World, zofias: dict[str, Any]
) -> None:
    # The admin sees every partner, so the admin is the one who can resolve a hidden clash.
    admin = api_for(world.admin)
    response = admin.post("/api/v1/partners", {"name": "Kopie", "company_id": COMPANY_ID})
    assert response.status_code == 409
    assert response.get_json()["error"]["message"] == (
        f"a partner with company ID {COMPANY_ID} already exists"
    )
    own = api.post("/api/v1/partners", {"name": "Janina", "company_id": "25123891"})
    assert own.status_code == 201
    again = api_for(world.sales_a2).post(
        "/api/v1/partners", {"name": "Kopie", "company_id": "25123891"}
    )
    assert again.get_json()["error"]["message"] == (
        "a partner with company ID 25123891 already exists"
    )


def test_the_form_names_a_visible_partner_with_a_link_and_a_hidden_one_not(
    client: FlaskClient, world: World, zofias: dict[str, Any]
) -> None:
    login(client, world.sales_a)
    hidden = post_form(client, "/partners/new", {"name": "Stavby", "company_id": COMPANY_ID})
    assert hidden.status_code == 422
    page = hidden.get_data(as_text=True)
    assert field_error(page, "company_id") == HIDDEN_REASON
    assert leaks(page, zofias) == [] and f"/partners/{zofias['id']}" not in page
    mine = post_form(client, "/partners/new", {"name": "Janina firma", "company_id": "25123891"})
    assert mine.status_code == 302
    mine_url = mine.headers["Location"]
    visible = post_form(client, "/partners/new", {"name": "Kopie", "company_id": "25123891"})
    page = visible.get_data(as_text=True)
    assert field_error(page, "company_id") == "a partner with this company ID already exists"
    assert re.search(rf'<a href="{re.escape(mine_url)}">Open Janina firma</a>', page)


def test_the_import_report_says_only_that_it_is_taken(
    database: Database, world: World, zofias: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "partneri.csv"
    path.write_text(f"Název;IČO\nStavby Příbram;{COMPANY_ID}\nNová firma;12345678\n")
    report = import_partners(database, path, world.sales_a.email)
    assert report.lines[0] == f"row 2: refused: company_id: {HIDDEN}"
    assert leaks("\n".join(report.lines), zofias) == []
    assert (report.created, report.refused) == (1, 1)


def test_the_import_page_says_only_that_it_is_taken(
    client: FlaskClient, world: World, zofias: dict[str, Any]
) -> None:
    login(client, world.sales_a)
    upload = (io.BytesIO(f"name;company_id\nStavby;{COMPANY_ID}\n".encode()), "p.csv")
    response = post_form(
        client, "/partners/import", {"file": upload}, content_type="multipart/form-data"
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert HIDDEN in page and leaks(page, zofias) == []


def test_domains_emails_and_titles_of_hidden_records_are_not_revealed(
    api: Api, zofias: dict[str, Any], tmp_path: Path, database: Database, world: World
) -> None:
    # A mail domain is not unique (two partners may share one): adding it tells nothing.
    same_domain = api.post(
        "/api/v1/partners", {"name": "Stavby Příbram", "domains": ["budowy-lodz.pl"]}
    )
    assert same_domain.status_code == 201
    assert leaks(same_domain.get_data(as_text=True), zofias) == []
    listed = api.get("/api/v1/partners", domain="budowy-lodz.pl").get_json()
    assert [p["name"] for p in listed["items"]] == ["Stavby Příbram"]
    mine = same_domain.get_json()["id"]
    person = api.post(
        "/api/v1/persons",
        {"partner_id": mine, "name": "Jan", "emails": ["prezes@budowy-lodz.pl"]},
    )
    assert person.status_code == 201 and leaks(person.get_data(as_text=True), zofias) == []
    deal = api.post("/api/v1/deals", {"title": "Hala Łódź", "partner_id": mine})
    assert deal.status_code == 201
    path = tmp_path / "d.csv"
    path.write_text("name;domains\nDruhá firma;budowy-lodz.pl\n")
    report = import_partners(database, path, world.sales_a.email)
    assert report.refused == 0 and leaks("\n".join(report.lines), zofias) == []
