"""Activities as a salesperson works them (issue 10, "The day's work"): a new activity from the
Activities page is linked to a partner, deal and person there, an activity is linked later;
Call and Meeting record what already happened; closing a deal asks about its open activities."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select

from crm.db import Database
from crm.models import Activity, CodebookEntry, Deal
from crm.services.activities import activities
from crm.services.deals import deals
from crm.services.partners import partners
from crm.services.persons import persons
from tests.conftest import World, login, post_form
from tests.web.conftest import Dossier, field_error, text


def test_a_new_activity_is_linked_on_its_form_and_an_old_one_later(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    with database.session() as s:
        other = partners.create(s, world.sales_a, {"name": "Agro Žatec"})
        other_deal = deals.create(s, world.sales_a, {"title": "Silo", "partner_id": other.id})
        loose = activities.create(s, world.sales_a, {"kind": "note", "title": "Volal někdo"})
    login(client, world.sales_a)
    form = client.get("/activities/new").get_data(as_text=True)
    for name in ("partner_id", "deal_id", "person_id"):
        assert f'name="{name}"' in form
    assert f'data-partner="{dossier.partner}"' in form  # deals carry their partner
    # a deal of another partner than the one chosen is refused beside the deal field
    refused = post_form(
        client,
        "/activities/new",
        {
            "kind": "task",
            "title": "Poslat nabídku",
            "partner_id": dossier.partner,
            "deal_id": other_deal.id,
            "salesperson_id": world.sales_a.id,
        },
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert field_error(page, "partner_id") == "is not the deal's partner"
    assert f'<option value="{dossier.person}"' in page  # the chosen partner's persons
    made = post_form(
        client,
        "/activities/new",
        {
            "kind": "task",
            "title": "Poslat nabídku",
            "partner_id": dossier.partner,
            "person_id": dossier.person,
            "salesperson_id": world.sales_a.id,
        },
    )
    assert made.status_code == 302
    shown = text(client.get(made.headers["Location"]).get_data(as_text=True))
    assert "Stavby Příbram s.r.o." in shown and "Jan Dvořák" in shown

    # linked later: the note that hung on nothing gets its deal (and with it its partner)
    edit = client.get(f"/activities/{loose.id}/edit").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', edit)
    assert version
    linked = post_form(
        client,
        f"/activities/{loose.id}/edit",
        {
            "kind": "note",
            "title": "Volal někdo",
            "deal_id": dossier.deal,
            "partner_id": "",
            "version": version.group(1),
            "salesperson_id": world.sales_a.id,
        },
    )
    assert linked.status_code == 302
    with database.session() as s:
        row = s.get(Activity, loose.id)
        assert row is not None and row.deal_id == dossier.deal
        assert row.partner_id == dossier.partner


def test_the_person_picker_follows_the_partner_and_names_only_what_the_user_sees(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    with database.session() as s:
        theirs = partners.create(s, world.sales_b, {"name": "Budimex"})
        persons.create(s, world.sales_b, {"partner_id": theirs.id, "name": "Piotr Nowak"})
    login(client, world.sales_a)
    mine = client.get(f"/persons/choices?partner_id={dossier.partner}").get_json()
    assert mine == {"items": [{"id": dossier.person, "name": "Jan Dvořák"}]}
    assert client.get(f"/persons/choices?partner_id={theirs.id}").get_json() == {"items": []}
    for bad in ("", "abc", "1e9", "9" * 20, "-1"):
        response = client.get(f"/persons/choices?partner_id={bad}")
        assert response.status_code == 400 and "partner" in response.get_json()["error"]


def test_a_call_that_happened_is_recorded_with_its_result(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    with database.session() as s:
        reached = s.scalars(
            select(CodebookEntry).where(
                CodebookEntry.codebook == "activity_result", CodebookEntry.label == "Reached"
            )
        ).one()
    login(client, world.sales_a)
    form = client.get(f"/deals/{dossier.deal}/actions/call").get_data(as_text=True)
    assert 'name="done"' in form and 'name="result' in form
    made = post_form(
        client,
        f"/deals/{dossier.deal}/actions/call",
        {
            "title": "Hovor s panem Dvořákem",
            "due_date": "2026-12-01",
            "result": reached.id,
            "done": "1",
            "note": "Chce slevu 5 %.",
        },
    )
    assert made.status_code == 302
    with database.session() as s:
        call = s.scalars(select(Activity).where(Activity.title == "Hovor s panem Dvořákem")).one()
        assert call.kind == "call" and call.done and call.result_id == reached.id
        assert call.done_at is not None


def test_closing_a_deal_asks_what_happens_to_its_open_activities(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    with database.session() as s:
        task = activities.create(
            s, world.sales_a, {"kind": "task", "title": "Poslat smlouvu", "deal_id": dossier.deal}
        )
    login(client, world.sales_a)
    form = client.get(f"/deals/{dossier.deal}/actions/close").get_data(as_text=True)
    assert "Poslat smlouvu" in form and 'name="open_tasks"' in form
    unanswered = post_form(client, f"/deals/{dossier.deal}/actions/close", {"status": "won"})
    page = unanswered.get_data(as_text=True)
    assert unanswered.status_code == 422 and "choose what happens to them" in page
    wrong = post_form(
        client, f"/deals/{dossier.deal}/actions/close", {"status": "won", "open_tasks": "burn"}
    )
    assert wrong.status_code == 422 and "must be keep, done or delete" in wrong.get_data(
        as_text=True
    )
    with database.session() as s:
        deal = s.get(Deal, dossier.deal)
        assert deal is not None and deal.status == "open"  # nothing was closed meanwhile
    closed = post_form(
        client, f"/deals/{dossier.deal}/actions/close", {"status": "won", "open_tasks": "done"}
    )
    assert closed.status_code == 302
    with database.session() as s:
        for activity_id in (task.id, dossier.activity):
            row = s.get(Activity, activity_id)
            assert row is not None and row.done


def test_closing_deletes_the_open_activities_only_when_all_are_the_closers(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    with database.session() as s:
        colleagues = activities.create(
            s,
            world.sales_a,
            {
                "kind": "task",
                "title": "Úkol Petra",
                "deal_id": dossier.deal,
                "salesperson_id": world.sales_a2.id,
            },
        )
    login(client, world.sales_a2)  # Petr's deal? no: Jana's; Petr may not delete her call
    refused = post_form(
        client, f"/deals/{dossier.deal}/actions/close", {"status": "won", "open_tasks": "delete"}
    )
    assert refused.status_code == 422 and "colleague" in refused.get_data(as_text=True)
    login(client, world.manager_a)
    post_form(
        client, f"/deals/{dossier.deal}/actions/close", {"status": "won", "open_tasks": "delete"}
    )
    with database.session() as s:
        for activity_id in (colleagues.id, dossier.activity):
            row = s.get(Activity, activity_id)
            assert row is not None and row.deleted_at is not None  # in the trash
