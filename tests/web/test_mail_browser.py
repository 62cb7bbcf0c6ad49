"""Mail pages in a real browser (Debian's Chromium through Playwright): hostile HTML mail shows
its text with nothing active, the triage queue files a message with the keyboard, and every
mail page is styled. With DOSSIER_SCREENSHOTS=<folder> the pages are also saved as PNG files
for a person to look at."""

from __future__ import annotations

from typing import Any

import pytest

from crm.db import Database
from mail_archive.models import Message
from tests.conftest import World
from tests.web.browser import keep_screenshot
from tests.web.conftest import log_in
from tests.web.test_mail_ui import setup

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def test_hostile_html_mail_shows_its_text_and_runs_nothing(
    page: tuple[Any, str], world: World, database: Database
) -> None:
    browser, url = page
    ids = setup(database, world)
    dialogs: list[str] = []
    browser.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    outside: list[str] = []
    browser.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith(("data:", url)) else None,
    )
    log_in(browser, url, world.sales_a.email)
    browser.goto(f"{url}/mail/{ids['filed']}")
    assert browser.locator("h1").inner_text() == "Nabídka haly"
    body = browser.frame_locator("iframe")
    assert "posíláme nabídku" in body.locator("body").inner_text()
    body.locator("text=klikni").click()  # was a javascript: link
    browser.wait_for_timeout(300)
    assert dialogs == [], "a script in the mail ran"
    assert outside == [], f"the mail reached out: {outside}"
    assert browser.locator("text=remote image").count() >= 1  # the blocked images are named
    keep_screenshot(browser, "mail-message")


def test_triage_files_a_message_with_the_keyboard_and_mail_pages_are_styled(
    page: tuple[Any, str], world: World, database: Database
) -> None:
    browser, url = page
    ids = setup(database, world)
    log_in(browser, url, world.sales_a.email)
    assert browser.locator("nav >> text=Mail").count() == 1
    browser.goto(f"{url}/mail/triage")
    row = browser.locator("table.triage tbody tr", has_text="Poptávka neznámého")
    assert row.count() == 1
    keep_screenshot(browser, "mail-triage")
    browser.focus(f"#partner-{ids['triaged']}")
    browser.keyboard.press("ArrowDown")  # the first partner: Stavby Příbram s.r.o.
    assert browser.input_value(f"#partner-{ids['triaged']}") == str(ids["partner"])
    with browser.expect_navigation():
        row.locator("button.primary").press("Enter")
    assert "Filed: Poptávka neznámého" in browser.locator(".flash").inner_text()
    assert browser.locator("table.triage", has_text="Nothing to file").count() == 1
    with database.session() as s:
        filed = s.get(Message, ids["triaged"])
        assert filed is not None and filed.status == "filed"

    for name, path in (
        ("mail-list", "/mail/"),
        ("mail-upload", "/mail/upload"),
        ("mail-accounts", "/mail/accounts"),
        ("mail-compose", "/mail/compose"),
        ("mail-partner-dossier", f"/partners/{ids['partner']}"),
    ):
        response = browser.goto(f"{url}{path}")
        assert response.status == 200, path
        header = browser.locator("header.topbar")
        assert header.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(31, 78, 121)"
        keep_screenshot(browser, name)
