"""Creating a partner that may already be in Dossier asks first, and a form sent twice makes one
record (issue 10, "Duplicates"): the same name without accents or the same mail domain among
the partners the user sees is shown with "open it" / "create anyway" (a company ID held by
another partner is refused outright, tests/web/test_partners_ui.py); a partner the
user cannot see is never named; going back after Save and saving again opens what was made."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import func, select

from crm.db import Database
from crm.models import Partner
from crm.services.partners import partners
from tests.conftest import World, login, post_form


def partner_count(database: Database) -> int:
    with database.session(write=False) as s:
        return int(s.scalar(select(func.count()).select_from(Partner)) or 0)


def form_key(client: FlaskClient) -> str:
    page = client.get("/partners/new").get_data(as_text=True)
    found = re.search(r'name="form_key" value="([^"]+)"', page)
    assert found, "the new-partner form carries its key"
    return found.group(1)


def test_a_partner_like_a_visible_one_asks_first_and_creates_when_told(
    client: FlaskClient, database: Database, world: World
) -> None:
    with database.session() as s:
        agro = partners.create(
            s, world.sales_a, {"name": "Agro Žatec a.s.", "domains": "agrozatec.cz"}
        )
    login(client, world.sales_a)
    for typed in ({"name": "agro zatec A.S."}, {"name": "Agro Louny", "domains": "agrozatec.cz"}):
        asked = post_form(client, "/partners/new", {**typed, "form_key": form_key(client)})
        html = asked.get_data(as_text=True)
        assert asked.status_code == 200 and 'id="similar-notice"' in html
        assert f'<a href="/partners/{agro.id}">Agro Žatec a.s.</a>' in html
        assert f'value="{typed["name"]}"' in html  # what was typed stays
    assert partner_count(database) == 1
    anyway = post_form(
        client,
        "/partners/new",
        {"name": "Agro Louny", "domains": "agrozatec.cz", "create_anyway": "1"},
    )
    assert anyway.status_code == 302 and partner_count(database) == 2


def test_a_partner_the_user_cannot_see_is_never_named(
    client: FlaskClient, database: Database, world: World
) -> None:
    with database.session() as s:
        partners.create(s, world.sales_b, {"name": "Mlékárna Tábor", "domains": "mlekarna.cz"})
    login(client, world.sales_a)
    made = post_form(client, "/partners/new", {"name": "Mlékárna Tábor"})
    assert made.status_code == 302  # nothing to ask about: the other team's partner is unseen
    assert "Mlékárna Tábor" not in client.get("/partners/new").get_data(as_text=True)


def test_a_form_sent_twice_makes_one_partner(
    client: FlaskClient, database: Database, world: World
) -> None:
    login(client, world.sales_a)
    key = form_key(client)
    first = post_form(client, "/partners/new", {"name": "Pila Hůrka", "form_key": key})
    assert first.status_code == 302
    again = post_form(client, "/partners/new", {"name": "Pila Hůrka", "form_key": key})
    assert again.status_code == 302 and again.headers["Location"] == first.headers["Location"]
    assert "saved already" in client.get(again.headers["Location"]).get_data(as_text=True)
    assert partner_count(database) == 1
