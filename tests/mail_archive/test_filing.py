"""The filing rules (mail_archive.filing) end to end through the real ``Archive.ingest``: which
partner, person or deal a message lands on and how, and whether it is filed, waits in triage or
is left out. Precedence: explicit choice > subject tag > thread > address > domain; auto-replies
and bounces are linked by nothing but an explicit choice."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from email.header import Header
from pathlib import Path

import pytest
from sqlalchemy import select

from crm.blobs import BlobStore
from crm.db import Database
from crm.models import PartnerDomain
from crm.services import codebooks
from crm.services.deals import deals
from crm.services.partners import partners
from crm.services.persons import persons
from mail_archive import service
from mail_archive.ingest import IngestResult, Source
from mail_archive.models import Message, MessageLink, MessageSource
from tests.conftest import REPO, World, count
from tests.mail_archive.conftest import (
    ORDER_ID,
    STRANGER,
    Dossier,
    Hidden,
    Ingest,
    imap_source,
    upload_source,
)
from tests.mailfactory import make_mail

JAN = ("Jan Novák", "jan.novak@stavby-pribram.cz")
STAVBYVEDOUCI = ("Stavbyvedoucí Příbram", "stavbyvedouci.pribram@seznam.cz")  # nobody we know
NO_SUCH_DEAL = 987654


@dataclass
class Contacts:
    """Besides the dossier: a deal and a person of Mlékárna Kraków (whose address is stored in
    mixed case), her colleague on the public domain wp.pl, and a Slovak farmer known only by his
    partner record's address on azet.sk."""

    mleko_deal_id: int
    ewa_id: int
    piotr_id: int
    kovac_id: int  # a partner


@pytest.fixture
def contacts(database: Database, world: World, dossier: Dossier) -> Contacts:
    with database.session() as s:
        deal = deals.create(
            s,
            world.sales_b,
            {"title": "Zamówienie mleka 2027", "partner_id": dossier.other_partner_id},
        )
        ewa = persons.create(
            s,
            world.sales_b,
            {
                "partner_id": dossier.other_partner_id,
                "name": "Ewa Kowalska",
                "emails": "Ewa.Kowalska@Mleko.PL",
            },
        )
        piotr = persons.create(
            s,
            world.sales_b,
            {
                "partner_id": dossier.other_partner_id,
                "name": "Piotr Zieliński",
                "emails": "piotr.zielinski@wp.pl",
            },
        )
        kovac = partners.create(
            s,
            world.sales_a,
            {"name": "Ján Kováč – SHR", "emails": "jan.kovac@azet.sk", "country": "SK"},
        )
        return Contacts(deal.id, ewa.id, piotr.id, kovac.id)


# -- what a user sees ----------------------------------------------------------------------------


def partner(record_id: int) -> str:
    return f"partner:{record_id}"


def person(record_id: int) -> str:
    return f"person:{record_id}"


def deal(record_id: int) -> str:
    return f"deal:{record_id}"


def links(db: Database, result: IngestResult) -> set[tuple[str, str]]:
    """The message's links as (target, how), those a user removed left out."""
    assert result.message_id is not None, result.status
    with db.session() as s:
        rows = s.execute(
            select(MessageLink.target, MessageLink.how).where(
                MessageLink.message_id == result.message_id, MessageLink.removed.is_(False)
            )
        )
        return {(target, how) for target, how in rows}


def stored(db: Database, result: IngestResult) -> Message:
    assert result.message_id is not None, result.status
    with db.session(write=False) as s:
        m = s.get(Message, result.message_id)
        assert m is not None
        _ = m.links
        s.expunge_all()
        return m


def filed(result: IngestResult, db: Database) -> set[tuple[str, str]]:
    """Assert the message was archived as filed; its links."""
    assert result.status == "archived", result.status
    assert stored(db, result).status == "filed"
    return links(db, result)


# -- 1. the explicit choice ------------------------------------------------------------------------


def test_an_explicit_partner_choice_beats_tag_thread_address_and_domain(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    parent = ingest(
        make_mail(subject="Nabídka č. 12", message_id="nabidka-12@stavby-pribram.cz"),
        imap_source(world.sales_a.id, 1),
    )
    assert filed(parent, database) == {
        (person(dossier.person_id), "address"),
        (partner(dossier.partner_id), "address"),
    }
    # tagged with a deal of Stavby Příbram, a reply in its thread, from Jan Novák, with a Cc on
    # the partner's domain: all of it points at Stavby Příbram, the user chose Mlékárna
    reply = make_mail(
        subject=f"Re: [D-{dossier.deal_id}] Nabídka č. 12",
        sender=JAN,
        cc=[("Recepce", "recepce@stavby-pribram.cz")],
        in_reply_to="nabidka-12@stavby-pribram.cz",
    )
    result = ingest(
        reply,
        upload_source(world.sales_b.id, "reply", partner_id=dossier.other_partner_id),
    )
    assert filed(result, database) == {(partner(dossier.other_partner_id), "explicit")}
    (link,) = stored(database, result).links
    assert link.created_by_id == world.sales_b.id  # "filed by Zofia Wójcik"


def test_an_explicit_deal_choice_links_the_deal_and_its_partner(
    database: Database, world: World, dossier: Dossier, contacts: Contacts, ingest: Ingest
) -> None:
    def upload(label: str, **choice: object) -> set[tuple[str, str]]:
        raw = make_mail(subject=f"Objednávka betonu {label}", sender=STAVBYVEDOUCI)
        return filed(ingest(raw, upload_source(world.sales_a.id, label, **choice)), database)

    stavby = {(deal(dossier.deal_id), "explicit"), (partner(dossier.partner_id), "explicit")}
    assert upload("deal", deal_id=dossier.deal_id) == stavby
    # the deal's own partner chosen as well: one partner link, not two
    assert upload("both", deal_id=dossier.deal_id, partner_id=dossier.partner_id) == stavby
    # a deal and another partner (one Jana sees too): both partners
    assert upload("other", deal_id=dossier.deal_id, partner_id=contacts.kovac_id) == {
        *stavby,
        (partner(contacts.kovac_id), "explicit"),
    }


def test_a_crm_folder_files_to_its_partner_as_folder(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    folder = imap_source(
        world.sales_b.id,
        1,
        folder="CRM/Mlékárna Kraków",
        explicit=True,
        partner_id=dossier.other_partner_id,
        how="folder",
    )
    result = ingest(make_mail(subject="Zamówienie", sender=JAN), folder)
    assert filed(result, database) == {(partner(dossier.other_partner_id), "folder")}


# -- 2. the subject tag ----------------------------------------------------------------------------


def test_a_deal_tag_links_the_deal_and_its_partner_even_from_an_unknown_sender(
    database: Database, world: World, dossier: Dossier, contacts: Contacts, ingest: Ingest
) -> None:
    lower = make_mail(subject=f"Re: [d-{dossier.deal_id}] Objednávka", sender=STAVBYVEDOUCI)
    result = ingest(lower, imap_source(world.sales_a.id, 1))
    assert filed(result, database) == {
        (deal(dossier.deal_id), "tag"),
        (partner(dossier.partner_id), "tag"),
    }
    assert all(link.created_by_id is None for link in stored(database, result).links)
    two = make_mail(
        subject=f"[D-{dossier.deal_id}] a [D-{contacts.mleko_deal_id}] Zamówienie wspólne",
        sender=STAVBYVEDOUCI,
    )
    # in the mailbox of the admin, who sees the deals of both teams
    assert filed(ingest(two, imap_source(world.admin.id, 2)), database) == {
        (deal(dossier.deal_id), "tag"),
        (partner(dossier.partner_id), "tag"),
        (deal(contacts.mleko_deal_id), "tag"),
        (partner(dossier.other_partner_id), "tag"),
    }


def test_a_tag_beats_the_address(
    database: Database, world: World, dossier: Dossier, contacts: Contacts, ingest: Ingest
) -> None:
    raw = make_mail(subject=f"Fwd: [D-{contacts.mleko_deal_id}] Zamówienie", sender=JAN)
    # the admin sees both Stavby Příbram (Jan's) and Mlékárna's deal
    assert filed(ingest(raw, imap_source(world.admin.id, 1)), database) == {
        (deal(contacts.mleko_deal_id), "tag"),
        (partner(dossier.other_partner_id), "tag"),
    }


def test_a_tag_of_a_missing_deal_is_ignored_and_the_next_rules_decide(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    subject = f"[D-{NO_SUCH_DEAL}] Nabídka č. 12"
    from_jan = ingest(make_mail(subject=subject, sender=JAN), imap_source(world.sales_a.id, 1))
    assert filed(from_jan, database) == {
        (person(dossier.person_id), "address"),
        (partner(dossier.partner_id), "address"),
    }
    unknown = make_mail(subject=subject, sender=STAVBYVEDOUCI)
    assert ingest(unknown, imap_source(world.sales_a.id, 2)).status == "skipped"
    triaged = ingest(unknown, upload_source(world.sales_a.id, "tag"))
    assert triaged.status == "triaged"
    assert stored(database, triaged).status == "triage" and not links(database, triaged)


# -- 3. the thread ---------------------------------------------------------------------------------


def test_a_reply_inherits_the_links_of_its_filed_parent_even_from_an_unknown_sender(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    parent = make_mail(subject="Objednávka č. 7", message_id="objednavka-7@stavby-pribram.cz")
    assert ingest(parent, imap_source(world.sales_a.id, 1)).status == "archived"
    inherited = {(person(dossier.person_id), "thread"), (partner(dossier.partner_id), "thread")}
    reply = make_mail(
        subject="Re: Objednávka č. 7",
        sender=STAVBYVEDOUCI,
        in_reply_to="objednavka-7@stavby-pribram.cz",
        message_id="re-objednavka-7@seznam.cz",
    )
    assert filed(ingest(reply, imap_source(world.sales_a.id, 2)), database) == inherited
    # References alone (no In-Reply-To) is enough, here from yet another stranger
    deeper = make_mail(
        subject="Re: Re: Objednávka č. 7",
        sender=("Dozor", "stavebni.dozor@gmail.com"),
        references=["objednavka-7@stavby-pribram.cz", "re-objednavka-7@seznam.cz"],
    )
    assert filed(ingest(deeper, imap_source(world.sales_a.id, 3)), database) == inherited


def test_a_reply_to_mail_that_was_not_archived_inherits_nothing(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    private = make_mail(
        subject="Nedělní oběd", sender=("Máma", "mama@seznam.cz"), message_id="obed@seznam.cz"
    )
    assert ingest(private, imap_source(world.sales_a.id, 1)).status == "skipped"
    reply = make_mail(
        subject="Re: Nedělní oběd",
        sender=("Táta", "tata@seznam.cz"),
        in_reply_to="obed@seznam.cz",
    )
    assert ingest(reply, imap_source(world.sales_a.id, 2)).status == "skipped"
    assert count(database, Message) == 0


def test_a_thread_beats_the_address_and_a_tag_beats_the_thread(
    database: Database, world: World, dossier: Dossier, contacts: Contacts, ingest: Ingest
) -> None:
    parent = make_mail(
        subject="Zamówienie",
        sender=("Ewa Kowalska", "ewa.kowalska@mleko.pl"),
        message_id="zamowienie-3@mleko.pl",
    )
    assert filed(ingest(parent, imap_source(world.sales_b.id, 1)), database) == {
        (person(contacts.ewa_id), "address"),
        (partner(dossier.other_partner_id), "address"),
    }
    # Jan Novák of Stavby Příbram answers in Mlékárna's thread: it stays Mlékárna's
    from_jan = make_mail(subject="Re: Zamówienie", sender=JAN, in_reply_to="zamowienie-3@mleko.pl")
    assert filed(ingest(from_jan, imap_source(world.sales_b.id, 2)), database) == {
        (person(contacts.ewa_id), "thread"),
        (partner(dossier.other_partner_id), "thread"),
    }
    # ... unless he tags it with a deal (in the mailbox of the admin, who sees both)
    tagged = make_mail(
        subject=f"Re: [D-{dossier.deal_id}] Zamówienie",
        sender=JAN,
        in_reply_to="zamowienie-3@mleko.pl",
    )
    assert filed(ingest(tagged, imap_source(world.admin.id, 3)), database) == {
        (deal(dossier.deal_id), "tag"),
        (partner(dossier.partner_id), "tag"),
    }


def test_a_link_a_user_removed_on_the_parent_is_not_inherited(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    parent = ingest(
        make_mail(subject="Nabídka č. 12", sender=STAVBYVEDOUCI, message_id="nabidka-12@seznam.cz"),
        upload_source(world.sales_a.id, "parent", deal_id=dossier.deal_id),
    )
    with database.session() as s:
        m = service.load_message(s, world.sales_a, parent.message_id or 0)
        wrong_deal = next(link for link in m.active_links if link.record_type == "deal")
        service.remove_link(s, world.sales_a, m, wrong_deal.id)
    reply = make_mail(
        subject="Re: Nabídka č. 12", sender=STAVBYVEDOUCI, in_reply_to="nabidka-12@seznam.cz"
    )
    assert filed(ingest(reply, imap_source(world.sales_a.id, 1)), database) == {
        (partner(dossier.partner_id), "thread")
    }


def test_a_link_removed_on_the_parent_does_not_come_back_from_the_grandparent(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    ingest(
        make_mail(subject="Nabídka č. 12", sender=STAVBYVEDOUCI, message_id="n12@seznam.cz"),
        upload_source(world.sales_a.id, "first", deal_id=dossier.deal_id),
    )
    reply = ingest(
        make_mail(
            subject="Re: Nabídka č. 12",
            sender=STAVBYVEDOUCI,
            in_reply_to="n12@seznam.cz",
            message_id="re-n12@seznam.cz",
        ),
        imap_source(world.sales_a.id, 1),
    )
    assert filed(reply, database) == {
        (deal(dossier.deal_id), "thread"),
        (partner(dossier.partner_id), "thread"),
    }
    with database.session() as s:  # the conversation moved on: not about this deal any more
        m = service.load_message(s, world.sales_a, reply.message_id or 0)
        wrong_deal = next(link for link in m.active_links if link.record_type == "deal")
        service.remove_link(s, world.sales_a, m, wrong_deal.id)
    # a mail client writes the whole chain into References
    next_reply = make_mail(
        subject="Re: Re: Nabídka č. 12",
        sender=STAVBYVEDOUCI,
        in_reply_to="re-n12@seznam.cz",
        references=["n12@seznam.cz", "re-n12@seznam.cz"],
    )
    assert filed(ingest(next_reply, imap_source(world.sales_a.id, 2)), database) == {
        (partner(dossier.partner_id), "thread")
    }


def test_a_reply_to_a_message_whose_only_link_was_removed_is_not_filed_by_the_thread(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    parent = ingest(
        make_mail(
            subject="Poptávka",
            sender=("Kancelář", "kancelar@stavby-pribram.cz"),
            message_id="poptavka@stavby-pribram.cz",
        ),
        imap_source(world.sales_a.id, 1),
    )
    assert filed(parent, database) == {(partner(dossier.partner_id), "domain")}
    with database.session() as s:
        m = service.load_message(s, world.sales_a, parent.message_id or 0)
        (only,) = m.active_links
        service.remove_link(s, world.sales_a, m, only.id)
    reply = make_mail(
        subject="Re: Poptávka", sender=STAVBYVEDOUCI, in_reply_to="poptavka@stavby-pribram.cz"
    )
    assert ingest(reply, imap_source(world.sales_a.id, 2)).status == "skipped"
    triaged = ingest(reply, upload_source(world.sales_a.id, "reply"))
    assert triaged.status == "triaged" and not links(database, triaged)


# -- 4. the counterpart's address --------------------------------------------------------------


def test_a_counterparts_address_links_the_person_and_the_partner(
    database: Database, world: World, dossier: Dossier, contacts: Contacts, ingest: Ingest
) -> None:
    # entered as Ewa.Kowalska@Mleko.PL, written in lower case
    ewa = make_mail(subject="Zamówienie", sender=("Ewa Kowalska", "ewa.kowalska@mleko.pl"))
    assert filed(ingest(ewa, imap_source(world.sales_b.id, 1)), database) == {
        (person(contacts.ewa_id), "address"),
        (partner(dossier.other_partner_id), "address"),
    }
    # a partner's own address (no person)
    kovac = make_mail(subject="Ponuka na jačmeň", sender=("Ján Kováč", "jan.kovac@azet.sk"))
    assert filed(ingest(kovac, imap_source(world.sales_a.id, 2)), database) == {
        (partner(contacts.kovac_id), "address")
    }
    # a known person in Cc of mail from a stranger
    cc = make_mail(subject="Objednávka", sender=STAVBYVEDOUCI, cc=[JAN])
    assert filed(ingest(cc, imap_source(world.sales_a.id, 3)), database) == {
        (person(dossier.person_id), "address"),
        (partner(dossier.partner_id), "address"),
    }
    # ... or in To, beside us
    to = make_mail(
        subject="Objednávka 2",
        sender=STAVBYVEDOUCI,
        to=[("Jana Nováková", world.sales_a.email), JAN],
    )
    assert filed(ingest(to, imap_source(world.sales_a.id, 4)), database) == {
        (person(dossier.person_id), "address"),
        (partner(dossier.partner_id), "address"),
    }


def test_an_address_on_a_public_domain_matches_only_its_owner(
    database: Database, world: World, dossier: Dossier, contacts: Contacts, ingest: Ingest
) -> None:
    piotr = make_mail(subject="Zamówienie", sender=("Piotr Zieliński", "piotr.zielinski@wp.pl"))
    assert filed(ingest(piotr, imap_source(world.sales_b.id, 1)), database) == {
        (person(contacts.piotr_id), "address"),
        (partner(dossier.other_partner_id), "address"),
    }
    anna = make_mail(subject="Zamówienie pizzy", sender=("Anna Nowak", "anna.nowak@wp.pl"))
    assert ingest(anna, imap_source(world.sales_b.id, 2)).status == "skipped"
    other_kovac = make_mail(subject="Ahoj", sender=("Mária Kováčová", "maria.kovacova@azet.sk"))
    assert ingest(other_kovac, imap_source(world.sales_a.id, 3)).status == "skipped"


def test_outgoing_mail_is_filed_by_its_recipients_not_its_sender(
    database: Database, world: World, dossier: Dossier, contacts: Contacts, ingest: Ingest
) -> None:
    ewa = ("Ewa Kowalska", "ewa.kowalska@mleko.pl")
    mleko = {(person(contacts.ewa_id), "address"), (partner(dossier.other_partner_id), "address")}
    # from one of our users: outgoing wherever it was found
    from_zofia = make_mail(subject="Oferta", sender=("Zofia Wójcik", "zofia@firma.pl"), to=[ewa])
    result = ingest(from_zofia, imap_source(world.sales_b.id, 1))
    assert filed(result, database) == mleko
    assert stored(database, result).direction == "out"
    cc_jan = make_mail(
        subject="Nabídka č. 12",
        sender=("Jana Nováková", "jana@firma.cz"),
        to=[("Dozor", "stavebni.dozor@gmail.com")],
        cc=[JAN],
    )
    assert filed(ingest(cc_jan, imap_source(world.sales_a.id, 2)), database) == {
        (person(dossier.person_id), "address"),
        (partner(dossier.partner_id), "address"),
    }
    # a Sent folder: outgoing even from an address that is no user's ...
    sent = imap_source(world.sales_b.id, 3, folder="Sent", outgoing=True)
    private = make_mail(subject="Oferta 2", sender=("Zofia Wójcik", "zofia.w@wp.pl"), to=[ewa])
    result = ingest(private, sent)
    assert filed(result, database) == mleko
    assert stored(database, result).direction == "out"
    # ... and then its From is not a counterpart, even when it is a known person's address
    from_jan = make_mail(subject="Oferta 3", sender=JAN, to=[ewa])
    assert filed(ingest(from_jan, imap_source(world.sales_b.id, 4, outgoing=True)), database) == (
        mleko
    )


def test_our_own_users_are_never_counterparts(
    database: Database, world: World, dossier: Dossier, contacts: Contacts, ingest: Ingest
) -> None:
    # our own company as a partner, with our domain and a colleague as its contact person
    with database.session() as s:
        firma = partners.create(s, world.sales_a, {"name": "Firma s.r.o.", "domains": "firma.cz"})
        persons.create(
            s,
            world.sales_a,
            {"partner_id": firma.id, "name": "Petr Dvořák", "emails": "petr@firma.cz"},
        )
    jana = ("Jana Nováková", "jana@firma.cz")
    petr = ("Petr Dvořák", "petr@firma.cz")
    internal = [
        make_mail(subject="Porada v pondělí", sender=jana, to=[petr]),
        make_mail(subject="Re: Porada v pondělí", sender=petr, to=[jana]),
        make_mail(subject="Dotaz", sender=STAVBYVEDOUCI, to=[jana], cc=[petr]),
        make_mail(subject="Faktura", sender=("Účtárna", "ucetni@firma.cz"), to=[jana]),
    ]
    for uid, raw in enumerate(internal, start=1):
        assert ingest(raw, imap_source(world.sales_a.id, uid)).status == "skipped", uid
    assert count(database, Message) == 0
    to_jan = make_mail(subject="Objednávka", sender=jana, to=[petr, JAN])
    assert filed(ingest(to_jan, imap_source(world.sales_a.id, 9)), database) == {
        (person(dossier.person_id), "address"),
        (partner(dossier.partner_id), "address"),
    }


# -- 5. the counterpart's domain -------------------------------------------------------------------


def test_a_counterparts_domain_links_the_partner(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    recepce = make_mail(subject="Poptávka", sender=("Recepce", "recepce@stavby-pribram.cz"))
    assert filed(ingest(recepce, imap_source(world.sales_a.id, 1)), database) == {
        (partner(dossier.partner_id), "domain")
    }
    out = make_mail(
        subject="Oferta",
        sender=("Zofia Wójcik", "zofia@firma.pl"),
        to=[("Biuro", "biuro@mleko.pl")],
    )
    assert filed(ingest(out, imap_source(world.sales_b.id, 2)), database) == {
        (partner(dossier.other_partner_id), "domain")
    }


def test_the_address_beats_the_domain(
    database: Database, world: World, dossier: Dossier, contacts: Contacts, ingest: Ingest
) -> None:
    # the From matches Stavby Příbram by domain, the Cc Mlékárna by address (in the mailbox of
    # the admin, who sees both)
    raw = make_mail(
        subject="Objednávka",
        sender=("Kancelář", "kancelar@stavby-pribram.cz"),
        cc=[("Ewa Kowalska", "ewa.kowalska@mleko.pl")],
    )
    assert filed(ingest(raw, imap_source(world.admin.id, 1)), database) == {
        (person(contacts.ewa_id), "address"),
        (partner(dossier.other_partner_id), "address"),
    }
    raw = make_mail(subject="Objednávka 2", sender=JAN, cc=[("Biuro", "biuro@mleko.pl")])
    assert filed(ingest(raw, imap_source(world.sales_a.id, 2)), database) == {
        (person(dossier.person_id), "address"),
        (partner(dossier.partner_id), "address"),
    }


def test_public_mail_domains_never_match_even_when_a_partner_has_one(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    public = ["gmail.com", "seznam.cz", "wp.pl", "azet.sk"]
    with database.session() as s:  # as an old import could have left them, past the form's check
        s.add_all(PartnerDomain(partner_id=dossier.partner_id, domain=d) for d in public)
    for uid, domain in enumerate(public, start=1):
        raw = make_mail(subject="Zamówienie", sender=("Neznámý", f"nekdo@{domain}"))
        assert ingest(raw, imap_source(world.sales_a.id, uid)).status == "skipped", domain
    assert count(database, Message) == 0


def test_a_domain_added_to_the_public_codebook_stops_matching(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    with database.session() as s:
        hurtownia = partners.create(
            s, world.sales_b, {"name": "Hurtownia Nabiału Poznań", "domains": "poczta.fm"}
        )
    first = make_mail(subject="Zamówienie", sender=("Hurtownia", "hurtownia.poznan@poczta.fm"))
    assert filed(ingest(first, imap_source(world.sales_b.id, 1)), database) == {
        (partner(hurtownia.id), "domain")
    }
    with database.session() as s:
        codebooks.add_entry(s, world.admin, "public_mail_domain", {"label": "Poczta.FM"})
    stranger = make_mail(subject="Zamówienie", sender=("Kasia", "kasia.prywatnie@poczta.fm"))
    assert ingest(stranger, imap_source(world.sales_b.id, 2)).status == "skipped"


# -- 6. auto-replies and bounces -------------------------------------------------------------------


def _bounce(subject: str, in_reply_to: str) -> bytes:
    """An Exchange non-delivery report: multipart/report from an address on the partner's
    domain, with nothing else that marks it automatic."""
    sender = "MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@stavby-pribram.cz"
    return (
        f"From: Microsoft Outlook <{sender}>\r\n"
        "To: jana@firma.cz\r\n"
        f"Subject: {Header('Nedoručitelné: ' + subject, 'utf-8').encode()}\r\n"
        "Date: Mon, 2 Nov 2026 09:31:00 +0100\r\n"
        "Message-ID: <ndr-1@stavby-pribram.cz>\r\n"
        f"In-Reply-To: <{in_reply_to}>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="NDR"\r\n'
        "\r\n--NDR\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        "Delivery has failed to these recipients: jan.novak@stavby-pribram.cz\r\n"
        "--NDR\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.stavby-pribram.cz\r\n\r\n"
        "Final-Recipient: rfc822; jan.novak@stavby-pribram.cz\r\nAction: failed\r\n"
        "Status: 5.1.1\r\n"
        "--NDR--\r\n"
    ).encode()


AUTO: dict[str, Callable[[str, str], bytes]] = {
    "Auto-Submitted": lambda subject, parent: make_mail(
        subject="Automatická odpověď: " + subject,
        in_reply_to=parent,
        headers={"Auto-Submitted": "auto-replied"},
    ),
    "X-Auto-Response-Suppress": lambda subject, parent: make_mail(
        subject="Automatická odpověď: " + subject,
        in_reply_to=parent,
        headers={"X-Auto-Response-Suppress": "All"},
    ),
    "Precedence": lambda subject, parent: make_mail(
        subject="Automatická odpověď: " + subject,
        in_reply_to=parent,
        headers={"Precedence": "auto_reply"},
    ),
    "Return-Path": lambda subject, parent: make_mail(
        subject="Automatická odpověď: " + subject,
        in_reply_to=parent,
        headers={"Return-Path": "<>"},
    ),
    "multipart/report": _bounce,
    "mailer-daemon": lambda subject, parent: make_mail(
        subject="Undelivered Mail Returned to Sender: " + subject,
        sender=("Mail Delivery System", "MAILER-DAEMON@stavby-pribram.cz"),
        in_reply_to=parent,
    ),
    "postmaster": lambda subject, parent: make_mail(
        subject="Nedoručitelné: " + subject,
        sender=("Postmaster", "postmaster@stavby-pribram.cz"),
        in_reply_to=parent,
    ),
}


def test_auto_replies_and_bounces_are_linked_by_no_rule(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    parent = ingest(
        make_mail(
            subject="Nabídka č. 12",
            sender=("Jana Nováková", "jana@firma.cz"),
            to=[JAN],
            message_id="nabidka-12@firma.cz",
        ),
        imap_source(world.sales_a.id, 1, folder="Sent"),
    )
    assert filed(parent, database) == {
        (person(dossier.person_id), "address"),
        (partner(dossier.partner_id), "address"),
    }
    # each would match by tag, thread, Jan's address or the partner's domain
    subject = f"[D-{dossier.deal_id}] Nabídka č. 12"
    for uid, (kind, auto) in enumerate(AUTO.items(), start=2):
        skipped = ingest(auto(subject, "nabidka-12@firma.cz"), imap_source(world.sales_a.id, uid))
        assert skipped.status == "skipped" and skipped.message_id is None, kind
        triaged = ingest(
            auto(subject, "nabidka-12@firma.cz"), upload_source(world.sales_a.id, kind)
        )
        assert triaged.status == "triaged", kind
        m = stored(database, triaged)
        assert m.status == "triage" and m.auto and not m.links, kind
    assert count(database, Message) == 1 + len(AUTO)
    # "Auto-Submitted: no" is what a person's own mail may say: filed as usual
    ordinary = make_mail(subject=subject, headers={"Auto-Submitted": "no"})
    assert filed(ingest(ordinary, imap_source(world.sales_a.id, 99)), database) == {
        (deal(dossier.deal_id), "tag"),
        (partner(dossier.partner_id), "tag"),
    }


def test_an_explicit_choice_still_links_an_auto_reply(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    auto = AUTO["Auto-Submitted"]("Nabídka č. 12", "nabidka-12@firma.cz")
    chosen = ingest(auto, upload_source(world.sales_a.id, "auto", deal_id=dossier.deal_id))
    assert filed(chosen, database) == {
        (deal(dossier.deal_id), "explicit"),
        (partner(dossier.partner_id), "explicit"),
    }
    assert stored(database, chosen).auto
    folder = imap_source(
        world.sales_b.id,
        1,
        folder="CRM/Mlékárna Kraków",
        explicit=True,
        partner_id=dossier.other_partner_id,
        how="folder",
    )
    bounce = _bounce("Zamówienie", "zamowienie@firma.pl")
    assert filed(ingest(bounce, folder), database) == {
        (partner(dossier.other_partner_id), "folder")
    }


# -- 7. no match -----------------------------------------------------------------------------------


def test_unmatched_mail_is_left_out_from_automatic_sources_and_waits_in_triage_from_explicit_ones(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    raw = make_mail(
        subject="Nedělní oběd",
        sender=("Máma", "mama@seznam.cz"),
        attachments=[("Recept na svíčkovou.pdf", "application/pdf", b"%PDF-1.4 ")],
    )
    skipped = ingest(raw, imap_source(world.sales_a.id, 1))
    assert skipped.status == "skipped" and skipped.message_id is None
    assert count(database, Message) == count(database, MessageSource) == 0
    assert count(database, MessageLink) == 0
    assert not any(BlobStore(database.settings.blob_dir).root.rglob("*"))
    dropbox = Source(kind="dropbox", key="dropbox:1", user_id=world.sales_a.id, explicit=True)
    triaged = ingest(raw, dropbox)
    assert triaged.status == "triaged"
    m = stored(database, triaged)
    assert m.status == "triage" and m.owner_id == world.sales_a.id and not m.links


def test_mail_left_out_is_filed_when_it_comes_again_after_its_sender_became_a_contact(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    raw = make_mail(subject="Zamówienie", sender=("Tomasz Lis", "tomasz.lis@onet.pl"))
    assert ingest(raw, imap_source(world.sales_b.id, 1)).status == "skipped"
    with database.session() as s:
        tomasz = persons.create(
            s,
            world.sales_b,
            {
                "partner_id": dossier.other_partner_id,
                "name": "Tomasz Lis",
                "emails": "tomasz.lis@onet.pl",
            },
        )
    # the same copy read again (a full resync)
    assert filed(ingest(raw, imap_source(world.sales_b.id, 1)), database) == {
        (person(tomasz.id), "address"),
        (partner(dossier.other_partner_id), "address"),
    }


# -- on behalf of the source's user: it reaches only what that user may see (issue 8) ---------


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


# -- the rules belong to the archive ------------------------------------------------------------

WITHOUT_CONNECTOR = r"""
import sys
from pathlib import Path

import tests.mail_archive.conftest
import tests.mail_archive.test_filing

loaded = sorted(m for m in sys.modules if m.split(".")[0] == "connector")
assert not loaded, f"the filing rules' tests import {loaded}"

from crm.blobs import BlobStore
from crm.bootstrap import initialize
from crm.services.partners import partners
from crm.services.users import create_user
from crm.settings import Settings

settings = Settings(home=Path(sys.argv[1]), secret_key="test-secret")
db = initialize(settings)  # the schema of every package: their migrations import them


class NoConnector:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "connector":
            raise ImportError(f"the archive imported {name}")
        return None


for name in [m for m in sys.modules if m.split(".")[0] == "connector"]:
    del sys.modules[name]
sys.meta_path.insert(0, NoConnector())

from mail_archive.ingest import Archive, Source
from tests.mailfactory import make_mail

with db.session() as s:
    jana = create_user(s, "jana@firma.cz", "Jana Nováková", "sales", ["Tým A"])
    partner = partners.create(s, jana, {"name": "Stavby Příbram", "domains": "stavby-pribram.cz"})
    ids = (jana.id, partner.id)
with db.session() as s:
    archive = Archive(s, BlobStore(settings.blob_dir))  # the rules are its filer by default
    first = archive.ingest(make_mail(message_id="prvni@test"), Source("upload", "u:1", ids[0]))
    reply = archive.ingest(  # a stranger's reply, from a mailbox: filed by the thread
        make_mail(sender=("X", "x@gmail.com"), subject="Re: Nabídka", in_reply_to="prvni@test"),
        Source("imap", "imap:1:INBOX:1:1", ids[0], account_id=1, folder="INBOX"),
    )
assert first.status == "archived", first
assert [(k.record_type, k.record_id, k.how) for k in first.links] == [("partner", ids[1], "domain")]
assert [(k.record_type, k.how) for k in reply.links] == [("partner", "thread")], reply
print("ok")
"""


def test_the_rules_and_their_tests_run_without_the_connector(tmp_path: Path) -> None:
    """DESIGN: mail_archive never imports connector. In a process of its own: importing these
    tests imports no connector module, and with connector made unimportable the archive still
    ingests a message, filed by the rules."""
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_CONNECTOR, str(home)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok\n"
