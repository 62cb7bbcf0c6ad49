"""Deals by the money: totals per currency under the list, sorting by value that never mixes
currencies, the pipeline board (a deal moves by drag and drop or by its own stage select) and
each salesperson's pipeline for the manager (issue 10, "Deals")."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from crm.db import Database
from crm.models import CodebookEntry, Deal
from crm.services.deals import deals
from crm.services.partners import partners
from tests.conftest import World, login, post_form
from tests.web.conftest import flashes, log_in, text


def stage_ids(database: Database) -> dict[str, int]:
    with database.session() as s:
        rows = s.scalars(select(CodebookEntry).where(CodebookEntry.codebook == "deal_stage"))
        return {e.label: e.id for e in rows}


def seed(database: Database, world: World) -> dict[str, int]:
    stages = stage_ids(database)
    with database.session() as s:
        mine = partners.create(s, world.sales_a, {"name": "Stavby Příbram s.r.o."})
        colleague = partners.create(s, world.sales_a2, {"name": "Agro Žatec a.s."})
        theirs = partners.create(s, world.sales_b, {"name": "Budimex Kraków"})

        def deal(
            actor: Any, partner: int, title: str, value: str, currency: str, **more: Any
        ) -> int:
            return deals.create(
                s,
                actor,
                {
                    "title": title,
                    "partner_id": partner,
                    "value": value,
                    "currency": currency,
                    **more,
                },
            ).id

        return {
            "hala": deal(
                world.sales_a, mine.id, "Hala Příbram", "1000000", "CZK", probability="50"
            ),
            "sklad": deal(world.sales_a, mine.id, "Sklad Brno", "900", "EUR", probability="10"),
            "plot": deal(world.sales_a, mine.id, "Oplocení", "50000", "CZK", probability="20"),
            "silo": deal(
                world.sales_a2,
                colleague.id,
                "Silo Žatec",
                "200000",
                "CZK",
                stage=str(stages["Offer sent"]),
            ),
            "won": deal(world.sales_a, mine.id, "Vyhraná", "7", "CZK", status="won"),
            "magazyn": deal(world.sales_b, theirs.id, "Magazyn", "5000", "PLN"),
        }


def totals(html: str) -> dict[str, list[str]]:
    """The totals table under the list: currency -> [deals, total value, weighted value]."""
    found = re.search(r'<table class="list totals".*?</table>', html, re.S)
    assert found
    rows = re.findall(r'<tr><th scope="row">(\w+)</th>(.*?)</tr>', found.group(0), re.S)
    return {currency: text(cells).split() for currency, cells in rows}


def test_the_list_totals_each_currency_and_its_weighted_value(
    client: FlaskClient, database: Database, world: World
) -> None:
    seed(database, world)
    login(client, world.sales_a)
    html = client.get("/deals/?status=open").get_data(as_text=True)
    got = totals(html)
    assert set(got) == {"CZK", "EUR"}  # team B's zloty deal is not Jana's to see
    # 1,000,000 + 50,000 + 200,000; weighted 50 % + 20 % + the offer stage's default 50 %
    assert got["CZK"] == ["3", "CZK1,250,000.00", "CZK610,000.00"]
    assert got["EUR"] == ["1", "€900.00", "€90.00"]
    # the totals follow the filter
    assert set(totals(client.get("/deals/?status=open&currency=EUR").get_data(as_text=True))) == {
        "EUR"
    }


def test_sorting_by_value_keeps_currencies_apart(
    client: FlaskClient, database: Database, world: World
) -> None:
    seed(database, world)
    login(client, world.sales_a)
    for sort in ("value", "-value"):
        html = client.get(f"/deals/?status=open&sort={sort}").get_data(as_text=True)
        listed = html.split('<table class="list totals"')[0]
        values = re.findall(r'<td class="num">((?:CZK|€)[\d,.]+)</td>', listed)
        currencies = [v[0] for v in values]
        assert currencies == sorted(currencies, key=lambda c: c != "C"), (sort, values)
        amounts = [float(v.lstrip("CZK€").replace(",", "")) for v in values if v.startswith("C")]
        assert amounts == sorted(amounts, reverse=sort.startswith("-"))


def test_the_board_shows_open_deals_by_stage_with_totals(
    client: FlaskClient, database: Database, world: World
) -> None:
    seed(database, world)
    login(client, world.sales_a)
    html = client.get("/deals/board").get_data(as_text=True)
    columns = {
        text(h): text(body)
        for h, body in re.findall(
            r'<section class="board-column"[^>]*>\s*<header>\s*<h2[^>]*>(.*?)</h2>(.*?)</section>',
            html,
            re.S,
        )
    }
    assert "Hala Příbram" in columns["Lead 3"] and "Silo Žatec" in columns["Offer sent 1"]
    assert "Vyhraná" not in html and "Magazyn" not in html
    assert "CZK1,050,000.00" in columns["Lead 3"] and "€900.00" in columns["Lead 3"]
    mine = client.get(f"/deals/board?salesperson_id={world.sales_a.id}").get_data(as_text=True)
    assert "Silo Žatec" not in mine and "Hala Příbram" in mine


def test_moving_a_deal_on_the_board_follows_the_forms_rules(
    client: FlaskClient, database: Database, world: World
) -> None:
    ids = seed(database, world)
    stages = stage_ids(database)
    login(client, world.sales_a)
    client.get("/deals/board")
    moved = post_form(
        client,
        f"/deals/{ids['hala']}/stage",
        {"stage": str(stages["Negotiation"]), "version": "1", "next": "/deals/board"},
    )
    assert moved.status_code == 302 and moved.headers["Location"] == "/deals/board"
    with database.session() as s:
        deal = s.get(Deal, ids["hala"])
        assert deal is not None and deal.stage_id == stages["Negotiation"]
        assert deal.version == 2
    # a board opened before that move does not overwrite it
    stale = post_form(
        client, f"/deals/{ids['hala']}/stage", {"stage": str(stages["Lead"]), "version": "1"}
    )
    assert stale.status_code == 302
    page = client.get("/deals/board").get_data(as_text=True)
    assert any("Someone else changed this deal" in f for f in flashes(page))
    # bad input: no stage, a stage of another codebook, nonsense; nothing changes
    bad_inputs = ["", str(stage_ids_other(database)), "nonsense", "9" * 12]
    for bad in bad_inputs:
        post_form(client, f"/deals/{ids['hala']}/stage", {"stage": bad, "version": "2"})
        assert any(
            "was not moved" in f for f in flashes(client.get("/deals/board").get_data(as_text=True))
        ), bad
    with database.session() as s:
        deal = s.get(Deal, ids["hala"])
        assert deal is not None and deal.stage_id == stages["Negotiation"] and deal.version == 2
    # a deal of another team is not there to move; without the page's token nothing moves
    assert (
        post_form(
            client, f"/deals/{ids['magazyn']}/stage", {"stage": str(stages["Lead"])}
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/deals/{ids['hala']}/stage", data={"stage": str(stages["Lead"]), "version": "2"}
        ).status_code
        == 400
    )


def stage_ids_other(database: Database) -> int:
    with database.session() as s:
        entry = s.scalars(
            select(CodebookEntry).where(CodebookEntry.codebook == "close_reason")
        ).first()
        assert entry is not None
        return entry.id


def test_the_manager_sees_each_salespersons_pipeline(
    client: FlaskClient, database: Database, world: World
) -> None:
    seed(database, world)
    login(client, world.manager_a)
    html = client.get("/deals/board/salespeople").get_data(as_text=True)
    rows = {
        text(name): text(cells)
        for name, cells in re.findall(r'<th scope="row">(.*?)</th>(.*?)</tr>', html, re.S)
    }
    assert set(rows) == {"Jana Nováková", "Petr Dvořák"}  # team B is not the manager's
    assert rows["Jana Nováková"].split()[:6] == ["3", "0", "0", "0", "0", "3"]
    assert "CZK1,050,000.00" in rows["Jana Nováková"] and "€900.00" in rows["Jana Nováková"]
    assert "CZK200,000.00" in rows["Petr Dvořák"]


def test_a_deal_is_dragged_to_another_stage_in_the_browser(
    page: tuple[Any, str], database: Database, world: World
) -> None:
    ids = seed(database, world)
    stages = stage_ids(database)
    browser, url = page
    log_in(browser, url, world.sales_a.email)
    browser.goto(f"{url}/deals/board")
    card = browser.locator(f'.deal-card[data-deal="{ids["hala"]}"]')
    target = browser.locator(f'.board-column[data-stage="{stages["Qualified"]}"]')
    with browser.expect_navigation():
        card.drag_to(target)
    assert "Hala Příbram" in target.inner_text()
    with database.session() as s:
        deal = s.get(Deal, ids["hala"])
        assert deal is not None and deal.stage_id == stages["Qualified"]
    # and with the keyboard only: the card's stage select and its Move button
    select_ = browser.locator(f"#stage-of-{ids['sklad']}")
    select_.focus()
    select_.select_option(str(stages["Contract"]))
    browser.keyboard.press("Tab")
    with browser.expect_navigation():
        browser.keyboard.press("Enter")
    contract = browser.locator(f'.board-column[data-stage="{stages["Contract"]}"]')
    assert "Sklad Brno" in contract.inner_text()
