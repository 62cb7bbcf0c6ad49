"""The mail pages' partner and deal pickers offer passive partners, never stop silently at
500, and the triage queue sends its options once, not once per message."""

from __future__ import annotations

import datetime as dt

from flask.testing import FlaskClient
from sqlalchemy import insert, select

from crm.db import Database
from crm.models import Partner
from crm.services.partners import partners
from crm.text import fold
from mail_archive.models import Message, MessageLink
from tests.conftest import World, login, post_form


def triage_messages(database: Database, world: World, n: int) -> list[int]:
    with database.session() as s:
        return [
            s.execute(
                insert(Message).returning(Message.id),
                {
                    "sha256": f"{i:064x}",
                    "size": 10,
                    "subject": f"Poptávka {i}",
                    "sort_at": dt.datetime(2027, 2, 1, tzinfo=dt.UTC),
                    "thread_key": f"{i}@t",
                    "status": "triage",
                    "owner_id": world.sales_a.id,
                },
            ).scalar_one()
            for i in range(n)
        ]


def test_a_passive_partner_is_offered_and_options_come_once(
    client: FlaskClient, database: Database, world: World
) -> None:
    with database.session() as s:
        passive = partners.create(
            s, world.sales_a, {"name": "Spící Pila Žatec", "status": "passive"}
        ).id
    triage_messages(database, world, 5)
    login(client, world.sales_a)
    html = client.get("/mail/triage").get_data(as_text=True)
    assert html.count(f'<option value="{passive}">Spící Pila Žatec</option>') == 1
    assert html.count('data-options="partner-options"') == 5


def test_past_500_partners_the_picker_takes_a_number_and_files_there(
    client: FlaskClient, database: Database, world: World
) -> None:
    now = dt.datetime(2027, 2, 1, tzinfo=dt.UTC)
    group = world.sales_a.group_ids[0]
    with database.session() as s:
        s.execute(
            insert(Partner),
            [
                {
                    "name": f"Odběratel {i:03d}",
                    "name_key": fold(f"Odběratel {i:03d}"),
                    "group_id": group,
                    "salesperson_id": world.sales_a.id,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(501)
            ],
        )
        last = s.scalars(select(Partner.id).where(Partner.name == "Odběratel 500")).one()
    message, other = triage_messages(database, world, 2)
    login(client, world.sales_a)
    html = client.get("/mail/triage").get_data(as_text=True)
    assert "More than 500 partners: type the partner's number" in html
    assert f'<option value="{last}"' not in html  # not among the first 500 suggestions
    assert post_form(client, f"/mail/{message}/file", {"partner_id": str(last)}).status_code == 302
    with database.session() as s:
        assert (
            s.scalars(select(MessageLink.partner_id).where(MessageLink.message_id == message)).one()
            == last
        )
    # what is not a number is refused with the reason, and the message keeps waiting
    answer = post_form(client, f"/mail/{other}/file", {"partner_id": "Odběratel"})
    assert "Choose a partner or a deal" in client.get(answer.location).get_data(as_text=True)
    with database.session() as s:
        assert s.get(Message, other).status == "triage"
