"""At 390 px (a phone) every page fits the screen: the top bar folds into a menu, list tables
become stacked rows, filters fold, long names wrap (issue 10, "Layout"). Chromium measures
each page's width in every UI language."""

from __future__ import annotations

from typing import Any

from crm.blobs import BlobStore
from crm.db import Database
from crm.services.activities import activities
from crm.services.deals import deals
from crm.services.partners import partners
from crm.services.persons import persons
from mail_archive.filing import RuleFiler
from mail_archive.ingest import Archive, Source
from tests.conftest import World
from tests.mailfactory import make_mail
from tests.web.browser import keep_screenshot
from tests.web.conftest import log_in

PHONE = {"width": 390, "height": 844}
LONG = "Zemědělskéodbytovédružstvoholešovskýchvýrobcůmléčnýchvýrobkůavýrobkůzmasa"


def seed(database: Database, world: World) -> dict[str, int]:
    with database.session() as s:
        p = partners.create(
            s,
            world.sales_a,
            {
                "name": f"{LONG} s.r.o.",
                "domains": "stavby-pribram.cz",
                "phones": "+420 777 123 456",
                "street": "Dlouhá 1234/56",
                "city": "Příbram",
            },
        )
        person = persons.create(
            s,
            world.sales_a,
            {"partner_id": p.id, "name": "Jan Novák", "emails": "jan.novak@stavby-pribram.cz"},
        )
        d = deals.create(
            s, world.sales_a, {"title": f"Hala {LONG}", "partner_id": p.id, "value": "2500000"}
        )
        a = activities.create(
            s, world.sales_a, {"kind": "call", "title": f"Hovor {LONG}", "deal_id": d.id}
        )
        archive = Archive(s, BlobStore(database.settings.blob_dir), RuleFiler())
        filed = archive.ingest(
            make_mail(
                subject=f"Nabídka {LONG}", attachments=[("nabidka.pdf", "application/pdf", b"%PDF")]
            ),
            Source(kind="upload", key="u1", user_id=world.sales_a.id, explicit=True),
        )
        archive.ingest(
            make_mail(subject="Poptávka", sender=("Nový", "info@novy-zakaznik.cz")),
            Source(kind="upload", key="u2", user_id=world.sales_a.id, explicit=True),
        )
    return {
        "partner": p.id,
        "person": person.id,
        "deal": d.id,
        "activity": a.id,
        "message": filed.message_id or 0,
    }


SALES_PAGES = [
    "/",
    "/partners/",
    "/partners/{partner}",
    "/partners/{partner}/edit",
    "/partners/{partner}/delete",
    "/persons/{person}",
    "/persons/{person}/edit",
    "/deals/",
    "/deals/board",
    "/deals/board/salespeople",
    "/deals/{deal}",
    "/deals/{deal}/edit",
    "/deals/{deal}/actions/close",
    "/activities/",
    "/activities/new",
    "/activities/{activity}",
    "/mail/",
    "/mail/triage",
    "/mail/{message}",
    "/mail/upload",
    "/mail/compose",
    "/mail/accounts",
    "/account",
]
ADMIN_PAGES = [
    "/admin/codebooks",
    "/admin/custom-fields",
    "/admin/users",
    "/admin/audit",
    "/admin/trash",
    "/admin/system",
]


def width(browser: Any) -> int:
    return int(browser.evaluate("document.documentElement.scrollWidth"))


def test_every_page_fits_a_phone_in_every_language(
    page: tuple[Any, str], database: Database, world: World
) -> None:
    ids = seed(database, world)
    browser, url = page
    browser.set_viewport_size(PHONE)
    too_wide: dict[str, int] = {}
    for who, pages in ((world.sales_a, SALES_PAGES), (world.admin, ADMIN_PAGES)):
        log_in(browser, url, who.email)
        for language in ("en", "cs", "sk", "pl"):
            browser.goto(f"{url}/account")
            browser.locator("#menu-toggle").check()
            browser.click(f'.langswitch button[value="{language}"]')
            for path in pages:
                target = path.format(**ids)
                response = browser.goto(f"{url}{target}")
                assert response is not None and response.status < 500, target
                if width(browser) > PHONE["width"]:
                    too_wide[f"{language} {target}"] = width(browser)
                    keep_screenshot(browser, f"too-wide-{language}-{target.strip('/')}")
    assert too_wide == {}


def test_the_menu_folds_and_tables_stack_on_a_phone(
    page: tuple[Any, str], database: Database, world: World
) -> None:
    seed(database, world)
    browser, url = page
    browser.set_viewport_size(PHONE)
    log_in(browser, url, world.sales_a.email)
    browser.goto(f"{url}/deals/")
    nav = browser.locator("nav.mainnav")
    assert not nav.is_visible()  # folded behind the menu button
    browser.locator(".menu-button").click()
    assert nav.is_visible() and browser.locator("nav.mainnav >> text=Partners").is_visible()
    # a table row is a stack of labelled cells; the title wraps instead of widening the page
    cell = browser.locator("table.list tbody tr").first.locator("td").nth(3)
    assert cell.get_attribute("data-label") == "Value"
    title = browser.locator("table.list tbody td a").first
    assert title.bounding_box()["width"] <= PHONE["width"]
    # the filters fold behind a button until asked for
    filters = browser.locator("form.filters input[name=q]")
    assert not filters.is_visible()
    browser.locator("form.filters .fold-toggle").click()
    assert filters.is_visible()
    # on a laptop the same page shows the menu and the table as they are
    browser.set_viewport_size({"width": 1366, "height": 900})
    assert nav.is_visible() and not browser.locator(".menu-button").is_visible()
    assert browser.locator("table.list thead").first.is_visible()
