"""Contact persons as a salesperson works with them: from the partner page, looked up in a list."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from crm.db import Database
from crm.models import Person
from crm.services.activities import activities
from crm.services.partners import partners
from crm.services.persons import persons
from tests.conftest import World, count, login, post_form
from tests.web.conftest import Dossier, field_error, flashes, text


def test_create_from_the_partner_page_show_edit_delete(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    login(client, world.sales_a)
    partner_page = client.get(f"/partners/{dossier.partner}").get_data(as_text=True)
    new_url = f"/persons/new?partner_id={dossier.partner}"
    assert new_url in partner_page
    form = client.get(new_url).get_data(as_text=True)
    assert "New person" in form and "Stavby Příbram s.r.o." in form
    assert f'name="partner_id" value="{dossier.partner}"' in form
    made = post_form(
        client,
        new_url,
        {
            "partner_id": dossier.partner,
            "name": "Petra Kučerová",
            "function": "nákupčí",
            "emails": "petra@stavby-pribram.cz\nkucerova@seznam.cz",
            "phones": "+420 731 555 111",
            "birthday": "14.2.1980",
            "notes": "Volat dopoledne.",
        },
    )
    assert made.status_code == 302
    person_url = made.headers["Location"]
    page = client.get(person_url).get_data(as_text=True)
    assert "Person saved." in flashes(page)
    for shown in (
        "Petra Kučerová",
        "nákupčí",
        "petra@stavby-pribram.cz",
        "kucerova@seznam.cz",
        "+420 731 555 111",
        "14 Feb 1980",
        "Volat dopoledne.",
    ):
        assert shown in page
    assert f'href="/partners/{dossier.partner}"' in page
    assert "Petra Kučerová" in client.get(f"/partners/{dossier.partner}").get_data(as_text=True)

    edit = client.get(f"{person_url}/edit").get_data(as_text=True)
    # The form edits the name in parts (a name posted whole is split, as the API does).
    assert 'value="Petra"' in edit and 'value="Kučerová"' in edit
    assert "kucerova@seznam.cz</textarea>" in edit
    saved = post_form(
        client,
        f"{person_url}/edit",
        {"partner_id": dossier.partner, "name": "Petra Kučerová", "function": "jednatelka"},
    )
    assert saved.status_code == 302 and saved.headers["Location"] == person_url
    page = client.get(person_url).get_data(as_text=True)
    details = page.split('id="history-h"')[0]  # the History below names the old value
    assert "jednatelka" in details and "nákupčí" not in details

    deleted = post_form(client, f"{person_url}/delete", {})
    assert deleted.status_code == 302
    assert deleted.headers["Location"] == f"/partners/{dossier.partner}"
    after = client.get(deleted.headers["Location"]).get_data(as_text=True)
    assert any(f.startswith("Person deleted.") for f in flashes(after))
    assert "Petra Kučerová" not in after
    assert client.get(person_url).status_code == 404
    assert count(database, Person) == 1


def test_new_person_needs_a_partner(client: FlaskClient, world: World) -> None:
    login(client, world.sales_a)
    response = client.get("/persons/new")
    assert response.status_code == 302 and response.headers["Location"] == "/partners/"
    page = client.get("/partners/").get_data(as_text=True)
    assert "Open the partner and add the person there." in flashes(page)
    assert client.get("/persons/new?partner_id=999999").status_code == 404


def test_bad_input_is_shown_beside_each_field_and_nothing_is_stored(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    login(client, world.sales_a)
    url = f"/persons/new?partner_id={dossier.partner}"
    bad = post_form(
        client,
        url,
        {
            "partner_id": dossier.partner,
            "title_before": "Ing.",
            "first_name": "",
            "last_name": "",
            "function": "ředitel",
            "emails": "petra@",
            "phones": "volejte",
            "birthday": "1.13.1980",
        },
    )
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert "Please correct the marked fields." in page
    assert field_error(page, "last_name") == "is required"
    assert field_error(page, "emails") == "“petra@” is not an email address"
    assert field_error(page, "phones") == "“volejte” is not a phone number"
    assert field_error(page, "birthday") == "is not a day of the calendar"
    assert 'value="ředitel"' in page  # what was typed is kept
    assert count(database, Person) == 1

    edit = post_form(
        client,
        f"/persons/{dossier.person}/edit",
        {"partner_id": dossier.partner, "name": "Jan Dvořák", "birthday": "31.02.1970"},
    )
    assert edit.status_code == 422
    assert field_error(edit.get_data(as_text=True), "birthday") == "is not a day of the calendar"
    with database.session() as s:
        jan = s.get(Person, dossier.person)
        assert jan is not None and jan.birthday is None


def test_list_searches_without_accents_sorts_and_pages(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    with database.session() as s:
        for name, function in (
            ("Šárka Černá", "účetní"),
            ("Anna Šťastná", "nákupčí"),
            ("Žofie Říhová", "jednatelka"),
            ("Čeněk Bílý", "technik"),
        ):
            persons.create(
                s,
                world.sales_a,
                {"partner_id": dossier.partner, "name": name, "function": function},
            )
    login(client, world.sales_a)
    found = client.get("/persons/?q=stastna").get_data(as_text=True)
    assert "Anna Šťastná" in found and "Šárka Černá" not in found and "1 record ·" in found
    assert "Stavby Příbram s.r.o." in found  # the partner column

    by_name = text(client.get("/persons/?sort=name").get_data(as_text=True))
    # By last name, then first name (accents folded): Bílý, Černá, Dvořák, Říhová, Šťastná.
    order = ["Čeněk Bílý", "Šárka Černá", "Jan Dvořák", "Žofie Říhová", "Anna Šťastná"]
    assert [by_name.index(n) for n in order] == sorted(by_name.index(n) for n in order)
    backwards = text(client.get("/persons/?sort=-name").get_data(as_text=True))
    assert backwards.index("Anna Šťastná") < backwards.index("Čeněk Bílý")
    by_function = text(client.get("/persons/?sort=function").get_data(as_text=True))
    assert by_function.index("Žofie Říhová") < by_function.index("Čeněk Bílý")  # j < t

    first = client.get("/persons/?sort=name&per_page=2").get_data(as_text=True)
    assert "5 records" in first and "page 1 of 3" in first and 'rel="next"' in first
    assert "Čeněk Bílý" in first and "Jan Dvořák" not in first
    second = client.get("/persons/?sort=name&per_page=2&page=2").get_data(as_text=True)
    assert "Jan Dvořák" in second and "Čeněk Bílý" not in second and 'rel="prev"' in second

    bad = client.get("/persons/?sort=birthday")
    assert bad.status_code == 400 and "cannot sort by birthday" in bad.get_data(as_text=True)


def test_person_page_lists_their_activities(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    with database.session() as s:
        activities.create(
            s,
            world.sales_a,
            {
                "kind": "meeting",
                "title": "Schůzka na stavbě",
                "partner_id": dossier.partner,
                "person_id": dossier.person,
            },
        )
    login(client, world.sales_a)
    page = client.get(f"/persons/{dossier.person}").get_data(as_text=True)
    assert "Schůzka na stavbě" in page and "Úvodní hovor" not in page
    new_url = f"/activities/new?partner_id={dossier.partner}&amp;person_id={dossier.person}"
    assert new_url in page
    form = client.get(new_url.replace("&amp;", "&")).get_data(as_text=True)
    assert f'<option value="{dossier.person}" selected>Jan Dvořák</option>' in form


def test_forms_refuse_a_missing_csrf_token(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    login(client, world.sales_a)
    new = client.post(
        f"/persons/new?partner_id={dossier.partner}",
        data={"partner_id": dossier.partner, "name": "Petra Kučerová"},
    )
    assert new.status_code == 400 and "CSRF" in new.get_data(as_text=True)
    edit = client.post(
        f"/persons/{dossier.person}/edit", data={"partner_id": dossier.partner, "name": "X"}
    )
    delete = client.post(f"/persons/{dossier.person}/delete")
    assert edit.status_code == delete.status_code == 400
    with database.session() as s:
        assert s.scalars(select(Person.name)).all() == ["Jan Dvořák"]


def test_other_team_gets_not_found_and_the_list_hides_the_person(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    with database.session() as s:
        own = partners.create(s, world.sales_b, {"name": "Budowa Kraków"})
        persons.create(s, world.sales_b, {"partner_id": own.id, "name": "Łukasz Wiśniewski"})
    login(client, world.sales_b)
    for url in dossier.urls(
        "/persons/{person}", "/persons/{person}/edit", "/persons/new?partner_id={partner}"
    ):
        assert client.get(url).status_code == 404, url
    for url in dossier.urls("/persons/{person}/edit", "/persons/{person}/delete"):
        response = post_form(client, url, {"partner_id": dossier.partner, "name": "X"})
        assert response.status_code == 404, url
    sneaked = post_form(
        client, f"/persons/new?partner_id={own.id}", {"partner_id": dossier.partner, "name": "X"}
    )
    assert sneaked.status_code == 422
    assert "Partner: no such partner" in text(sneaked.get_data(as_text=True))
    listing = client.get("/persons/").get_data(as_text=True)
    assert "Łukasz Wiśniewski" in listing and "Jan Dvořák" not in listing
    assert "Jan Dvořák" not in client.get("/persons/?q=dvorak").get_data(as_text=True)
    assert count(database, Person) == 2


def test_only_the_partners_salesperson_or_a_manager_deletes(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    login(client, world.sales_a2)  # same team, not Jana's partner
    page = client.get(f"/persons/{dossier.person}").get_data(as_text=True)
    assert "Jan Dvořák" in page and "Delete person" not in page
    assert post_form(client, f"/persons/{dossier.person}/delete", {}).status_code == 403
    assert count(database, Person) == 1
    login(client, world.manager_a)
    assert "Delete person" in client.get(f"/persons/{dossier.person}").get_data(as_text=True)
    assert post_form(client, f"/persons/{dossier.person}/delete", {}).status_code == 302
    assert count(database, Person) == 0
