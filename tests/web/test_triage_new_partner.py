"""Triage: a lead's first mail becomes a partner, its contact person and a filed message in one
step, prefilled from the sender and editable (issue 10, "Choosing the right record")."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import func, select

from crm.blobs import BlobStore
from crm.db import Database
from crm.models import Partner, Person
from mail_archive.filing import RuleFiler
from mail_archive.ingest import Archive, Source
from mail_archive.models import Message, MessageLink
from tests.conftest import World, login, post_form
from tests.mailfactory import make_mail
from tests.web.test_mail_ui import setup


def counts(database: Database) -> tuple[int, int]:
    with database.session(write=False) as s:
        return (
            int(s.scalar(select(func.count()).select_from(Partner)) or 0),
            int(s.scalar(select(func.count()).select_from(Person)) or 0),
        )


def test_the_form_is_prefilled_from_the_sender_and_files_the_message(
    client: FlaskClient, database: Database, world: World
) -> None:
    ids = setup(database, world)  # "Poptávka neznámého" from Nový <info@novy-zakaznik.cz>
    login(client, world.sales_a)
    triage = client.get("/mail/triage").get_data(as_text=True)
    url = f"/mail/{ids['triaged']}/new-partner"
    assert f'href="{url}"' in triage
    form = client.get(url).get_data(as_text=True)
    assert 'name="partner_name" value="Novy Zakaznik"' in form
    assert 'name="domain" value="novy-zakaznik.cz"' in form
    assert 'name="person_name" value="Nový"' in form
    assert 'name="email" value="info@novy-zakaznik.cz"' in form
    done = post_form(
        client,
        url,
        {
            "partner_name": "Nový zákazník s.r.o.",
            "domain": "novy-zakaznik.cz",
            "person_name": "Ing. Pavel Nový",
            "email": "info@novy-zakaznik.cz",
        },
    )
    assert done.status_code == 302
    partner_url = done.headers["Location"]
    page = client.get(partner_url).get_data(as_text=True)
    assert "Nový zákazník s.r.o." in page and "Poptávka neznámého" in page
    assert "Ing. Pavel Nový" in page
    with database.session(write=False) as s:
        message = s.get(Message, ids["triaged"])
        assert message is not None and message.status != "triage"
        partner = s.scalars(select(Partner).where(Partner.name == "Nový zákazník s.r.o.")).one()
        assert list(partner.domains) == ["novy-zakaznik.cz"]
        links = s.scalars(select(MessageLink).where(MessageLink.message_id == message.id))
        assert {link.target for link in links} == {f"partner:{partner.id}"}
    assert "Poptávka neznámého" not in client.get("/mail/triage").get_data(as_text=True)


def test_bad_input_is_shown_by_the_field_and_nothing_is_created(
    client: FlaskClient, database: Database, world: World
) -> None:
    ids = setup(database, world)
    before = counts(database)
    login(client, world.sales_a)
    url = f"/mail/{ids['triaged']}/new-partner"
    no_name = post_form(
        client, url, {"partner_name": " ", "domain": "", "person_name": "", "email": ""}
    )
    assert no_name.status_code == 422
    assert 'id="f-partner_name-err">is required' in no_name.get_data(as_text=True)
    bad_email = post_form(
        client,
        url,
        {"partner_name": "Nový zákazník", "domain": "", "person_name": "Pavel", "email": "x@"},
    )
    html = bad_email.get_data(as_text=True)
    assert bad_email.status_code == 422 and "“x@” is not an email address" in html
    assert 'value="Nový zákazník"' in html  # what was typed stays
    assert counts(database) == before  # the partner made before the person failed is gone
    with database.session(write=False) as s:
        assert s.get(Message, ids["triaged"]).status == "triage"  # type: ignore[union-attr]


def test_a_public_domain_is_not_offered_and_another_users_mail_is_not_found(
    client: FlaskClient, database: Database, world: World
) -> None:
    setup(database, world)
    with database.session() as s:
        archive = Archive(s, BlobStore(database.settings.blob_dir), RuleFiler())
        lead = archive.ingest(
            make_mail(subject="Dotaz na cenu", sender=("Karel Veselý", "karel.vesely@seznam.cz")),
            Source(kind="upload", key="u9", user_id=world.sales_a.id, explicit=True),
        ).message_id
    login(client, world.sales_a)
    form = client.get(f"/mail/{lead}/new-partner").get_data(as_text=True)
    assert 'name="domain" value=""' in form
    assert 'name="partner_name" value="Karel Veselý"' in form
    login(client, world.sales_b)
    assert client.get(f"/mail/{lead}/new-partner").status_code == 404
    forged = post_form(client, f"/mail/{lead}/new-partner", {"partner_name": "Převzato"})
    assert forged.status_code == 404
    assert counts(database)[0] == 1
