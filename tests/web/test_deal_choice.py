"""Filing to a partner and a deal of another partner is refused on every channel (issue 10,
"Choosing the right record"): before, a salesperson who picked Stavby Příbram and the first deal
in the list filed the mail to another partner's deal, and it showed in that partner's dossier.
The pickers offer only the chosen partner's deals (static/deal-picker.js, tried in Chromium)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from crm.db import Database
from crm.services import users
from crm.services.deals import deals
from crm.services.partners import partners
from mail_archive.models import Message, MessageLink
from tests.conftest import World, login, post_form
from tests.mailfactory import make_mail
from tests.web.browser import keep_screenshot
from tests.web.conftest import log_in
from tests.web.test_mail_ui import setup

REFUSAL = "is not a deal of Stavby Příbram s.r.o."


def other_deal(database: Database, world: World) -> int:
    """An open deal of another partner the same salesperson sees."""
    with database.session() as s:
        agro = partners.create(s, world.sales_a, {"name": "Agro Žatec a.s."})
        return deals.create(s, world.sales_a, {"title": "Sklad obilí", "partner_id": agro.id}).id


def links_of(database: Database, message_id: int) -> set[str]:
    with database.session(write=False) as s:
        rows = s.scalars(select(MessageLink).where(MessageLink.message_id == message_id))
        return {link.target for link in rows if not link.removed}


def test_triage_refuses_a_deal_of_another_partner_and_files_nothing(
    client: FlaskClient, database: Database, world: World
) -> None:
    ids = setup(database, world)
    wrong = other_deal(database, world)
    login(client, world.sales_a)
    response = post_form(
        client,
        f"/mail/{ids['triaged']}/file",
        {"partner_id": str(ids["partner"]), "deal_id": str(wrong)},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "the deal “Sklad obilí” " + REFUSAL in html
    assert links_of(database, ids["triaged"]) == set()
    assert "Poptávka neznámého" in html  # still waiting in the queue
    right = post_form(
        client,
        f"/mail/{ids['triaged']}/file",
        {"partner_id": str(ids["partner"]), "deal_id": str(ids["deal"])},
    )
    assert right.status_code == 302
    assert links_of(database, ids["triaged"]) == {
        f"partner:{ids['partner']}",
        f"deal:{ids['deal']}",
    }


def test_upload_and_the_api_refuse_a_deal_of_another_partner(
    client: FlaskClient, database: Database, world: World
) -> None:
    ids = setup(database, world)
    wrong = other_deal(database, world)
    with database.session() as s:
        users.set_language(s, world.sales_a, "cs")
        token = users.create_token(s, world.sales_a.email, "test")
    login(client, world.sales_a)
    page = post_form(
        client,
        "/mail/upload",
        {
            "partner_id": str(ids["partner"]),
            "deal_id": str(wrong),
            "files": [(io.BytesIO(make_mail(subject="Objednávka sila")), "sila.eml")],
        },
        content_type="multipart/form-data",
    )
    assert page.status_code == 422
    assert "obchod „Sklad obilí“ nepatří partnerovi Stavby Příbram s.r.o." in page.get_data(
        as_text=True
    )
    api = client.post(
        f"/api/v1/messages?partner_id={ids['partner']}&deal_id={wrong}",
        data=make_mail(subject="Objednávka sila"),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "message/rfc822"},
    )
    assert api.status_code == 422
    assert REFUSAL in api.get_json()["error"]["fields"]["deal_id"]
    with database.session(write=False) as s:
        assert s.scalars(select(Message).where(Message.subject == "Objednávka sila")).all() == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_deal_picker_offers_the_chosen_partners_deals(
    page: tuple[Any, str], database: Database, world: World
) -> None:
    browser, url = page
    ids = setup(database, world)
    wrong = other_deal(database, world)
    log_in(browser, url, world.sales_a.email)
    browser.goto(f"{url}/mail/triage")
    row = f"#partner-{ids['triaged']}"
    deal = browser.locator(f"#deal-{ids['triaged']}")
    assert deal.locator(f"option[value='{wrong}']").is_enabled()  # no partner chosen: all
    deal.select_option(str(wrong))
    browser.select_option(row, str(ids["partner"]))
    assert deal.input_value() == ""  # the other partner's deal was unselected
    assert deal.locator(f"option[value='{wrong}']").is_disabled()
    assert deal.locator(f"option[value='{ids['deal']}']").is_enabled()
    keep_screenshot(browser, "deal-picker-triage")
