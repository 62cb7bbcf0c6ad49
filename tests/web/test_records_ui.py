"""Deals, activities, persons and the admin pages as their users work with them."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from crm.db import Database
from crm.models import Activity, CustomField, Deal, Person, User
from crm.services import codebooks
from crm.services.activities import activities
from crm.services.deals import deals
from crm.services.partners import partners
from crm.services.persons import persons
from tests.conftest import World, login, post_form


def count(database: Database, model: type) -> int:
    with database.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def dossier(database: Database, world: World) -> dict[str, int]:
    """A Tým A partner with a person, a deal and a call, made by Jana."""
    with database.session() as s:
        p = partners.create(s, world.sales_a, {"name": "Stavby Příbram s.r.o."})
        person = persons.create(
            s,
            world.sales_a,
            {"partner_id": p.id, "name": "Jan Dvořák", "emails": "jan@stavby-pribram.cz"},
        )
        d = deals.create(
            s, world.sales_a, {"title": "Hala Příbram", "partner_id": p.id, "value": "2500000"}
        )
        a = activities.create(
            s, world.sales_a, {"kind": "call", "title": "Úvodní hovor", "deal_id": d.id}
        )
    return {"partner": p.id, "person": person.id, "deal": d.id, "activity": a.id}


def test_deal_from_partner_page_to_won(
    client: FlaskClient, world: World, dossier: dict[str, int], database: Database
) -> None:
    login(client, world.sales_a)
    form = client.get(f"/deals/new?partner_id={dossier['partner']}").get_data(as_text=True)
    assert "Stavby Příbram s.r.o." in form
    created = post_form(
        client,
        f"/deals/new?partner_id={dossier['partner']}",
        {
            "partner_id": dossier["partner"],
            "title": "Střecha skladu",
            "value": "480 000,00",
            "currency": "CZK",
            "expected_close": "2027-03-31",
        },
    )
    assert created.status_code == 302
    page = client.get(created.headers["Location"]).get_data(as_text=True)
    assert "Střecha skladu" in page and "Lead" in page and "480,000.00" in page
    deal_url = created.headers["Location"]
    meeting = post_form(
        client,
        f"{deal_url}/actions/meeting",
        {"title": "Meeting: Střecha skladu", "due_date": "2026-12-03", "note": "Na stavbě"},
    )
    assert meeting.status_code == 302
    assert "Meeting: Střecha skladu" in client.get(deal_url).get_data(as_text=True)
    timeline = client.get(f"/partners/{dossier['partner']}").get_data(as_text=True)
    assert "Meeting: Střecha skladu" in timeline
    lost = post_form(client, f"{deal_url}/actions/close", {"status": "lost"})
    assert lost.status_code == 422
    assert "is required when a deal is lost" in lost.get_data(as_text=True)
    won = post_form(
        client, f"{deal_url}/actions/close", {"status": "won", "close_note": "Podepsáno"}
    )
    assert won.status_code == 302
    page = client.get(deal_url).get_data(as_text=True)
    assert "status-won" in page and "Close: Střecha skladu" in page
    again = post_form(client, f"{deal_url}/actions/close", {"status": "won"})
    assert again.status_code == 422 and "already won" in again.get_data(as_text=True)


def test_deal_form_bad_input(
    client: FlaskClient, world: World, dossier: dict[str, int], database: Database
) -> None:
    login(client, world.sales_a)
    before = count(database, Deal)
    response = post_form(
        client,
        f"/deals/new?partner_id={dossier['partner']}",
        {
            "partner_id": dossier["partner"],
            "title": "",
            "value": "hodně",
            "probability": "150",
            "expected_close": "31.02.2027",
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for message in (
        "is required",
        "must be a number",
        "must be at most 100",
        "must be a date (YYYY-MM-DD)",
    ):
        assert message in html
    assert count(database, Deal) == before
    new = client.get("/deals/new").get_data(as_text=True)  # no partner given: a choice
    assert '<select id="f-partner_id"' in new and "Stavby Příbram s.r.o." in new


def test_deal_list_filters_and_sorts(
    client: FlaskClient, world: World, dossier: dict[str, int], database: Database
) -> None:
    with database.session() as s:
        for i, value in enumerate((100, 300, 200)):
            deals.create(
                s,
                world.sales_a,
                {
                    "title": f"Zakázka {i}",
                    "partner_id": dossier["partner"],
                    "value": value,
                    "currency": "EUR",
                },
            )
    login(client, world.sales_a)
    page = client.get("/deals/?currency=EUR&sort=-value").get_data(as_text=True)
    assert page.index("Zakázka 1") < page.index("Zakázka 2") < page.index("Zakázka 0")
    assert "Hala Příbram" not in page and "3 records" in page


def test_activity_edit_done_and_next_contact(
    client: FlaskClient, world: World, dossier: dict[str, int], database: Database
) -> None:
    login(client, world.sales_a)
    url = f"/activities/{dossier['activity']}"
    edit = client.get(f"{url}/edit").get_data(as_text=True)
    assert 'value="Úvodní hovor"' in edit
    saved = post_form(
        client,
        f"{url}/edit",
        {
            "kind": "call",
            "title": "Úvodní hovor",
            "deal_id": dossier["deal"],
            "partner_id": dossier["partner"],
            "result_id": "",
            "next_contact_date": "2026-12-15",
            "next_contact_task": "Poslat nabídku",
            "next_contact_assignee_id": world.sales_a2.id,
            "done": "1",
        },
    )
    assert saved.status_code == 302
    mine = f"/activities/?salesperson_id={world.sales_a2.id}&done=false"
    login(client, world.sales_a2)
    assert "Poslat nabídku" in client.get(mine).get_data(as_text=True)
    with database.session() as s:
        follow_up = s.scalar(select(Activity.id).where(Activity.title == "Poslat nabídku"))
    done = post_form(client, f"/activities/{follow_up}/done", {"next": mine})
    assert done.headers["Location"] == mine
    assert "Poslat nabídku" not in client.get(mine).get_data(as_text=True)


def test_activity_form_bad_input(
    client: FlaskClient, world: World, dossier: dict[str, int], database: Database
) -> None:
    login(client, world.sales_a)
    before = count(database, Activity)
    response = post_form(
        client,
        "/activities/new",
        {
            "kind": "visit",
            "title": "x" * 251,
            "due_date": "zítra",
            "person_id": str(dossier["person"]),
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "must be one of task, call, meeting, letter, note" in html
    assert "is longer than 250 characters" in html and "must be a date" in html
    assert count(database, Activity) == before


def test_person_create_edit_delete(
    client: FlaskClient, world: World, dossier: dict[str, int], database: Database
) -> None:
    login(client, world.sales_a)
    bad = post_form(
        client,
        f"/persons/new?partner_id={dossier['partner']}",
        {"partner_id": dossier["partner"], "name": "", "emails": "petra@", "birthday": "1.13.1980"},
    )
    assert bad.status_code == 422 and count(database, Person) == 1
    made = post_form(
        client,
        f"/persons/new?partner_id={dossier['partner']}",
        {
            "partner_id": dossier["partner"],
            "name": "Petra Kučerová",
            "function": "nákupčí",
            "emails": "petra@stavby-pribram.cz",
            "birthday": "14.2.1980",
        },
    )
    assert made.status_code == 302
    page = client.get(made.headers["Location"]).get_data(as_text=True)
    assert "Petra Kučerová" in page and "14 Feb 1980" in page
    assert "Petra Kučerová" in client.get("/persons/?q=kucerova").get_data(as_text=True)
    person_url = made.headers["Location"]
    post_form(
        client,
        f"{person_url}/edit",
        {"partner_id": dossier["partner"], "name": "Petra Kučerová", "function": "jednatelka"},
    )
    assert "jednatelka" in client.get(person_url).get_data(as_text=True)
    assert post_form(client, f"{person_url}/delete", {}).status_code == 302
    assert count(database, Person) == 1


URLS = {
    "deal": ["/deals/{deal}", "/deals/{deal}/edit", "/deals/{deal}/actions/call"],
    "activity": ["/activities/{activity}", "/activities/{activity}/edit"],
    "person": ["/persons/{person}", "/persons/{person}/edit"],
}
POSTS = {
    "deal": ["/deals/{deal}/edit", "/deals/{deal}/delete", "/deals/{deal}/actions/close"],
    "activity": [
        "/activities/{activity}/edit",
        "/activities/{activity}/delete",
        "/activities/{activity}/done",
    ],
    "person": ["/persons/{person}/edit", "/persons/{person}/delete"],
}


@pytest.mark.parametrize("kind", list(URLS))
def test_other_team_gets_not_found_and_changes_nothing(
    client: FlaskClient, world: World, dossier: dict[str, int], database: Database, kind: str
) -> None:
    login(client, world.sales_b)
    for url in URLS[kind]:
        assert client.get(url.format(**dossier)).status_code == 404, url
    for url in POSTS[kind]:
        response = post_form(
            client,
            url.format(**dossier),
            {"title": "X", "name": "X", "status": "won", "kind": "note"},
        )
        assert response.status_code == 404, url
    listing = {"deal": "/deals/", "activity": "/activities/", "person": "/persons/"}[kind]
    page = client.get(listing).get_data(as_text=True)
    assert "Hala Příbram" not in page and "Úvodní hovor" not in page
    assert "Jan Dvořák" not in page
    assert (count(database, Deal), count(database, Activity), count(database, Person)) == (1, 1, 1)


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/deals/new", {"title": "X"}),
        ("/activities/new", {"kind": "task", "title": "X"}),
        ("/deals/{deal}/actions/close", {"status": "won"}),
        ("/activities/{activity}/done", {}),
        (
            "/admin/custom-fields",
            {"record_type": "partner", "key": "x", "label": "X", "field_type": "text"},
        ),
        ("/admin/users", {"email": "x@firma.cz", "name": "X", "role": "admin"}),
        ("/language", {"language": "cs"}),
    ],
)
def test_forms_refuse_a_missing_csrf_token(
    client: FlaskClient, world: World, dossier: dict[str, int], url: str, data: dict[str, Any]
) -> None:
    login(client, world.admin)
    response = client.post(url.format(**dossier), data=data)
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)


def test_admin_pages_are_for_admins_only(client: FlaskClient, world: World) -> None:
    login(client, world.manager_a)
    for url in ("/admin/codebooks", "/admin/custom-fields", "/admin/users"):
        assert client.get(url).status_code == 403
    assert post_form(client, "/admin/users", {"email": "x@y.cz"}).status_code == 403


def test_admin_custom_field_appears_on_form_list_and_filter(
    client: FlaskClient, world: World, dossier: dict[str, int], database: Database
) -> None:
    login(client, world.admin)
    post_form(client, "/admin/codebooks", {"codebook": "tractor_brand", "label": "Zetor"})
    post_form(client, "/admin/codebooks", {"codebook": "tractor_brand", "label": "John Deere"})
    bad = post_form(
        client,
        "/admin/custom-fields",
        {"record_type": "partner", "key": "1x", "label": "", "field_type": "codebook"},
    )
    assert bad.status_code == 422
    assert "must start with a letter" in bad.get_data(as_text=True)
    assert count(database, CustomField) == 0
    ok = post_form(
        client,
        "/admin/custom-fields",
        {
            "record_type": "partner",
            "key": "brand",
            "label": "Značka traktorů",
            "field_type": "codebook",
            "codebook": "tractor_brand",
        },
    )
    assert ok.status_code == 302
    form = client.get(f"/partners/{dossier['partner']}/edit").get_data(as_text=True)
    assert "Značka traktorů" in form and "John Deere" in form
    with database.session() as s:
        zetor = next(e.id for e in codebooks.entries(s, "tractor_brand") if e.label == "Zetor")
    post_form(
        client,
        f"/partners/{dossier['partner']}/edit",
        {"name": "Stavby Příbram s.r.o.", "custom.brand": str(zetor)},
    )
    listing = client.get(f"/partners/?custom.brand={zetor}").get_data(as_text=True)
    assert "Stavby Příbram s.r.o." in listing and "Zetor" in listing
    assert "Stavby Příbram" not in client.get("/partners/?custom.brand=John Deere").get_data(
        as_text=True
    )


def test_admin_manages_users_and_codebooks(
    client: FlaskClient, world: World, database: Database
) -> None:
    login(client, world.admin)
    page = client.get("/admin/users").get_data(as_text=True)
    group_a = world.sales_a.group_ids[0]
    bad = post_form(client, "/admin/users", {"email": "nova@", "name": "", "role": "boss"})
    assert bad.status_code == 422 and "choose at least one group" in bad.get_data(as_text=True)
    made = post_form(
        client,
        "/admin/users",
        {
            "email": "nova@firma.cz",
            "name": "Nová Kolegyně",
            "role": "sales",
            "group_ids": str(group_a),
            "password": "heslo-2026",
            "language": "cs",
        },
    )
    assert made.status_code == 302 and "Tým A" in page
    dup = post_form(
        client,
        "/admin/users",
        {"email": "nova@firma.cz", "name": "X", "role": "sales", "group_ids": str(group_a)},
    )
    assert dup.status_code == 422 and "already exists" in dup.get_data(as_text=True)
    with database.session() as s:
        nova = s.scalar(select(User).where(User.email == "nova@firma.cz"))
        assert nova is not None
        stage = codebooks.entries(s, "deal_stage")[0]
    # saving without the "active" box deactivates the user: she can no longer log in
    post_form(
        client,
        f"/admin/users/{nova.id}",
        {"name": "Nová Kolegyně", "role": "sales", "language": "cs", "group_ids": str(group_a)},
    )
    client2 = client.application.test_client()
    client2.get("/login")
    assert (
        post_form(
            client2, "/login", {"email": "nova@firma.cz", "password": "heslo-2026"}
        ).status_code
        == 401
    )
    renamed = post_form(
        client, f"/admin/codebooks/{stage.id}", {"label": "Poptávka", "position": "0"}
    )
    assert renamed.status_code == 302
    assert "Poptávka" in client.get("/admin/codebooks").get_data(as_text=True)
