"""The filing rules and dedupe act on behalf of the source's user and reach only what that user
may see (issue 8, findings 1 and 2): through the real ``Archive.ingest`` with the rule filer,
through IMAP sync against a real Dovecot, and through ``dossier file``. Jana Nováková (Tým A)
tries to file into, merge into and thread into what Zofia Wójcik (Tým B) and her colleague Petr
Dvořák (his private partner) keep."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from connector.imap import ImapSync
from crm.cli import main
from crm.db import Database
from crm.services.deals import deals
from crm.services.partners import partners
from crm.services.persons import persons
from crm.settings import Settings
from mail_archive.ingest import IngestResult, Source
from mail_archive.models import Message, MessageLink, MessageSource
from tests.conftest import World, count
from tests.connector.conftest import add_imap
from tests.mail_archive.conftest import Dossier, Ingest, imap_source, upload_source
from tests.mailfactory import make_mail
from tests.servers.dovecot import Dovecot
from tests.servers.fixtures import ImapUser

STRANGER = ("Neznámý", "nekdo@gmail.com")  # matches nothing
ORDER_ID = "zamowienie-77@mleko.pl"


@dataclass
class Hidden:
    """Tým B's Mlékárna (the dossier's other partner) with a deal and Ewa; Petr's private
    partner with a deal and a person; Petr's shared deal of a partner that turned private;
    Zofia's order from Ewa."""

    mleko_deal: int
    ewa: int
    petrs_partner: int
    petrs_deal: int
    petrs_person: int
    shared_deal_of_private: int  # Jana's deal of petrs_partner, which she cannot see
    order: int


ORDER = make_mail(
    subject="Zamówienie 77",
    sender=("Ewa Kowalska", "ewa.kowalska@mleko.pl"),
    to=[("Zofia Wójcik", "zofia@firma.pl")],
    message_id=ORDER_ID,
)


@pytest.fixture
def hidden(database: Database, world: World, dossier: Dossier, ingest: Ingest) -> Hidden:
    with database.session() as s:
        mleko_deal = deals.create(
            s, world.sales_b, {"title": "Mléko 2027", "partner_id": dossier.other_partner_id}
        ).id
        ewa = persons.create(
            s,
            world.sales_b,
            {
                "partner_id": dossier.other_partner_id,
                "name": "Ewa Kowalska",
                "emails": "ewa.kowalska@mleko.pl",
            },
        ).id
        petrs = partners.create(
            s, world.sales_a2, {"name": "Pekárna Beroun", "domains": "pekarna-beroun.cz"}
        ).id
        shared = deals.create(
            s,
            world.sales_a2,
            {"title": "Rohlíky", "partner_id": petrs, "salesperson_id": world.sales_a.id},
        ).id
        # The partner turns private: so does its deal, which Jana keeps as its salesperson.
        partners.update(s, world.sales_a2, petrs, {"private": True})
        petrs_deal = deals.create(s, world.sales_a2, {"title": "Chleba", "partner_id": petrs}).id
        petrs_person = persons.create(
            s,
            world.sales_a2,
            {"partner_id": petrs, "name": "Pekař", "emails": "pekar@pekarna-beroun.cz"},
        ).id
    order = ingest(ORDER, imap_source(world.sales_b.id, 1))
    assert order.status == "archived" and order.message_id is not None
    return Hidden(mleko_deal, ewa, petrs, petrs_deal, petrs_person, shared, order.message_id)


def targets(database: Database, result: IngestResult) -> set[str]:
    assert result.message_id is not None, result
    with database.session(write=False) as s:
        return set(
            s.scalars(
                select(MessageLink.target).where(
                    MessageLink.message_id == result.message_id, MessageLink.removed.is_(False)
                )
            )
        )


def test_tags_of_deals_the_user_cannot_see_are_tags_of_no_deal(
    database: Database, world: World, dossier: Dossier, ingest: Ingest, hidden: Hidden
) -> None:
    tags = f"[D-{hidden.mleko_deal}] [D-{hidden.petrs_deal}] [D-{dossier.deal_id}]"
    result = ingest(make_mail(subject=tags, sender=STRANGER), imap_source(world.sales_a.id, 1))
    assert targets(database, result) == {f"deal:{dossier.deal_id}", f"partner:{dossier.partner_id}"}
    # only hidden tags: the next rules decide (here the address of Jan Novák), else triage
    only = f"[D-{hidden.mleko_deal}] [D-{hidden.petrs_deal}] Dotaz"
    jan = ("Jan Novák", "jan.novak@stavby-pribram.cz")
    result = ingest(make_mail(subject=only, sender=jan), imap_source(world.sales_a.id, 2))
    assert targets(database, result) == {
        f"person:{dossier.person_id}",
        f"partner:{dossier.partner_id}",
    }
    result = ingest(make_mail(subject=only, sender=STRANGER), upload_source(world.sales_a.id, "u"))
    assert result.status == "triaged" and targets(database, result) == set()


def test_a_shared_deal_of_a_private_partner_is_linked_without_its_partner(
    database: Database, world: World, dossier: Dossier, ingest: Ingest, hidden: Hidden
) -> None:
    tagged = make_mail(subject=f"[D-{hidden.shared_deal_of_private}] Rohlíky", sender=STRANGER)
    result = ingest(tagged, imap_source(world.sales_a.id, 1))
    assert targets(database, result) == {f"deal:{hidden.shared_deal_of_private}"}
    chosen = upload_source(world.sales_a.id, "c", deal_id=hidden.shared_deal_of_private)
    result = ingest(make_mail(subject="Rohlíky 2", sender=STRANGER), chosen)
    assert targets(database, result) == {f"deal:{hidden.shared_deal_of_private}"}
    # the team's manager, who sees both, gets both (into the same message: the very bytes)
    result = ingest(tagged, imap_source(world.manager_a.id, 5))
    assert targets(database, result) == {
        f"deal:{hidden.shared_deal_of_private}",
        f"partner:{hidden.petrs_partner}",
    }


def test_addresses_and_domains_of_hidden_partners_match_nothing(
    database: Database, world: World, dossier: Dossier, ingest: Ingest, hidden: Hidden
) -> None:
    for uid, sender in enumerate(
        [
            ("Ewa Kowalska", "ewa.kowalska@mleko.pl"),  # Tým B's person
            ("Biuro", "biuro@mleko.pl"),  # Tým B's domain
            ("Pekař", "pekar@pekarna-beroun.cz"),  # Petr's private partner's person
            ("Kancelář", "kancelar@pekarna-beroun.cz"),  # ... and its domain
        ],
        start=1,
    ):
        raw = make_mail(subject="Nabídka", sender=sender)
        assert ingest(raw, imap_source(world.sales_a.id, uid)).status == "skipped", sender
        triaged = ingest(raw, upload_source(world.sales_a.id, str(uid)))
        assert triaged.status == "triaged" and targets(database, triaged) == set(), sender


def test_an_explicit_choice_of_a_hidden_record_is_dropped_by_the_rule_itself(
    database: Database, world: World, dossier: Dossier, ingest: Ingest, hidden: Hidden
) -> None:
    for label, choice in (
        ("partner", {"partner_id": dossier.other_partner_id}),
        ("deal", {"deal_id": hidden.petrs_deal}),
    ):
        source = upload_source(world.sales_a.id, label, **choice)
        result = ingest(make_mail(subject=label, sender=STRANGER), source)
        assert result.status == "triaged" and targets(database, result) == set(), label


def test_a_source_without_a_user_gets_no_links(
    database: Database, world: World, dossier: Dossier, ingest: Ingest, hidden: Hidden
) -> None:
    jan = ("Jan Novák", "jan.novak@stavby-pribram.cz")
    nobodys = Source(kind="dropbox", key="dropbox:1", explicit=True, partner_id=dossier.partner_id)
    result = ingest(make_mail(subject=f"[D-{dossier.deal_id}]", sender=jan), nobodys)
    assert result.status == "triaged" and targets(database, result) == set()
    # nor does it merge into anything by its headers
    forged = make_mail(
        subject="Zamówienie 77",
        sender=("Ewa Kowalska", "ewa.kowalska@mleko.pl"),
        to=[("Zofia Wójcik", "zofia@firma.pl")],
        message_id=ORDER_ID,
        body="cokoli",
    )
    result = ingest(forged, Source(kind="dropbox", key="dropbox:2", explicit=True))
    assert result.message_id not in {None, hidden.order}


def test_a_reply_follows_only_threads_the_user_sees(
    database: Database, world: World, dossier: Dossier, ingest: Ingest, hidden: Hidden
) -> None:
    reply = make_mail(subject="Re: Zamówienie 77", sender=STRANGER, in_reply_to=ORDER_ID)
    assert ingest(reply, imap_source(world.sales_a.id, 1)).status == "skipped"
    result = ingest(reply, imap_source(world.sales_b.id, 2))
    assert targets(database, result) == {
        f"person:{hidden.ewa}",
        f"partner:{dossier.other_partner_id}",
    }


def test_a_thread_through_a_visible_message_copies_only_visible_links(
    database: Database, world: World, dossier: Dossier, ingest: Ingest, hidden: Hidden
) -> None:
    """The admin filed a message to Stavby Příbram and to Mlékárna: Jana's reply inherits only
    Stavby Příbram."""
    parent = upload_source(world.admin.id, "p", partner_id=dossier.partner_id)
    first = ingest(make_mail(subject="Společně", message_id="spolecne@firma.cz"), parent)
    with database.session() as s:
        s.add(
            MessageLink(
                message_id=first.message_id,
                target=f"partner:{dossier.other_partner_id}",
                partner_id=dossier.other_partner_id,
                how="manual",
            )
        )
    reply = make_mail(subject="Re: Společně", sender=STRANGER, in_reply_to="spolecne@firma.cz")
    result = ingest(reply, imap_source(world.sales_a.id, 1))
    assert targets(database, result) == {f"partner:{dossier.partner_id}"}


def test_a_forged_copy_synced_from_a_mailbox_is_a_message_of_its_own(
    database: Database,
    world: World,
    dossier: Dossier,
    hidden: Hidden,
    dovecot: Dovecot,
    imap_user: ImapUser,
) -> None:
    forged = make_mail(
        subject="Zamówienie 77",
        sender=("Ewa Kowalska", "ewa.kowalska@mleko.pl"),
        to=[("Zofia Wójcik", "zofia@firma.pl")],
        message_id=ORDER_ID,
        body="cokoli",
    )
    u = imap_user
    dovecot.create_folder(u.name, u.password, "CRM")
    dovecot.append(u.name, u.password, "CRM/Stavby Příbram s r o", forged)
    dovecot.append(u.name, u.password, "INBOX", forged)
    # the order as Jana could have it (a Bcc): Dovecot's copy ends its lines in CRLF, other
    # bytes, so a copy like any other, and nothing of hers matches it: left out
    dovecot.append(u.name, u.password, "INBOX", ORDER)
    report = ImapSync(database, add_imap(database, u, world.sales_a.email)).run()
    assert report.error == ""
    with database.session(write=False) as s:
        sources = s.scalars(
            select(MessageSource.user_id).where(MessageSource.message_id == hidden.order)
        ).all()
        assert sources == [world.sales_b.id]
        copies = s.scalars(select(Message).where(Message.internet_id == ORDER_ID)).all()
        assert len(copies) == 2
        mine = next(m for m in copies if m.id != hidden.order)
        assert mine.body_text.strip() == "cokoli"
        assert [link.target for link in mine.links] == [f"partner:{dossier.partner_id}"]
        order_links = s.scalars(
            select(MessageLink.target).where(MessageLink.message_id == hidden.order)
        ).all()
        assert f"partner:{dossier.partner_id}" not in order_links


def test_dossier_file_of_forged_and_same_copies_prints_nothing_of_the_hidden_message(
    database: Database,
    settings: Settings,
    world: World,
    dossier: Dossier,
    hidden: Hidden,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOSSIER_HOME", str(settings.home))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "same.eml").write_bytes(ORDER)
    (folder / "forged.eml").write_bytes(
        make_mail(
            subject="Zamówienie 77",
            sender=("Ewa Kowalska", "ewa.kowalska@mleko.pl"),
            to=[("Zofia Wójcik", "zofia@firma.pl")],
            message_id=ORDER_ID,
            body="cokoli",
        )
    )
    before = count(database, MessageSource)
    result = CliRunner().invoke(main, ["file", str(folder), "--user", world.sales_a.email])
    assert result.exit_code == 0, result.output
    # counts only: no id, link or partner of the hidden message
    assert result.output == "2 messages: archived 0, duplicates 1, triaged 1, refused 0\n"
    assert count(database, MessageSource) == before + 1  # the forged copy's, as its own message
    with database.session(write=False) as s:
        sources = s.scalars(
            select(MessageSource.user_id).where(MessageSource.message_id == hidden.order)
        ).all()
        assert sources == [world.sales_b.id]
