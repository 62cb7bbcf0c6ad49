"""Deals as a salesperson works them: from the partner page through the actions to won or lost."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from crm.db import Database
from crm.models import Activity, Deal
from crm.services import codebooks
from crm.services.deals import deals
from crm.services.partners import partners
from crm.services.persons import persons
from tests.conftest import World, count, login, post_form
from tests.web.conftest import Dossier, field_error, flashes, text


def entry_id(database: Database, codebook: str, label: str) -> int:
    with database.session() as s:
        return next(e.id for e in codebooks.entries(s, codebook) if e.label == label)


def test_deal_from_partner_page_through_a_meeting_to_won(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    login(client, world.sales_a)
    new_url = f"/deals/new?partner_id={dossier.partner}"
    assert new_url in client.get(f"/partners/{dossier.partner}").get_data(as_text=True)
    form = client.get(new_url).get_data(as_text=True)
    assert "Stavby Příbram s.r.o." in form and '<select id="f-partner_id"' not in form
    created = post_form(
        client,
        new_url,
        {
            "partner_id": dossier.partner,
            "title": "Střecha skladu",
            "value": "480 000,00",
            "currency": "CZK",
            "expected_close": "2027-03-31",
        },
    )
    assert created.status_code == 302
    deal_url = created.headers["Location"]
    page = client.get(deal_url).get_data(as_text=True)
    assert "Deal saved." in flashes(page)
    for shown in ("Střecha skladu", "Lead", "480,000.00", "31 Mar 2027", "10 %", "Jana Nováková"):
        assert shown in page
    for action in ("task", "call", "meeting", "close"):
        assert f'href="{deal_url}/actions/{action}"' in page

    meeting_form = client.get(f"{deal_url}/actions/meeting").get_data(as_text=True)
    assert 'value="Meeting: Střecha skladu"' in meeting_form
    meeting = post_form(
        client,
        f"{deal_url}/actions/meeting",
        {"title": "Meeting: Střecha skladu", "due_date": "2026-12-03", "note": "Na stavbě"},
    )
    assert meeting.status_code == 302 and meeting.headers["Location"] == deal_url
    page = client.get(deal_url).get_data(as_text=True)
    assert "Activity created." in flashes(page) and "Meeting: Střecha skladu" in page
    assert "3 Dec 2026" in page
    timeline = client.get(f"/partners/{dossier.partner}").get_data(as_text=True)
    assert "Meeting: Střecha skladu" in timeline[timeline.index("Timeline") :]

    lost = post_form(client, f"{deal_url}/actions/close", {"status": "lost"})
    assert lost.status_code == 422
    assert field_error(lost.get_data(as_text=True), "close_reason_id") == (
        "is required when a deal is lost"
    )
    with database.session() as s:
        assert s.scalar(select(Deal.status).where(Deal.title == "Střecha skladu")) == "open"

    won = post_form(
        client,
        f"{deal_url}/actions/close",
        {"status": "won", "close_note": "Podepsáno", "open_tasks": "keep"},  # the meeting
    )
    assert won.status_code == 302
    page = client.get(deal_url).get_data(as_text=True)
    assert "Deal closed." in flashes(page)
    assert "status-won" in page and "Close: Střecha skladu" in page and "Podepsáno" in page
    assert "100 %" in page and f"{deal_url}/actions/" not in page  # no more actions
    assert "Close: Střecha skladu" in client.get(f"/partners/{dossier.partner}").get_data(
        as_text=True
    )

    again = post_form(client, f"{deal_url}/actions/close", {"status": "won"})
    assert again.status_code == 422 and "the deal is already won" in again.get_data(as_text=True)
    with database.session() as s:
        closes = s.scalars(select(Activity).where(Activity.title == "Close: Střecha skladu"))
        assert len(list(closes)) == 1


def test_close_as_lost_with_a_reason(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    login(client, world.sales_a)
    price = entry_id(database, "close_reason", "Price")
    form = client.get(f"/deals/{dossier.deal}/actions/close").get_data(as_text=True)
    assert "Close the deal" in form and f'<option value="{price}"' in form
    closed = post_form(
        client,
        f"/deals/{dossier.deal}/actions/close",
        {
            "status": "lost",
            "close_reason_id": price,
            "close_note": "Konkurence levnější o 8 %",
            "open_tasks": "keep",  # the deal's call
        },
    )
    assert closed.status_code == 302
    page = text(client.get(f"/deals/{dossier.deal}").get_data(as_text=True))
    assert "lost" in page and "Close reason Price" in page and "Konkurence levnější o 8 %" in page
    assert "Close: Hala Příbram" in page
    with database.session() as s:
        deal = s.get(Deal, dossier.deal)
        assert deal is not None and deal.status == "lost" and deal.probability == 0


def test_task_action_with_a_person_and_bad_input(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    with database.session() as s:
        other = partners.create(s, world.sales_a, {"name": "Agro Žatec"})
        stranger = persons.create(s, world.sales_a, {"partner_id": other.id, "name": "Eva Malá"})
    login(client, world.sales_a)
    url = f"/deals/{dossier.deal}/actions/task"
    form = client.get(url).get_data(as_text=True)
    assert 'value="Task: Hala Příbram"' in form
    assert f'<option value="{dossier.person}"' in form and "Eva Malá" not in form
    before = count(database, Activity)
    bad = post_form(
        client, url, {"title": "Task: Hala Příbram", "due_date": "zítra", "person_id": stranger.id}
    )
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert field_error(page, "due_date") == "must be a date (YYYY-MM-DD)"
    assert count(database, Activity) == before
    bad = post_form(client, url, {"title": "Poslat nabídku", "person_id": stranger.id})
    assert field_error(bad.get_data(as_text=True), "person_id") == (
        "is not a person of this partner"
    )
    assert 'value="Poslat nabídku"' in bad.get_data(as_text=True)
    assert count(database, Activity) == before
    made = post_form(
        client,
        url,
        {"title": "Poslat nabídku", "due_date": "10.12.2026", "person_id": dossier.person},
    )
    assert made.status_code == 302
    with database.session() as s:
        task = s.scalar(select(Activity).where(Activity.title == "Poslat nabídku"))
        assert task is not None and task.kind == "task" and task.person_id == dossier.person
        assert task.deal_id == dossier.deal and task.partner_id == dossier.partner
    mine = client.get(f"/activities/?salesperson_id={world.sales_a.id}&done=false")
    assert "Poslat nabídku" in mine.get_data(as_text=True)
    assert client.get(f"/deals/{dossier.deal}/actions/invoice").status_code == 404


def test_deal_form_bad_input(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    login(client, world.sales_a)
    before = count(database, Deal)
    response = post_form(
        client,
        f"/deals/new?partner_id={dossier.partner}",
        {
            "partner_id": dossier.partner,
            "title": "",
            "value": "hodně",
            "probability": "150",
            "expected_close": "31.02.2027",
            "currency": "Kč",
            "status": "lost",
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_error(page, "title") == "is required"
    assert field_error(page, "value") == "must be a number"
    assert field_error(page, "probability") == "must be at most 100"
    assert field_error(page, "expected_close") == "is not a day of the calendar"
    assert field_error(page, "currency") is not None
    assert 'value="hodně"' in page
    assert count(database, Deal) == before

    edit = post_form(
        client,
        f"/deals/{dossier.deal}/edit",
        {"partner_id": dossier.partner, "title": "Hala Příbram", "status": "lost"},
    )
    assert edit.status_code == 422
    assert field_error(edit.get_data(as_text=True), "close_reason_id") == (
        "is required when a deal is lost"
    )
    with database.session() as s:
        deal = s.get(Deal, dossier.deal)
        assert deal is not None and deal.status == "open"


def test_new_deal_without_a_partner_offers_the_visible_partners(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    with database.session() as s:
        partners.create(s, world.sales_b, {"name": "Budowa Kraków"})
        partners.create(s, world.sales_a, {"name": "Agro Žatec"})
    login(client, world.sales_a)
    form = client.get("/deals/new").get_data(as_text=True)
    assert '<select id="f-partner_id"' in form
    assert form.index("Agro Žatec") < form.index("Stavby Příbram s.r.o.")
    assert "Budowa Kraków" not in form
    missing = post_form(client, "/deals/new", {"title": "Sklad"})
    assert missing.status_code == 422
    assert field_error(missing.get_data(as_text=True), "partner_id") == "is required"
    made = post_form(client, "/deals/new", {"title": "Sklad", "partner_id": dossier.partner})
    assert made.status_code == 302
    assert "Sklad" in client.get(f"/partners/{dossier.partner}").get_data(as_text=True)


def test_edit_and_delete(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    negotiation = entry_id(database, "deal_stage", "Negotiation")
    login(client, world.sales_a)
    url = f"/deals/{dossier.deal}"
    form = client.get(f"{url}/edit").get_data(as_text=True)
    assert 'value="Hala Příbram"' in form and 'value="2500000.00"' in form
    saved = post_form(
        client,
        f"{url}/edit",
        {
            "partner_id": dossier.partner,
            "title": "Hala Příbram – 2. etapa",
            "stage_id": negotiation,
            "value": "3100000",
            "currency": "EUR",
            "probability": "70",
        },
    )
    assert saved.status_code == 302 and saved.headers["Location"] == url
    page = text(client.get(url).get_data(as_text=True))
    assert "Hala Příbram – 2. etapa" in page and "Negotiation" in page and "70 %" in page
    assert "€3,100,000.00" in page

    refused = post_form(client, f"{url}/delete", {})
    assert refused.status_code == 302 and refused.headers["Location"] == url
    assert "the deal has activities; close it as lost to keep its history" in flashes(
        client.get(url).get_data(as_text=True)
    )
    assert count(database, Deal) == 1

    with database.session() as s:
        spare = deals.create(s, world.sales_a, {"title": "Oplocení", "partner_id": dossier.partner})
    deleted = post_form(client, f"/deals/{spare.id}/delete", {})
    assert deleted.headers["Location"] == f"/partners/{dossier.partner}"
    assert any(
        f.startswith("Deal deleted.")
        for f in flashes(client.get(deleted.headers["Location"]).get_data(as_text=True))
    )
    assert client.get(f"/deals/{spare.id}").status_code == 404
    assert count(database, Deal) == 1

    login(client, world.sales_a2)  # same team, not her deal
    assert "Delete deal" not in client.get(url).get_data(as_text=True)
    assert post_form(client, f"{url}/delete", {}).status_code == 403


@pytest.fixture
def pipeline(database: Database, world: World, dossier: Dossier) -> None:
    """Seven more deals of two partners, two salespeople, three currencies, one custom field."""
    with database.session() as s:
        codebooks.add_custom_field(
            s,
            world.admin,
            {
                "record_type": "deal",
                "key": "order_no",
                "label": "Číslo zakázky",
                "field_type": "text",
            },
        )
        zatec = partners.create(s, world.sales_a, {"name": "Agro Žatec"})
        rows: list[tuple[str, int, int, str, str, Any]] = [
            ("Zakázka Alfa", dossier.partner, 100, "EUR", "Qualified", world.sales_a),
            ("Zakázka Beta", zatec.id, 300, "EUR", "Offer sent", world.sales_a),
            ("Zakázka Gama", zatec.id, 200, "EUR", "Lead", world.sales_a2),
            ("Sklad Žatec", zatec.id, 900000, "CZK", "Contract", world.sales_a2),
            ("Silo Kraków", zatec.id, 50000, "PLN", "Negotiation", world.sales_a),
            ("Mlýn Louny", zatec.id, 75000, "CZK", "Lead", world.sales_a),
            ("Sušárna", zatec.id, 120000, "CZK", "Lead", world.sales_a),
        ]
        made = {}
        for i, (title, partner, value, currency, stage, who) in enumerate(rows):
            made[title] = deals.create(
                s,
                who,
                {
                    "title": title,
                    "partner_id": partner,
                    "value": value,
                    "currency": currency,
                    "stage": stage,
                    "expected_close": f"2027-0{i + 1}-15",
                    "custom": {"order_no": f"Z-{i:03d}"},
                },
            )
        deals.close(s, world.sales_a, made["Sušárna"].id, {"status": "won"})


@pytest.mark.usefixtures("pipeline")
def test_list_filters_sorts_and_pages(
    client: FlaskClient, world: World, database: Database
) -> None:
    login(client, world.sales_a)
    everything = client.get("/deals/").get_data(as_text=True)
    assert "8 records" in everything and "Číslo zakázky" in everything
    assert "CZK" in everything and "2,500,000.00" in everything

    by_value = text(client.get("/deals/?currency=EUR&sort=-value").get_data(as_text=True))
    assert "3 records" in by_value and "Hala Příbram" not in by_value
    assert (
        by_value.index("Zakázka Beta")
        < by_value.index("Zakázka Gama")
        < by_value.index("Zakázka Alfa")
    )
    by_partner = text(client.get("/deals/?currency=EUR&sort=partner").get_data(as_text=True))
    assert by_partner.index("Zakázka Beta") < by_partner.index("Zakázka Alfa")  # Agro < Stavby
    by_stage = text(client.get("/deals/?currency=CZK&sort=stage").get_data(as_text=True))
    assert by_stage.index("Mlýn Louny") < by_stage.index("Sklad Žatec")  # Lead < Contract
    by_close = text(client.get("/deals/?sort=-expected_close").get_data(as_text=True))
    assert by_close.index("Sušárna") < by_close.index("Zakázka Alfa")
    assert by_close.index("Zakázka Alfa") < by_close.index("Hala Příbram")  # undated last

    assert "1 record ·" in client.get("/deals/?q=zatec").get_data(as_text=True)
    lead = entry_id(database, "deal_stage", "Lead")
    leads = client.get(f"/deals/?stage={lead}&status=open").get_data(as_text=True)
    assert "Mlýn Louny" in leads and "Sušárna" not in leads and "3 records" in leads
    won = client.get("/deals/?status=won").get_data(as_text=True)
    assert "Sušárna" in won and "1 record ·" in won
    petr = client.get(f"/deals/?salesperson_id={world.sales_a2.id}").get_data(as_text=True)
    assert "Sklad Žatec" in petr and "Zakázka Gama" in petr and "2 records" in petr
    custom = client.get("/deals/?custom.order_no=z-003").get_data(as_text=True)
    assert "Sklad Žatec" in custom and "1 record ·" in custom
    by_type = client.get("/deals/?type=Service").get_data(as_text=True)
    assert "0 records" in by_type and "No deals match." in by_type

    first = client.get("/deals/?sort=title&per_page=3").get_data(as_text=True)
    assert "page 1 of 3" in first and 'rel="next"' in first and "Hala Příbram" in first
    third = client.get("/deals/?sort=title&per_page=3&page=3").get_data(as_text=True)
    assert "Zakázka Gama" in third and "Hala Příbram" not in third and 'rel="next"' not in third

    bad = client.get("/deals/?currency=Kč&sort=secret")
    page = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "cannot sort by secret" in page and "8 records" in page


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/deals/new?partner_id={partner}", {"partner_id": "{partner}", "title": "Nová"}),
        ("/deals/{deal}/edit", {"partner_id": "{partner}", "title": "Nová"}),
        ("/deals/{deal}/delete", {}),
        ("/deals/{deal}/actions/meeting", {"title": "Nová"}),
        ("/deals/{deal}/actions/close", {"status": "won"}),
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
    response = client.post(
        url.format(**vars(dossier)), data={k: v.format(**vars(dossier)) for k, v in data.items()}
    )
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    with database.session() as s:
        assert s.scalars(select(Deal.title)).all() == ["Hala Příbram"]
        assert s.scalar(select(Deal.status)) == "open"
    assert count(database, Activity) == 1


def test_other_team_gets_not_found_and_the_list_hides_the_deal(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    login(client, world.sales_b)
    for url in dossier.urls(
        "/deals/{deal}",
        "/deals/{deal}/edit",
        "/deals/{deal}/actions/call",
        "/deals/{deal}/actions/close",
        "/deals/new?partner_id={partner}",
    ):
        assert client.get(url).status_code == 404, url
    for url in dossier.urls(
        "/deals/{deal}/edit",
        "/deals/{deal}/delete",
        "/deals/{deal}/actions/meeting",
        "/deals/{deal}/actions/close",
    ):
        response = post_form(client, url, {"title": "X", "status": "won"})
        assert response.status_code == 404, url
    sneaked = post_form(client, "/deals/new", {"title": "X", "partner_id": dossier.partner})
    assert sneaked.status_code == 422
    assert field_error(sneaked.get_data(as_text=True), "partner_id") == "no such partner"
    listing = client.get("/deals/").get_data(as_text=True)
    assert "Hala Příbram" not in listing and "0 records" in listing
    assert "Hala Příbram" not in client.get("/deals/?q=hala").get_data(as_text=True)
    with database.session() as s:
        assert s.scalars(select(Deal.title)).all() == ["Hala Příbram"]
        assert s.scalar(select(Deal.status)) == "open"
    assert count(database, Activity) == 1
