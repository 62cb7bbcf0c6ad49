"""The UI in a real browser: keyboard-only work, sorting by clicking, nothing unstyled."""

from __future__ import annotations

import re
from typing import Any

import pytest

from crm.db import Database
from crm.services.partners import partners
from tests.conftest import World
from tests.web.conftest import log_in

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def test_keyboard_only_partner_entry(page: tuple[Any, str], world: World) -> None:
    browser, url = page
    log_in(browser, url, world.sales_a.email)
    browser.goto(f"{url}/partners/new")
    browser.focus("#f-name")
    browser.keyboard.type("Kovárna Příbram")
    browser.keyboard.press("Tab")  # to Kind
    browser.keyboard.press("ArrowDown")
    browser.focus("#f-emails")
    browser.keyboard.type("není-adresa")
    browser.click("form.recordform button[type=submit]")
    # the error is shown beside the field and the typed name is kept
    assert browser.locator("#f-emails-err").inner_text() == "“není-adresa” is not an email address"
    assert browser.input_value("#f-name") == "Kovárna Příbram"
    browser.fill("#f-emails", "kovarna@pribram.cz")
    browser.focus("#f-name")
    with browser.expect_navigation():
        browser.keyboard.press("Enter")  # Enter in a text field submits the form
    assert re.fullmatch(rf"{url}/partners/\d+", browser.url)
    assert browser.locator("h1").inner_text().startswith("Kovárna Příbram")


def test_list_sorts_by_clicking_and_is_styled(
    page: tuple[Any, str], world: World, database: Database
) -> None:
    browser, url = page
    with database.session() as s:
        for name in ("Žabka", "Ačko", "Cukrárna"):
            partners.create(s, world.sales_a, {"name": name})
    log_in(browser, url, world.sales_a.email)  # lands on My day
    browser.goto(f"{url}/partners/")
    names = browser.locator("table.list tbody td:first-child a")
    assert names.all_inner_texts() == ["Ačko", "Cukrárna", "Žabka"]
    browser.click("th >> text=Name")
    browser.click("th >> text=Name")
    assert names.all_inner_texts() == ["Žabka", "Cukrárna", "Ačko"]
    header = browser.locator("header.topbar")
    assert header.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(31, 78, 121)"
