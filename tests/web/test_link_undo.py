"""Removing a message's link can be undone from the message page (issue 10, "Delete": the
mail's "remove link" asks too or can be undone)."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select

from crm.blobs import BlobStore
from crm.db import Database
from crm.services.partners import partners
from mail_archive.filing import RuleFiler
from mail_archive.ingest import Archive, Source
from mail_archive.models import Message, MessageLink
from tests.conftest import World, login, post_form
from tests.mailfactory import make_mail
from tests.web.conftest import flashes, text


def filed_message(database: Database, world: World) -> tuple[int, int]:
    with database.session() as s:
        partners.create(
            s, world.sales_a, {"name": "Stavby Příbram s.r.o.", "domains": "stavby-pribram.cz"}
        )
        archive = Archive(s, BlobStore(database.settings.blob_dir), RuleFiler())
        message_id = archive.ingest(
            make_mail(subject="Nabídka haly"),
            Source(kind="upload", key="u1", user_id=world.sales_a.id, explicit=True),
        ).message_id
        assert message_id
        link = s.scalars(
            select(MessageLink).where(
                MessageLink.message_id == message_id, MessageLink.partner_id.is_not(None)
            )
        ).one()
        return message_id, link.id


def test_a_removed_link_is_undone_from_the_message_page(
    client: FlaskClient, database: Database, world: World
) -> None:
    message_id, link_id = filed_message(database, world)
    login(client, world.sales_a)
    removed = post_form(client, f"/mail/{message_id}/links/{link_id}/remove", {})
    assert removed.status_code == 302
    assert removed.headers["Location"] == f"/mail/{message_id}?removed={link_id}"
    page = client.get(removed.headers["Location"]).get_data(as_text=True)
    assert "Link to Stavby Příbram s.r.o. removed" in text(page)
    undo = re.search(rf'action="(/mail/{message_id}/links/{link_id}/restore)"', page)
    assert undo
    with database.session() as s:
        message = s.get(Message, message_id)
        assert message is not None and message.status == "triage"  # nothing else holds it
    back = post_form(client, undo.group(1), {})
    assert back.status_code == 302 and back.headers["Location"] == f"/mail/{message_id}"
    page = client.get(back.headers["Location"]).get_data(as_text=True)
    assert "The link is back." in flashes(page) and "Undo" not in page
    with database.session() as s:
        link = s.get(MessageLink, link_id)
        message = s.get(Message, message_id)
        assert link is not None and not link.removed and link.removed_by_id is None
        assert message is not None and message.status == "filed"
    # undoing twice, or a link that was never removed, finds nothing to undo
    assert post_form(client, undo.group(1), {}).status_code == 404
    # a stale ?removed= shows no undo
    assert "Undo" not in client.get(f"/mail/{message_id}?removed={link_id}").get_data(as_text=True)
    assert "Undo" not in client.get(f"/mail/{message_id}?removed=x%27").get_data(as_text=True)


def test_only_who_sees_the_record_undoes_and_only_with_the_pages_token(
    client: FlaskClient, database: Database, world: World
) -> None:
    message_id, link_id = filed_message(database, world)
    login(client, world.sales_a)
    post_form(client, f"/mail/{message_id}/links/{link_id}/remove", {})
    assert client.post(f"/mail/{message_id}/links/{link_id}/restore").status_code == 400
    login(client, world.sales_b)  # another team sees neither the message nor the partner
    assert post_form(client, f"/mail/{message_id}/links/{link_id}/restore", {}).status_code == 404
    with database.session() as s:
        link = s.get(MessageLink, link_id)
        assert link is not None and link.removed
