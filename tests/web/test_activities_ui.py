"""Activities as a salesperson works with them: the task list, the form, one-click "done"."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from crm.db import Database
from crm.models import Activity
from crm.services.activities import activities
from crm.services.partners import partners
from tests.conftest import World, count, login, post_form
from tests.web.conftest import Dossier, field_error, flashes, text


def test_create_from_a_deal_show_edit_delete(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    login(client, world.sales_a)
    form = client.get(f"/activities/new?deal_id={dossier.deal}").get_data(as_text=True)
    assert "New activity" in form and "Hala Příbram" in form
    assert re.search(rf'name="deal_id".*?<option value="{dossier.deal}"[^>]*selected', form, re.S)
    assert re.search(
        rf'name="partner_id".*?<option value="{dossier.partner}"[^>]*selected', form, re.S
    )
    assert f'<option value="{dossier.person}"' in form  # the partner's persons
    made = post_form(
        client,
        f"/activities/new?deal_id={dossier.deal}",
        {
            "kind": "meeting",
            "title": "Prohlídka haly v Příbrami",
            "due_date": "2026-12-03",
            "deal_id": dossier.deal,
            "partner_id": dossier.partner,
            "person_id": dossier.person,
            "note": "Vzít helmy.",
            "salesperson_id": world.sales_a.id,
        },
    )
    assert made.status_code == 302
    url = made.headers["Location"]
    page = text(client.get(url).get_data(as_text=True))
    assert "Activity saved." in page
    for shown in (
        "Prohlídka haly v Příbrami",
        "meeting · 3 Dec 2026",
        "Stavby Příbram s.r.o.",
        "Hala Příbram",
        "Person Jan Dvořák",
        "Assignee Jana Nováková",
        "Vzít helmy.",
    ):
        assert shown in page
    assert "Prohlídka haly v Příbrami" in client.get(f"/deals/{dossier.deal}").get_data(
        as_text=True
    )
    assert "Prohlídka haly v Příbrami" in client.get(f"/persons/{dossier.person}").get_data(
        as_text=True
    )
    assert "Prohlídka haly v Příbrami" in client.get(f"/partners/{dossier.partner}").get_data(
        as_text=True
    )

    edit = client.get(f"{url}/edit").get_data(as_text=True)
    assert 'value="Prohlídka haly v Příbrami"' in edit and 'value="2026-12-03"' in edit
    saved = post_form(
        client,
        f"{url}/edit",
        {
            "kind": "meeting",
            "title": "Prohlídka haly v Příbrami",
            "due_date": "2026-12-10",
            "deal_id": dossier.deal,
            "partner_id": dossier.partner,
            "person_id": dossier.person,
            "note": "Přesunuto na čtvrtek.",
        },
    )
    assert saved.status_code == 302 and saved.headers["Location"] == url
    page = client.get(url).get_data(as_text=True)
    assert "10 Dec 2026" in page and "Přesunuto na čtvrtek." in page

    deleted = post_form(client, f"{url}/delete", {})
    assert deleted.status_code == 302 and deleted.headers["Location"] == "/activities/"
    assert any(
        f.startswith("Activity deleted.")
        for f in flashes(client.get("/activities/").get_data(as_text=True))
    )
    assert client.get(url).status_code == 404
    assert count(database, Activity) == 1


def test_create_from_a_partner_and_without_one(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    login(client, world.sales_a)
    new_url = f"/activities/new?partner_id={dossier.partner}"
    assert new_url in client.get(f"/partners/{dossier.partner}").get_data(as_text=True)
    made = post_form(
        client,
        new_url,
        {"kind": "letter", "title": "Dopis s ceníkem", "partner_id": dossier.partner},
    )
    assert made.status_code == 302
    with database.session() as s:
        letter = s.scalar(select(Activity).where(Activity.title == "Dopis s ceníkem"))
        assert letter is not None and letter.partner_id == dossier.partner
        assert letter.deal_id is None and letter.created_by_id == world.sales_a.id
    alone = post_form(client, "/activities/new", {"kind": "task", "title": "Objednat vizitky"})
    assert alone.status_code == 302
    assert "Objednat vizitky" in client.get(alone.headers["Location"]).get_data(as_text=True)


def test_edit_with_next_contact_creates_a_task_for_a_colleague(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    login(client, world.sales_a)
    url = f"/activities/{dossier.activity}"
    edit = client.get(f"{url}/edit").get_data(as_text=True)
    assert 'value="Úvodní hovor"' in edit
    saved = post_form(
        client,
        f"{url}/edit",
        {
            "kind": "call",
            "title": "Úvodní hovor",
            "deal_id": dossier.deal,
            "partner_id": dossier.partner,
            "result_id": "",
            "next_contact_date": "2026-12-15",
            "next_contact_task": "Poslat nabídku",
            "next_contact_assignee_id": world.sales_a2.id,
            "done": "1",
        },
    )
    assert saved.status_code == 302
    page = text(client.get(url).get_data(as_text=True))
    assert "done" in page and "15 Dec 2026 · Poslat nabídku (Petr Dvořák)" in page

    login(client, world.sales_a2)
    listing = client.get("/activities/").get_data(as_text=True)
    mine = f"/activities/?salesperson_id={world.sales_a2.id}&done=false"
    link = f"/activities/?salesperson_id={world.sales_a2.id}&amp;done=false&amp;sort=due_date"
    assert f'href="{link}">My open tasks' in listing
    assert "Poslat nabídku" in client.get(mine).get_data(as_text=True)
    with database.session() as s:
        follow_up = s.scalar(select(Activity.id).where(Activity.title == "Poslat nabídku"))
    done = post_form(client, f"/activities/{follow_up}/done", {"next": mine})
    assert done.status_code == 302 and done.headers["Location"] == mine
    after = client.get(mine).get_data(as_text=True)
    assert "Marked as done." in flashes(after) and "Poslat nabídku" not in after
    assert "Poslat nabídku" in client.get("/activities/?done=true").get_data(as_text=True)


def test_mark_done_from_the_activity_page(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    login(client, world.sales_a)
    url = f"/activities/{dossier.activity}"
    assert "Mark done" in client.get(url).get_data(as_text=True)
    done = post_form(client, f"{url}/done", {"next": "https://evil.example/"})
    assert done.status_code == 302 and done.headers["Location"] == url  # never off-site
    page = client.get(url).get_data(as_text=True)
    assert "Marked as done." in flashes(page) and "Mark done" not in page
    with database.session() as s:
        call = s.get(Activity, dossier.activity)
        assert call is not None and call.done and call.done_at is not None


def test_bad_input_is_shown_beside_each_field_and_nothing_is_stored(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    with database.session() as s:
        other = partners.create(s, world.sales_b, {"name": "Budowa Kraków"})
    login(client, world.sales_a)
    response = post_form(
        client,
        f"/activities/new?partner_id={dossier.partner}",
        {
            "kind": "visit",
            "title": "x" * 251,
            "due_date": "zítra",
            "partner_id": dossier.partner,
            "next_contact_date": "2026-13-01",
            "salesperson_id": "Jana",
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Please correct the marked fields." in page
    assert field_error(page, "kind") == "must be one of task, call, meeting, letter, note"
    assert field_error(page, "title") == "is longer than 250 characters"
    assert field_error(page, "due_date") == "must be a date (YYYY-MM-DD)"
    assert field_error(page, "next_contact_date") == "is not a day of the calendar"
    assert field_error(page, "salesperson_id") == "must be a whole number"
    assert "x" * 251 in page  # what was typed is kept

    sneaked = post_form(
        client, "/activities/new", {"kind": "task", "title": "Cizí", "partner_id": other.id}
    )
    assert sneaked.status_code == 422
    assert field_error(sneaked.get_data(as_text=True), "partner_id") == "no such partner"
    empty_title = post_form(
        client,
        f"/activities/{dossier.activity}/edit",
        {"kind": "call", "title": " ", "deal_id": dossier.deal, "partner_id": dossier.partner},
    )
    assert empty_title.status_code == 422
    assert field_error(empty_title.get_data(as_text=True), "title") == "is required"
    assert count(database, Activity) == 1
    with database.session() as s:
        assert s.scalar(select(Activity.title)) == "Úvodní hovor"


@pytest.fixture
def agenda(database: Database, world: World, dossier: Dossier) -> None:
    """Tasks, calls and meetings of Jana and Petr with and without a due date."""
    today = dt.date(2026, 12, 1)
    rows = [
        ("task", "Připravit nabídku", 3, world.sales_a, False),
        ("task", "Zavolat účetní", 1, world.sales_a, False),
        ("meeting", "Schůzka v Žatci", 10, world.sales_a, False),
        ("task", "Objednat vzorky", None, world.sales_a, False),
        ("call", "Urgovat platbu", 2, world.sales_a2, False),
        ("task", "Vyřízený úkol", 0, world.sales_a, True),
    ]
    with database.session() as s:
        for kind, title, days, who, done in rows:
            activities.create(
                s,
                world.sales_a,
                {
                    "kind": kind,
                    "title": title,
                    "partner_id": dossier.partner,
                    "due_date": today + dt.timedelta(days=days) if days is not None else None,
                    "salesperson_id": who.id,
                    "done": done,
                },
            )


@pytest.mark.usefixtures("agenda")
def test_list_filters_sorts_and_pages(client: FlaskClient, world: World) -> None:
    login(client, world.sales_a)
    default = text(client.get("/activities/").get_data(as_text=True))
    assert "7 records" in default
    # what is still to do first, by due date; the done task, though due earliest, after them
    order = ["Zavolat účetní", "Urgovat platbu", "Připravit nabídku", "Vyřízený úkol"]
    assert [default.index(t) for t in order] == sorted(default.index(t) for t in order)
    assert default.index("Schůzka v Žatci") < default.index("Objednat vzorky")  # undated last

    mine = client.get(f"/activities/?salesperson_id={world.sales_a.id}&done=false")
    page = mine.get_data(as_text=True)
    assert "Urgovat platbu" not in page and "Vyřízený úkol" not in page
    assert "Zavolat účetní" in page and "Úvodní hovor" in page and "5 records" in page
    tasks = client.get("/activities/?kind=task&done=false").get_data(as_text=True)
    assert "Schůzka v Žatci" not in tasks and "3 records" in tasks
    window = client.get("/activities/?due_from=3.12.2026&due_to=2026-12-04").get_data(as_text=True)
    assert "Urgovat platbu" in window and "Připravit nabídku" in window
    assert "Zavolat účetní" not in window and "2 records" in window
    found = client.get("/activities/?q=ŽATCI").get_data(as_text=True)
    assert "Schůzka v Žatci" in found and "1 record ·" in found
    by_title = text(client.get("/activities/?sort=-title").get_data(as_text=True))
    assert by_title.index("Zavolat účetní") < by_title.index("Objednat vzorky")

    first = client.get("/activities/?per_page=3").get_data(as_text=True)
    assert "page 1 of 3" in first and "Zavolat účetní" in first and 'rel="next"' in first
    last = client.get("/activities/?per_page=3&page=3").get_data(as_text=True)
    assert "Vyřízený úkol" in last and "Zavolat účetní" not in last  # done: last

    bad = client.get("/activities/?due_from=zítra&done=maybe")
    page = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert "due_from: must be a date (YYYY-MM-DD)" in page and "must be true or false" in page
    assert "7 records" in page


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/activities/new", {"kind": "task", "title": "Nový úkol"}),
        ("/activities/{activity}/edit", {"kind": "call", "title": "Nový úkol"}),
        ("/activities/{activity}/done", {}),
        ("/activities/{activity}/delete", {}),
    ],
)
def test_forms_refuse_a_missing_csrf_token(
    client: FlaskClient,
    world: World,
    dossier: Dossier,
    database: Database,
    url: str,
    data: dict[str, str],
) -> None:
    login(client, world.sales_a)
    response = client.post(url.format(**vars(dossier)), data=data)
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    with database.session() as s:
        call = s.get(Activity, dossier.activity)
        assert call is not None and call.title == "Úvodní hovor" and not call.done
    assert count(database, Activity) == 1


def test_other_team_gets_not_found_and_the_list_hides_the_activity(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    login(client, world.sales_b)
    for url in dossier.urls(
        "/activities/{activity}",
        "/activities/{activity}/edit",
        "/activities/new?deal_id={deal}",
        "/activities/new?partner_id={partner}",
    ):
        assert client.get(url).status_code == 404, url
    for url in dossier.urls(
        "/activities/{activity}/edit",
        "/activities/{activity}/done",
        "/activities/{activity}/delete",
    ):
        assert post_form(client, url, {"kind": "note", "title": "X"}).status_code == 404, url
    sneaked = post_form(
        client, "/activities/new", {"kind": "task", "title": "X", "deal_id": dossier.deal}
    )
    assert sneaked.status_code == 422
    assert field_error(sneaked.get_data(as_text=True), "deal_id") == "no such deal"
    listing = client.get("/activities/").get_data(as_text=True)
    assert "Úvodní hovor" not in listing and "0 records" in listing
    with database.session() as s:
        call = s.get(Activity, dossier.activity)
        assert call is not None and call.title == "Úvodní hovor" and not call.done
    assert count(database, Activity) == 1


def test_only_the_assignee_or_a_manager_deletes(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    url = f"/activities/{dossier.activity}"
    login(client, world.sales_a2)
    assert "Delete activity" not in client.get(url).get_data(as_text=True)
    assert post_form(client, f"{url}/delete", {}).status_code == 403
    assert count(database, Activity) == 1
    login(client, world.manager_a)
    assert post_form(client, f"{url}/delete", {}).status_code == 302
    assert count(database, Activity) == 0
