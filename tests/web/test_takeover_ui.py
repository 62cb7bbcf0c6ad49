"""Taking over a colleague's records through the web forms (issue 8, finding 3).

A colleague who sees a shared record gets its salesperson, group and private fields disabled
with the reason, can still save the rest, and a forged change of them is refused beside the
field; the record's salesperson and the group's manager change them; nobody gives a record to
another team's salesperson.
"""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from crm.db import Database
from crm.models import Activity, Deal, Partner, Person, User
from tests.conftest import World, login, post_form
from tests.web.conftest import Dossier, field_error, text

NOT_YOURS = (
    "only the record's salesperson, a manager of its group or an administrator may change this"
)
EXPLANATION = (
    "Only the record's salesperson, a manager of its group or an administrator can change who "
    "it belongs to."
)
KINDS = {
    "partner": (Partner, "/partners/{partner}/edit", {"name": "Stavby Příbram a.s."}),
    "deal": (Deal, "/deals/{deal}/edit", {"title": "Hala Příbram II", "partner_id": "{partner}"}),
    "activity": (
        Activity,
        "/activities/{activity}/edit",
        {"kind": "call", "title": "Druhý hovor", "deal_id": "{deal}", "partner_id": "{partner}"},
    ),
}


def form_of(kind: str, dossier: Dossier) -> tuple[type, str, dict[str, str]]:
    model, url, data = KINDS[kind]
    return (
        model,
        url.format(**vars(dossier)),
        {k: v.format(**vars(dossier)) for k, v in data.items()},
    )


def stored(database: Database, model: type, dossier: Dossier) -> tuple[int, int, bool]:
    record_id = {Partner: dossier.partner, Deal: dossier.deal, Activity: dossier.activity}[model]
    with database.session(write=False) as s:
        row = s.get(model, record_id)
        return row.salesperson_id, row.group_id, row.private


def select_options(page: str, field_id: str) -> list[str]:
    found = re.search(rf'<select id="f-{field_id}"(.*?)</select>', page, re.S)
    assert found, f"no select {field_id}"
    return re.findall(r"<option[^>]*>([^<]*)</option>", found.group(1))


@pytest.mark.parametrize("kind", KINDS)
def test_a_colleague_sees_who_it_belongs_to_disabled_with_the_reason(
    client: FlaskClient, world: World, dossier: Dossier, kind: str
) -> None:
    _model, url, _data = form_of(kind, dossier)
    login(client, world.sales_a2)
    page = client.get(url).get_data(as_text=True)
    for field in ("salesperson_id", "group_id", "private"):
        assert re.search(rf'id="f-{field}" disabled', page), field
        assert f'name="{field}"' not in page
    assert EXPLANATION in text(page)
    assert select_options(page, "salesperson_id") == ["Jana Nováková"]
    client.get("/logout")
    login(client, world.sales_a)
    own = client.get(url).get_data(as_text=True)
    assert 'name="salesperson_id"' in own and EXPLANATION not in text(own)


@pytest.mark.parametrize("kind", KINDS)
def test_a_colleague_saves_the_rest_and_ownership_stays(
    client: FlaskClient, world: World, dossier: Dossier, database: Database, kind: str
) -> None:
    model, url, data = form_of(kind, dossier)
    before = stored(database, model, dossier)
    login(client, world.sales_a2)
    saved = post_form(client, url, data)  # what the browser sends: no disabled fields
    assert saved.status_code == 302, saved.get_data(as_text=True)
    assert stored(database, model, dossier) == before


@pytest.mark.parametrize("kind", KINDS)
def test_a_forged_takeover_is_refused_beside_the_fields(
    client: FlaskClient, world: World, dossier: Dossier, database: Database, kind: str
) -> None:
    model, url, data = form_of(kind, dossier)
    before = stored(database, model, dossier)
    login(client, world.sales_a2)
    forged = post_form(
        client, url, {**data, "salesperson_id": str(world.sales_a2.id), "private": "1"}
    )
    assert forged.status_code == 422
    page = forged.get_data(as_text=True)
    assert field_error(page, "salesperson_id") == NOT_YOURS
    assert field_error(page, "private") == NOT_YOURS
    # The disabled field shows what is stored, not what was forged.
    assert select_options(page, "salesperson_id") == ["Jana Nováková"]
    assert stored(database, model, dossier) == before
    moved = post_form(client, url, {**data, "group_id": str(world.sales_b.group_ids[0])})
    assert field_error(moved.get_data(as_text=True), "group_id") == NOT_YOURS
    assert stored(database, model, dossier) == before


@pytest.mark.parametrize("kind", KINDS)
def test_the_salesperson_cannot_give_it_to_another_team_but_to_a_teammate(
    client: FlaskClient, world: World, dossier: Dossier, database: Database, kind: str
) -> None:
    model, url, data = form_of(kind, dossier)
    login(client, world.sales_a)
    form = client.get(url).get_data(as_text=True)
    offered = select_options(form, "salesperson_id")
    assert "Petr Dvořák" in offered and "Zofia Wójcik" not in offered
    group_a = world.sales_a.group_ids[0]
    common = {**data, "group_id": str(group_a)}
    to_zofia = post_form(client, url, {**common, "salesperson_id": str(world.sales_b.id)})
    assert to_zofia.status_code == 422
    page = to_zofia.get_data(as_text=True)
    assert field_error(page, "salesperson_id") == "must be a member of the record's group"
    assert stored(database, model, dossier) == (world.sales_a.id, group_a, False)
    to_petr = post_form(client, url, {**common, "salesperson_id": str(world.sales_a2.id)})
    assert to_petr.status_code == 302
    assert stored(database, model, dossier) == (world.sales_a2.id, group_a, False)


@pytest.mark.parametrize("kind", KINDS)
def test_the_groups_manager_reassigns_and_makes_private(
    client: FlaskClient, world: World, dossier: Dossier, database: Database, kind: str
) -> None:
    model, url, data = form_of(kind, dossier)
    login(client, world.manager_a)
    group_a = world.sales_a.group_ids[0]
    changed = post_form(
        client,
        url,
        {
            **data,
            "group_id": str(group_a),
            "salesperson_id": str(world.sales_a2.id),
            "private": "1",
        },
    )
    assert changed.status_code == 302, changed.get_data(as_text=True)
    assert stored(database, model, dossier) == (world.sales_a2.id, group_a, True)


@pytest.mark.parametrize(
    ("show", "delete", "model", "button"),
    [
        ("/partners/{partner}", "/partners/{partner}/delete", Partner, "Delete partner"),
        ("/deals/{deal}", "/deals/{deal}/delete", Deal, "Delete deal"),
        ("/activities/{activity}", "/activities/{activity}/delete", Activity, "Delete activity"),
        ("/persons/{person}", "/persons/{person}/delete", Person, "Delete person"),
    ],
)
def test_a_colleague_cannot_delete_a_shared_record(
    client: FlaskClient,
    world: World,
    dossier: Dossier,
    database: Database,
    show: str,
    delete: str,
    model: type,
    button: str,
) -> None:
    show, delete = show.format(**vars(dossier)), delete.format(**vars(dossier))
    login(client, world.sales_a2)
    assert button not in client.get(show).get_data(as_text=True)
    assert post_form(client, delete, {}).status_code == 403
    with database.session(write=False) as s:
        assert s.scalars(select(model)).first() is not None
    client.get("/logout")
    login(client, world.sales_a)
    assert button in client.get(show).get_data(as_text=True)


def test_the_reason_is_in_czech_for_a_czech_user(
    client: FlaskClient, world: World, dossier: Dossier, database: Database
) -> None:
    with database.session() as s:
        petr = s.get(User, world.sales_a2.id)
        assert petr is not None
        petr.language = "cs"
    login(client, world.sales_a2)
    url = f"/partners/{dossier.partner}/edit"
    page = text(client.get(url).get_data(as_text=True))
    assert "Komu záznam patří, může změnit jen jeho obchodník" in page
    forged = post_form(
        client, url, {"name": "Stavby Příbram s.r.o.", "salesperson_id": str(world.sales_a2.id)}
    )
    assert field_error(forged.get_data(as_text=True), "salesperson_id") == (
        "toto může změnit jen obchodník záznamu, manažer jeho skupiny nebo správce"
    )
