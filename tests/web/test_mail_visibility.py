"""The mail pages show a salesperson nothing of other teams' mail and records (issue 8, findings
1, 2 and 13), tried as Jana Nováková (Tým A) in the browser's place: forging a copy of Zofia's
(Tým B) order through the upload page, reading message pages and lists that name partners and
deals she cannot see, and keeping mail she uploaded after its partner left her sight."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient

from crm.blobs import BlobStore
from crm.db import Database
from crm.services.deals import deals
from crm.services.partners import partners
from mail_archive.filing import RuleFiler
from mail_archive.ingest import Archive, Source
from mail_archive.service import add_link
from tests.conftest import World, login, post_form
from tests.hostile_mail import team_b_order
from tests.mailfactory import make_mail

ORDER = team_b_order("Zamawiamy 40 t mleka w proszku, cena 9 800 EUR/t.\n")


@dataclass
class Teams:
    stavby: int  # Jana's (Tým A)
    mleko: int  # Zofia's (Tým B)
    petrs: int  # Petr's private partner (Tým A)
    shared_deal: int  # Petr's shared deal of that private partner
    hidden: int  # Zofia's order, filed to Mlékárna


def ingest(database: Database, raw: bytes, source: Source) -> int:
    with database.session() as s:
        result = Archive(s, BlobStore(database.settings.blob_dir), RuleFiler()).ingest(raw, source)
        assert result.message_id is not None, result
        return result.message_id


@pytest.fixture
def teams(database: Database, world: World) -> Teams:
    with database.session() as s:
        stavby = partners.create(s, world.sales_a, {"name": "Stavby Příbram s.r.o."}).id
        mleko = partners.create(
            s, world.sales_b, {"name": "Mlékárna Kraków sp. z o.o.", "domains": "mleko.pl"}
        ).id
        petrs = partners.create(s, world.sales_a2, {"name": "Tajná Pekárna Beroun"}).id
        shared_deal = deals.create(
            s,
            world.sales_a2,
            {"title": "Rohlíky pro Tým A", "partner_id": petrs, "salesperson_id": world.sales_a.id},
        ).id
        # the partner turned private later: so did its deal, which Jana keeps as its salesperson
        partners.update(s, world.sales_a2, petrs, {"private": True})
    source = Source(kind="imap", key="imap:9:INBOX:1:1", user_id=world.sales_b.id, account_id=9)
    return Teams(stavby, mleko, petrs, shared_deal, ingest(database, ORDER, source))


def upload(client: FlaskClient, raw: bytes, **choice: int) -> str:
    response = post_form(
        client,
        "/mail/upload",
        {**{k: str(v) for k, v in choice.items()}, "files": [(io.BytesIO(raw), "z.eml")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    return response.get_data(as_text=True)


def closed(client: FlaskClient, message_id: int) -> bool:
    paths = ["", "/raw", "/body", "/attachments/0"]
    answers = [client.get(f"/mail/{message_id}{p}") for p in paths]
    for a in answers:
        a.close()
    return all(a.status_code == 404 for a in answers)


def test_a_forged_upload_opens_nothing_and_names_nothing(
    client: FlaskClient, world: World, teams: Teams
) -> None:
    login(client, world.sales_a)
    page = upload(client, team_b_order("cokoli"), partner_id=teams.stavby)
    assert f'href="/mail/{teams.hidden}"' not in page and "/mail/" in page
    assert closed(client, teams.hidden)
    same = upload(client, ORDER)
    assert "filed to records you cannot see" in same
    assert f"/mail/{teams.hidden}" not in same and "Mlékárna" not in same
    assert closed(client, teams.hidden)
    listed = client.get("/mail/").get_data(as_text=True)
    assert "Mlékárna" not in listed and "tajny" not in listed
    # Zofia's page of her order shows no trace of Jana's partner
    login(client, world.sales_b)
    theirs = client.get(f"/mail/{teams.hidden}").get_data(as_text=True)
    assert "Mlékárna" in theirs and "Stavby Příbram" not in theirs


def test_pages_name_only_the_records_the_viewer_may_see(
    client: FlaskClient, database: Database, world: World, teams: Teams
) -> None:
    source = Source(
        kind="upload", key="u-1", user_id=world.admin.id, explicit=True, partner_id=teams.stavby
    )
    both = ingest(database, make_mail(subject="Společná dodávka"), source)
    with database.session() as s:
        from mail_archive.service import load_message

        admin = s.merge(world.admin)
        m = load_message(s, admin, both)
        add_link(s, admin, m, "partner", teams.mleko)
        add_link(s, admin, m, "deal", teams.shared_deal)  # brings Petr's private partner
    login(client, world.sales_a)
    page = client.get(f"/mail/{both}").get_data(as_text=True)
    assert "Stavby Příbram" in page and "Rohlíky pro Tým A" in page
    assert "Mlékárna" not in page and "Tajná Pekárna" not in page
    listed = client.get("/mail/").get_data(as_text=True)
    assert "Společná dodávka" in listed and "Stavby Příbram" in listed
    assert "Mlékárna" not in listed and "Tajná Pekárna" not in listed
    # the shared deal is offered by its title alone
    form = client.get("/mail/upload").get_data(as_text=True)
    assert "Rohlíky pro Tým A" in form and "Tajná Pekárna" not in form
    login(client, world.sales_b)
    page = client.get(f"/mail/{both}").get_data(as_text=True)
    assert "Mlékárna" in page and "Stavby Příbram" not in page and "Rohlíky" not in page


def test_the_uploader_loses_mail_whose_partner_turned_private(
    client: FlaskClient, database: Database, world: World, teams: Teams
) -> None:
    with database.session() as s:
        pek = partners.create(s, world.sales_a2, {"name": "Pekárna Praha", "domains": "pek.cz"})
    login(client, world.sales_a)
    mail = make_mail(
        subject="Objednávka rohlíků",
        sender=("Pekárna", "objednavky@pek.cz"),
        attachments=[("objednavka.pdf", "application/pdf", b"%PDF-1.4 rohliky")],
    )
    page = upload(client, mail)
    assert "Objednávka rohlíků" in client.get("/mail/").get_data(as_text=True)
    found = re.search(r'href="/mail/(\d+)"', page)
    assert found is not None
    message_id = int(found.group(1))
    assert client.get(f"/mail/{message_id}").status_code == 200
    with database.session() as s:
        partners.update(s, world.sales_a2, pek.id, {"private": True})
    assert "Objednávka rohlíků" not in client.get("/mail/").get_data(as_text=True)
    assert closed(client, message_id)
    login(client, world.sales_a2)
    assert client.get(f"/mail/{message_id}").status_code == 200
