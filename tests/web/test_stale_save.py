"""A stale save through a form is refused and loses nothing (issue 9 §6), with the test client."""

from __future__ import annotations

from html.parser import HTMLParser

from flask import Flask
from flask.testing import FlaskClient

from crm.db import Database
from crm.services.partners import partners
from tests.conftest import World, login, post_form


class FormFields(HTMLParser):
    """The fields a browser would send from the page's record form (as typed there now)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        name = a.get("name", "")
        if tag == "input" and name and "disabled" not in a:
            if a.get("type") != "checkbox" or "checked" in a:
                self.fields[name] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""
        elif tag == "select" and name and "disabled" not in a:
            self._select = name
            self.fields.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] += data


def form_of(client: FlaskClient, url: str) -> dict[str, str]:
    parser = FormFields()
    parser.feed(client.get(url).get_data(as_text=True))
    parser.fields.pop("csrf_token", None)
    return parser.fields


def test_a_salesperson_saving_a_note_over_the_managers_change_is_refused_then_chooses(
    app: Flask, client: FlaskClient, database: Database, world: World
) -> None:
    with database.session() as s:
        partner_id = partners.create(
            s, world.sales_a, {"name": "Pila Hůrka s.r.o.", "city": "Písek"}
        ).id
    url = f"/partners/{partner_id}/edit"
    login(client, world.sales_a)
    salesperson_form = form_of(client, url)  # the salesperson opens the form first
    assert salesperson_form["version"] == "1"

    manager = app.test_client()
    login(manager, world.manager_a)
    manager_form = form_of(manager, url)
    manager_form.update(phones="+420 777 111 222", city="Tábor")
    assert post_form(manager, url, manager_form).status_code == 302

    salesperson_form["note"] = "Volat ráno, ne v pátek."
    refused = post_form(client, url, salesperson_form)
    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    assert "Marek Manažer changed this record at" in page
    assert "Volat ráno, ne v pátek.</textarea>" in page  # what they typed is kept
    assert 'id="f-city-theirs"' in page and "Tábor" in page  # the manager's values beside
    assert 'id="f-phones-theirs"' in page and "+420 777 111 222" in page
    assert 'id="f-note-theirs"' in page
    with database.session() as s:
        stored = partners.get(s, world.admin, partner_id)
        assert (stored.note, stored.city, stored.version) == ("", "Tábor", 2)

    # Saving again is a deliberate choice: here the salesperson keeps the manager's new values.
    again = FormFields()
    again.feed(page)
    again.fields.pop("csrf_token", None)
    assert again.fields["version"] == "2"
    again.fields.update(city="Tábor", phones="+420 777 111 222")
    assert post_form(client, url, again.fields).status_code == 302
    with database.session() as s:
        stored = partners.get(s, world.admin, partner_id)
        assert (stored.note, stored.city, stored.phones, stored.version) == (
            "Volat ráno, ne v pátek.",
            "Tábor",
            ["+420 777 111 222"],
            3,
        )


def test_a_form_without_a_version_saves_as_before(
    client: FlaskClient, database: Database, world: World
) -> None:
    with database.session() as s:
        partner_id = partners.create(s, world.sales_a, {"name": "Pila Hůrka s.r.o."}).id
    login(client, world.sales_a)
    url = f"/partners/{partner_id}/edit"
    fields = form_of(client, url)
    fields.pop("version")
    fields["city"] = "Písek"
    assert post_form(client, url, fields).status_code == 302
