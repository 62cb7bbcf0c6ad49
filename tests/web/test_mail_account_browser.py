"""The mail account pages in a real browser (Debian's Chromium through Playwright): choosing a
provider fills the servers and shows its advice; "Sync now" shows its progress and result on
the page without leaving it. With DOSSIER_SCREENSHOTS=<folder> the pages are saved as PNG
files, at 1366 and at 390 pixels wide, for a person to look at."""

from __future__ import annotations

from typing import Any

import pytest

from crm.db import Database
from tests.conftest import World
from tests.connector.conftest import add_imap
from tests.mail_archive.conftest import Dossier
from tests.mailfactory import make_mail
from tests.servers.dovecot import Dovecot
from tests.servers.fixtures import ImapUser
from tests.web.browser import keep_screenshot
from tests.web.conftest import log_in

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def test_choosing_a_provider_fills_the_form_and_says_what_to_do(
    page: tuple[Any, str], world: World
) -> None:
    browser, url = page
    log_in(browser, url, world.sales_a.email)
    browser.goto(f"{url}/mail/accounts")
    browser.select_option("#acc-preset", "gmail")
    assert browser.input_value("#acc-host") == "imap.gmail.com"
    assert browser.input_value("#acc-port") == "993"
    assert browser.input_value("#acc-smtp_host") == "smtp.gmail.com"
    assert browser.input_value("#acc-smtp_port") == "465"
    assert browser.input_value("#acc-smtp_security") == "tls"
    assert "app password" in browser.locator("#acc-preset-hint").inner_text()
    browser.select_option("#acc-preset", "microsoft365")
    assert browser.input_value("#acc-smtp_security") == "starttls"
    assert browser.input_value("#acc-smtp_port") == "587"
    assert "OAuth2" in browser.locator("#acc-preset-hint").inner_text()
    browser.fill("#acc-host", "mail.firma.cz")  # still the user's to change
    assert browser.input_value("#acc-host") == "mail.firma.cz"
    browser.select_option("#acc-preset", "seznam")
    keep_screenshot(browser, "account-form-1366")
    browser.set_viewport_size({"width": 390, "height": 844})
    width = browser.evaluate("document.documentElement.scrollWidth")
    wide = browser.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right"
        " > 390).map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 8)"
    )
    assert width <= 390, f"the form is {width} px wide at 390: {wide}"
    keep_screenshot(browser, "account-form-390")


def test_sync_now_shows_progress_and_the_result_without_leaving_the_page(
    page: tuple[Any, str],
    world: World,
    database: Database,
    dossier: Dossier,
    dovecot: Dovecot,
    imap_user: ImapUser,
) -> None:
    browser, url = page
    u = imap_user
    for n in range(2):
        mail = make_mail(subject=f"Poptávka {n}", sender=("Jan Dvořák", "jan@stavby-pribram.cz"))
        dovecot.append(u.name, u.password, "INBOX", mail)
    account_id = add_imap(database, u, world.sales_a.email, "Pošta Jany")
    log_in(browser, url, world.sales_a.email)
    browser.goto(f"{url}/mail/accounts/{account_id}")
    browser.evaluate("window.stillHere = true")
    navigations: list[str] = []
    browser.on("framenavigated", lambda frame: navigations.append(frame.url))
    browser.locator("button", has_text="Sync now").click()
    box = browser.locator("#account-status")
    box.locator("text=Sync done").wait_for(timeout=30_000)
    assert "messages read: 2, newly filed: 2." in box.inner_text()
    assert browser.evaluate("window.stillHere") is True and navigations == []
    # the details were fetched again: the folders read and their counts
    browser.locator("[data-account-details] td", has_text="INBOX").wait_for(timeout=10_000)
    keep_screenshot(browser, "account-synced-1366")
    browser.set_viewport_size({"width": 390, "height": 844})
    width = browser.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide at 390"
    keep_screenshot(browser, "account-synced-390")
