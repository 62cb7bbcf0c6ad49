"""The History section of partner, person and deal pages, and the admin's audit log page."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from crm.db import Database
from crm.services.deals import deals
from crm.services.partners import partners
from crm.services.persons import persons
from tests.conftest import World, login
from tests.web.browser import keep_screenshot
from tests.web.conftest import Dossier, log_in, text


def test_a_partner_change_shows_old_and_new(
    client: FlaskClient, database: Database, world: World, dossier: Dossier
) -> None:
    with database.session() as s:
        partners.update(s, world.sales_a2, dossier.partner, {"city": "Beroun", "category": "B"})
    login(client, world.sales_a)
    page = text(client.get(f"/partners/{dossier.partner}").get_data(as_text=True))
    history = page[page.index("History") :]
    assert "Petr Dvořák <petr@firma.cz> changed" in history
    assert "City: — → Beroun" in history
    assert "Category: — → B" in history
    assert "Jana Nováková <jana@firma.cz> created" in history


def test_person_and_deal_pages_have_their_history(
    client: FlaskClient, database: Database, world: World, dossier: Dossier
) -> None:
    with database.session() as s:
        persons.update(s, world.sales_a, dossier.person, {"function": "jednatel"})
        deals.update(s, world.sales_a, dossier.deal, {"value": "2600000"})
    login(client, world.sales_a)
    person = text(client.get(f"/persons/{dossier.person}").get_data(as_text=True))
    assert "Function: — → jednatel" in person
    deal = text(client.get(f"/deals/{dossier.deal}").get_data(as_text=True))
    assert "Value: 2,500,000 → 2,600,000" in deal


def test_a_hidden_record_is_never_named(
    client: FlaskClient, database: Database, world: World, dossier: Dossier
) -> None:
    """The deal came from another team's partner: Jana sees that it moved, not from whom."""
    with database.session() as s:
        hidden = partners.create(s, world.sales_b, {"name": "Mleczarnia Kraków"})
        deal = deals.create(
            s,
            world.admin,
            {
                "title": "Cisterna",
                "partner_id": hidden.id,
                "group_id": world.sales_a.group_ids[0],
                "salesperson_id": world.sales_a.id,
            },
        )
        deals.update(s, world.admin, deal.id, {"partner_id": dossier.partner})
        deal_id = deal.id
    login(client, world.sales_a)
    page = text(client.get(f"/deals/{deal_id}").get_data(as_text=True))
    assert "Partner: a record you cannot see → Stavby Příbram s.r.o." in page
    assert "Mleczarnia" not in page
    login(client, world.admin)
    page = text(client.get(f"/deals/{deal_id}").get_data(as_text=True))
    assert "Partner: Mleczarnia Kraków → Stavby Příbram s.r.o." in page


def test_the_admin_page_filters_by_user_record_and_day(
    client: FlaskClient, database: Database, world: World, dossier: Dossier
) -> None:
    with database.session() as s:
        partners.update(s, world.manager_a, dossier.partner, {"city": "Beroun"})
    login(client, world.admin)
    everything = text(client.get("/admin/audit").get_data(as_text=True))
    assert "Audit log" in everything and "Marek Manažer" in everything and "Jana" in everything
    by_manager = text(
        client.get(f"/admin/audit?user_id={world.manager_a.id}").get_data(as_text=True)
    )
    assert "City: — → Beroun" in by_manager
    assert "Jana Nováková <jana@firma.cz>" not in by_manager
    deal_only = text(
        client.get(f"/admin/audit?record_type=deal&record_id={dossier.deal}").get_data(as_text=True)
    )
    assert "Hala Příbram" in deal_only and "Beroun" not in deal_only
    long_ago = client.get("/admin/audit?from=2001-01-01&to=2001-01-31").get_data(as_text=True)
    assert "No entries match." in long_ago
    bad = client.get("/admin/audit?from=tomorrow")
    assert bad.status_code == 422


def test_only_admins_open_the_admin_page(client: FlaskClient, world: World) -> None:
    for user in (world.manager_a, world.sales_a):
        login(client, user)
        assert client.get("/admin/audit").status_code in (403, 404)


def test_screenshots(
    page: tuple[Any, str], database: Database, world: World, dossier: Dossier
) -> None:
    browser, url = page
    with database.session() as s:
        partners.update(s, world.sales_a2, dossier.partner, {"city": "Beroun", "category": "B"})
    log_in(browser, url, world.admin.email)
    browser.goto(f"{url}/partners/{dossier.partner}")
    history = browser.locator("section.history")
    assert "Beroun" in history.inner_text()
    keep_screenshot(browser, "audit-partner-history")
    browser.goto(f"{url}/admin/audit")
    assert "Beroun" in browser.locator("table.audit").inner_text()
    keep_screenshot(browser, "audit-admin")
