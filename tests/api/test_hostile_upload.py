"""Hostile mail filed by a user: through POST /api/v1/messages, the upload page and
``dossier file``. A forged sender keeps its real address and injects no recipient; a folded
attachment type downloads (and so does one stored with an odd type); MIME nested a thousand
levels deep and 100,000 recipients are archived with their raw bytes; and the message is parsed
before the request takes SQLite's write lock, so a large upload does not stall everyone."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from crm.blobs import BlobStore
from crm.db import Database
from mail_archive.models import Attachment, Message
from mail_archive.parse import MAX_ADDRESSES_PER_HEADER
from tests.api.conftest import Api, ApiFor
from tests.conftest import World, login, post_form
from tests.connector.test_intake import FileCommand, dossier_file  # noqa: F401  (fixture)
from tests.hostile_mail import (
    FORGED_FROM,
    FORGED_FROM_VARIANTS,
    PDF,
    folded_attachment,
    many_recipients,
    nested_multipart,
    nested_rfc822,
    plain,
    write_lock_during_parse,
)
from tests.mail_archive.conftest import Dossier
from tests.mail_archive.test_hostile_mime import STRANGER, shown

RFC822 = {"content_type": "message/rfc822"}


def post_raw(api: Api, raw: bytes, **query: Any) -> Any:
    return api.raw("POST", "/api/v1/messages", data=raw, query_string=query, **RFC822)


def filed(api: Api, raw: bytes, **query: Any) -> dict[str, Any]:
    """POST the message, then GET it back as the uploader sees it."""
    response = post_raw(api, raw, **query)
    assert response.status_code == 201, response.get_json()
    detail = api.get(f"/api/v1/messages/{response.get_json()['id']}")
    assert detail.status_code == 200
    return dict(detail.get_json())


def upload_page(client: FlaskClient, *files: tuple[bytes, str]) -> Any:
    return post_form(
        client,
        "/mail/upload",
        {"files": [(io.BytesIO(raw), name) for raw, name in files]},
        content_type="multipart/form-data",
    )


def stored(database: Database, internet_id: str) -> Message:
    with database.session(write=False) as s:
        m = s.scalars(select(Message).where(Message.internet_id == internet_id)).one()
        _ = m.attachments
        s.expunge_all()
        return m


# -- 12: a forged sender -------------------------------------------------------------------------


@pytest.mark.parametrize("sender", FORGED_FROM_VARIANTS)
def test_a_forged_sender_filed_through_the_api_keeps_the_real_address(
    api_for: ApiFor, world: World, dossier: Dossier, sender: str
) -> None:
    message = filed(api_for(world.sales_a), plain(sender=sender))
    assert message["from"]["address"] == "boss@alpha.example"
    assert shown(message["from"]["name"])
    assert message["to"] == [{"name": "Jana Nováková", "address": "jana@firma.cz"}]
    assert message["cc"] == []


def test_a_forged_sender_through_the_upload_page_and_dossier_file_keeps_the_real_address(
    client: FlaskClient,
    database: Database,
    world: World,
    tmp_path: Path,
    dossier_file: FileCommand,  # noqa: F811
) -> None:
    login(client, world.sales_a)
    page = upload_page(client, (plain(sender=FORGED_FROM, message_id="forged-1@x"), "a.eml"))
    assert page.status_code == 200
    path = tmp_path / "forged.eml"
    path.write_bytes(plain(sender=FORGED_FROM, message_id="forged-2@x"))
    result = dossier_file(path, "--user", world.sales_a.email)
    assert result.exit_code == 0, result.output
    for internet_id in ("forged-1@x", "forged-2@x"):
        m = stored(database, internet_id)
        assert (m.from_name, m.from_addr) == ("Evil Bcc: x@y.z", "boss@alpha.example")
        assert m.to_addrs == [["Jana Nováková", "jana@firma.cz"]] and m.cc_addrs == []
        shown_page = client.get(f"/mail/{m.id}").get_data(as_text=True)
        assert "&lt;boss@alpha.example&gt;" in shown_page and "&lt;x@y.z&gt;" not in shown_page


# -- 11: a folded attachment type ----------------------------------------------------------------


def test_a_folded_attachment_type_downloads_through_the_api_and_the_web_page(
    api_for: ApiFor, client: FlaskClient, world: World, dossier: Dossier
) -> None:
    api = api_for(world.sales_a)
    message = filed(api, folded_attachment())
    assert [(a["filename"], a["content_type"]) for a in message["attachments"]] == [
        ("nabidka 2026.pdf", "application/pdf"),
        ("cenik.pdf", "application/pdf"),
    ]
    login(client, world.sales_a)
    for position in (0, 1):
        for response in (
            api.get(message["attachments"][position]["url"]),
            client.get(f"/mail/{message['id']}/attachments/{position}"),
        ):
            assert response.status_code == 200
            assert response.mimetype == "application/pdf" and response.data == PDF
            assert response.headers["Content-Disposition"].startswith("attachment")
            response.close()


def test_an_attachment_stored_with_an_odd_type_and_name_still_downloads(
    api_for: ApiFor, client: FlaskClient, database: Database, world: World, dossier: Dossier
) -> None:
    api = api_for(world.sales_a)
    message = filed(api, folded_attachment())
    with database.session() as s:  # what the parser stored before it unfolded parameters
        s.execute(
            update(Attachment)
            .where(Attachment.message_id == message["id"], Attachment.position == 0)
            .values(content_type="application/\r\n pdf", filename="nabidka\r\n\t2026\u202e.pdf")
        )
    login(client, world.sales_a)
    for response in (
        api.get(message["attachments"][0]["url"]),
        client.get(f"/mail/{message['id']}/attachments/0"),
    ):
        assert response.status_code == 200
        assert response.mimetype == "application/octet-stream" and response.data == PDF
        assert "\r" not in response.headers["Content-Disposition"]
        response.close()


# -- 9 and 4: nesting and recipients ---------------------------------------------------------------


@pytest.mark.parametrize("nest", [nested_multipart, nested_rfc822])
def test_mime_nested_a_thousand_levels_is_filed_through_the_api_with_its_headers(
    api_for: ApiFor, world: World, dossier: Dossier, nest: Any
) -> None:
    api = api_for(world.sales_a)
    raw = nest(1000, sender=STRANGER, subject="Hluboká zpráva")
    response = post_raw(api, raw)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "triage"
    assert any("too deep" in d for d in body["defects"])
    message = api.get(f"/api/v1/messages/{body['id']}").get_json()
    assert message["subject"] == "Hluboká zpráva"
    assert message["from"]["address"] == "info@novy-zakaznik.cz"
    raw_back = api.get(f"/api/v1/messages/{body['id']}/raw")
    assert raw_back.data == raw
    raw_back.close()


def test_mime_nested_a_thousand_levels_is_filed_by_dossier_file_with_its_headers(
    database: Database,
    world: World,
    tmp_path: Path,
    dossier_file: FileCommand,  # noqa: F811
) -> None:
    raw = nested_rfc822(1000, sender=STRANGER, subject="Hluboká zpráva", message_id="deep@x")
    path = tmp_path / "deep.eml"
    path.write_bytes(raw)
    result = dossier_file(path, "--user", world.sales_a.email)
    assert result.exit_code == 0, result.output
    assert "triaged 1" in result.output
    m = stored(database, "deep@x")
    assert (m.subject, m.from_addr, m.status) == (
        "Hluboká zpráva",
        "info@novy-zakaznik.cz",
        "triage",
    )
    assert BlobStore(database.settings.blob_dir).get(m.sha256) == raw


def test_a_hundred_thousand_recipients_are_filed_through_the_api_with_the_rest_noted(
    api_for: ApiFor, world: World, dossier: Dossier
) -> None:
    api = api_for(world.sales_a)
    raw = many_recipients(100_000)
    message = filed(api, raw)
    assert len(message["to"]) == MAX_ADDRESSES_PER_HEADER
    assert any("too many addresses" in d for d in message["defects"])
    raw_back = api.get(message["raw_url"])
    assert raw_back.data == raw
    raw_back.close()


@pytest.mark.parametrize("backend", ["sqlite"])  # the write lock that stalls everyone
def test_the_api_the_upload_page_and_dossier_file_parse_before_they_take_the_write_lock(
    api_for: ApiFor,
    client: FlaskClient,
    database: Database,
    world: World,
    tmp_path: Path,
    dossier_file: FileCommand,  # noqa: F811
) -> None:
    db_path = str(database.engine.url.database)
    api = api_for(world.sales_a)
    login(client, world.sales_a)
    with write_lock_during_parse(db_path) as held:
        assert post_raw(api, plain(message_id="lock-1@x")).status_code == 201
    assert held == [False]
    with write_lock_during_parse(db_path) as held:
        page = upload_page(
            client, (plain(message_id="lock-2@x"), "a.eml"), (plain(message_id="lock-3@x"), "b.eml")
        )
    assert page.status_code == 200
    assert held == [False, False]
    path = tmp_path / "lock-4.eml"
    path.write_bytes(plain(message_id="lock-4@x"))
    with write_lock_during_parse(db_path) as held:
        assert dossier_file(path, "--user", world.sales_a.email).exit_code == 0
    assert held == [False]
    assert all(stored(database, f"lock-{i}@x").id for i in (1, 2, 3, 4))
