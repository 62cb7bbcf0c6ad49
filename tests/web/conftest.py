"""What the UI tests of persons, deals, activities and administration share."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from crm.db import Database
from crm.services.activities import activities
from crm.services.deals import deals
from crm.services.partners import partners
from crm.services.persons import persons
from tests.conftest import World, require_or_skip
from tests.web.browser import browser_page, chromium_missing, live_server


@dataclass(frozen=True)
class Dossier:
    """A Tým A partner of Jana's with a person, a deal and a call on the deal."""

    partner: int
    person: int
    deal: int
    activity: int

    def urls(self, *templates: str) -> list[str]:
        return [t.format(**vars(self)) for t in templates]


@pytest.fixture
def dossier(database: Database, world: World) -> Dossier:
    with database.session() as s:
        p = partners.create(s, world.sales_a, {"name": "Stavby Příbram s.r.o."})
        person = persons.create(
            s,
            world.sales_a,
            {"partner_id": p.id, "name": "Jan Dvořák", "emails": "jan@stavby-pribram.cz"},
        )
        d = deals.create(
            s, world.sales_a, {"title": "Hala Příbram", "partner_id": p.id, "value": "2500000"}
        )
        a = activities.create(
            s, world.sales_a, {"kind": "call", "title": "Úvodní hovor", "deal_id": d.id}
        )
    return Dossier(partner=p.id, person=person.id, deal=d.id, activity=a.id)


def field_error(page: str, field_id: str) -> str | None:
    """The error shown beside the form field ``field_id`` (as the field() macro names it)."""
    found = re.search(rf'<p class="error" id="f-{re.escape(field_id)}-err">([^<]*)</p>', page)
    return html.unescape(found.group(1)) if found else None


def flashes(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'class="flash flash-\w+"[^>]*>([^<]*)<', page)]


def text(page: str) -> str:
    """The page as a user reads it: tags dropped, entities resolved, blanks collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


@pytest.fixture
def page(app: Flask) -> Iterator[tuple[Any, str]]:
    """Chromium on a live server of the test's app: (the Playwright page, the server's URL)."""
    missing = chromium_missing()
    if missing:
        require_or_skip(missing)
    with live_server(app) as url, browser_page() as page:
        yield page, url


def log_in(page: Any, url: str, email: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#email", email)
    page.fill("#password", World.password)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}/")
