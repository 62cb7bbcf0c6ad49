"""Mail pages in a real browser (Debian's Chromium through Playwright): hostile HTML mail shows
its text with nothing active, the triage queue files a message with the keyboard, and every
mail page is styled. With DOSSIER_SCREENSHOTS=<folder> the pages are also saved as PNG files
for a person to look at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crm.db import Database
from mail_archive.models import Message
from tests.conftest import World, corpora_dir
from tests.outlookfactory import CZECH, make_msg
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


def test_an_outlook_msg_uploaded_in_the_browser_shows_in_the_mail_list_and_its_page(
    page: tuple[Any, str], world: World, database: Database, tmp_path: Path
) -> None:
    """A corpus .msg (Outlook 2003's welcome mail, with eleven pictures) chosen on the Upload
    page and filed to a partner; one written here when the corpus is absent."""
    browser, url = page
    ids = setup(database, world)
    corpus = corpora_dir() / "outlook-msg" / "apache-poi" / "no_recipient_address.msg"
    if corpus.is_file():
        path, subject = corpus, "Welcome to Microsoft Office Outlook 2003"
    else:
        path, subject = tmp_path / "Nabídka.msg", CZECH.subject
        path.write_bytes(make_msg(CZECH))
    log_in(browser, url, world.sales_a.email)
    browser.goto(f"{url}/mail/upload")
    assert browser.locator("label[for=files]").inner_text() == "Messages (.eml, .msg)"
    browser.set_input_files("#files", str(path))
    browser.select_option("#partner_id", str(ids["partner"]))
    with browser.expect_navigation():
        browser.locator("form button.primary").click()
    result = browser.locator("section.card tr", has_text=path.name)
    assert result.locator("a").inner_text() == "filed"
    keep_screenshot(browser, "mail-upload-msg")
    browser.goto(f"{url}/mail/")
    row = browser.locator("table tbody tr", has_text=subject)
    assert row.count() == 1 and "Stavby Příbram s.r.o." in row.inner_text()
    with browser.expect_navigation():
        row.locator("a", has_text=subject).click()
    assert browser.locator("h1").inner_text() == subject
    assert browser.locator("ul.attachments li", has_text=f"{subject}.msg").count() == 1
    keep_screenshot(browser, "mail-message-from-msg")
    browser.set_viewport_size({"width": 390, "height": 844})
    assert browser.evaluate("document.documentElement.scrollWidth") <= 390
    keep_screenshot(browser, "mail-message-from-msg-390")


def test_a_file_that_is_no_mail_is_refused_by_the_file_field_in_the_browser(
    page: tuple[Any, str], world: World, database: Database, tmp_path: Path
) -> None:
    browser, url = page
    meeting = tmp_path / "Porada.msg"
    meeting.write_bytes(make_msg(message_class="IPM.Appointment"))
    invoice = tmp_path / "faktura.pdf"
    invoice.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    log_in(browser, url, world.sales_a.email)
    browser.goto(f"{url}/mail/upload")
    browser.set_input_files("#files", [str(meeting), str(invoice)])
    with browser.expect_navigation():
        browser.locator("form button.primary").click()
    field = browser.locator(".field.has-error", has=browser.locator("#files"))
    assert browser.locator("#files").get_attribute("aria-describedby") == "files-error"
    errors = field.locator("#files-error p.error")
    assert (
        errors.nth(0)
        .inner_text()
        .startswith("Porada.msg: This Outlook file is a calendar item, not an e-mail")
    )
    assert errors.nth(1).inner_text().startswith("faktura.pdf: This file is not an e-mail.")
    assert errors.nth(1).evaluate("e => getComputedStyle(e).color") == "rgb(180, 35, 24)"
    assert browser.locator("section.card", has_text="Result").count() == 0
    keep_screenshot(browser, "mail-upload-refused")
    browser.set_viewport_size({"width": 390, "height": 844})  # a phone: the reasons still fit
    assert browser.evaluate("document.documentElement.scrollWidth") <= 390
    assert errors.nth(1).bounding_box()["width"] <= 390
    keep_screenshot(browser, "mail-upload-refused-390")
