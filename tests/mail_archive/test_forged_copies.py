"""Dedupe never becomes a way into a message (issue 8, finding 1), through the real
``Archive.ingest`` with the rule filer: a copy with the Message-ID, sender and date of a message
its user cannot see, but other bytes, is a message of its own; the very same bytes are merged,
yet name nothing to a user who still may not see the message; a reply threads only into
messages its user sees. Zofia Wójcik (Tým B) archived the order; Jana Nováková (Tým A) forges
it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.db import Database
from crm.services.partners import partners
from mail_archive import service
from mail_archive.models import Message, MessageLink, MessageSource
from tests.conftest import World, count
from tests.mail_archive.conftest import Dossier, Ingest, imap_source, upload_source
from tests.mailfactory import make_mail

ORDER_ID = "zamowienie-77@mleko.pl"
EWA = ("Ewa Kowalska", "biuro@mleko.pl")


def order(body: str = "Zamawiamy 40 t mleka w proszku, cena 9 800 EUR/t.\n") -> bytes:
    return make_mail(
        subject="Zamówienie 77",
        sender=EWA,
        to=[("Zofia Wójcik", "zofia@firma.pl")],
        message_id=ORDER_ID,
        body=body,
        attachments=[("cennik.pdf", "application/pdf", b"%PDF-1.4 tajny cennik")],
    )


# the bytes as stored (a multipart's boundary is random: made once)
ORDER = order()


@pytest.fixture
def hidden(world: World, dossier: Dossier, ingest: Ingest) -> int:
    """Zofia's order from Mlékárna Kraków (Tým B), read from her mailbox."""
    result = ingest(ORDER, imap_source(world.sales_b.id, 1))
    assert result.status == "archived" and result.message_id is not None
    return result.message_id


def links_of(database: Database, message_id: int) -> set[str]:
    with database.session(write=False) as s:
        rows = s.scalars(
            select(MessageLink.target).where(
                MessageLink.message_id == message_id, MessageLink.removed.is_(False)
            )
        )
        return set(rows)


def sees(database: Database, world_user: object, message_id: int) -> bool:
    with database.session(write=False) as s:
        user = s.merge(world_user)
        return service.find_message(s, user, message_id) is not None  # type: ignore[arg-type]


def test_a_forged_copy_of_a_hidden_message_is_a_message_of_its_own(
    database: Database, world: World, dossier: Dossier, ingest: Ingest, hidden: int
) -> None:
    forged = order(body="cokoli")
    for channel in (
        upload_source(world.sales_a.id, "forged", partner_id=dossier.partner_id),
        imap_source(
            world.sales_a.id, 9, folder="CRM", explicit=True, partner_id=dossier.partner_id
        ),
    ):
        result = ingest(forged, channel)
        assert result.message_id is not None and result.message_id != hidden
        assert not sees(database, world.sales_a, hidden)
        assert links_of(database, hidden) == {f"partner:{dossier.other_partner_id}"}
    with database.session(write=False) as s:
        # the hidden message gained no copy of Jana's; her copy keeps her text
        assert s.scalars(
            select(MessageSource.user_id).where(MessageSource.message_id == hidden)
        ).all() == [world.sales_b.id]
        mine = s.scalars(select(Message).where(Message.id != hidden)).one()
        assert mine.body_text.strip() == "cokoli" and mine.owner_id == world.sales_a.id


def test_a_copy_from_a_colleague_who_sees_the_message_is_merged(
    database: Database, world: World, dossier: Dossier, ingest: Ingest, hidden: int
) -> None:
    with database.session() as s:
        shared = partners.create(
            s, world.sales_b, {"name": "Hurtownia Nabiału", "domains": "hurtownia.pl"}
        )
    # the admin's copy (other Received headers) and a Tým B manager's both see it: merged
    again = ORDER.replace(b"Subject:", b"Received: from mx.firma.pl\nSubject:", 1)
    result = ingest(again, upload_source(world.admin.id, "copy", partner_id=shared.id))
    assert result.status == "duplicate" and result.message_id == hidden
    assert links_of(database, hidden) == {
        f"partner:{dossier.other_partner_id}",
        f"partner:{shared.id}",
    }
    assert count(database, Message) == 1


def test_the_same_bytes_name_nothing_to_whom_still_may_not_see_the_message(
    database: Database, world: World, dossier: Dossier, ingest: Ingest, hidden: int
) -> None:
    result = ingest(ORDER, upload_source(world.sales_a.id, "same"))
    assert result.status == "duplicate"
    assert result.message_id is None and result.links == []
    assert count(database, MessageSource) == 1  # nothing written
    assert not sees(database, world.sales_a, hidden)
    # chosen for a partner of hers, it is her message too, with her link only added
    result = ingest(ORDER, upload_source(world.sales_a.id, "same", partner_id=dossier.partner_id))
    assert result.message_id == hidden
    assert [(link.record_type, link.record_id) for link in result.links] == [
        ("partner", dossier.partner_id)
    ]
    assert sees(database, world.sales_a, hidden)
    with database.session(write=False) as s:
        jana = s.merge(world.sales_a)
        m = service.load_message(s, jana, hidden)
        shown = service.visible_links(s, jana, [m])[hidden]
        assert [link.target for link in shown] == [f"partner:{dossier.partner_id}"]
        zofia = s.merge(world.sales_b)
        shown = service.visible_links(s, zofia, [m])[hidden]
        assert [link.target for link in shown] == [f"partner:{dossier.other_partner_id}"]


def test_the_same_bytes_from_ones_own_mailbox_are_ones_own_mail(
    database: Database, world: World, dossier: Dossier, ingest: Ingest, hidden: int
) -> None:
    """Ewa wrote to Zofia and Jana in one mail: Jana's mailbox holds the very bytes."""
    result = ingest(ORDER, imap_source(world.sales_a.id, 3))
    assert result.message_id == hidden
    assert sees(database, world.sales_a, hidden)


def test_a_reply_threads_only_into_messages_its_user_sees(
    database: Database, world: World, dossier: Dossier, ingest: Ingest, hidden: int
) -> None:
    reply = make_mail(
        subject="Re: Zamówienie 77",
        sender=("Jan Novák", "jan.novak@stavby-pribram.cz"),
        in_reply_to=ORDER_ID,
        message_id="re-77@stavby-pribram.cz",
    )
    mine = ingest(reply, upload_source(world.sales_a.id, "reply"))
    assert mine.status == "archived"  # by Jan's address, not by the hidden thread
    assert links_of(database, mine.message_id or 0) == {
        f"person:{dossier.person_id}",
        f"partner:{dossier.partner_id}",
    }
    with database.session(write=False) as s:
        stored = s.get(Message, mine.message_id)
        assert stored is not None and stored.thread_key == ORDER_ID  # its own headers' root
        jana = s.merge(world.sales_a)
        assert [m.id for m in service.thread_of(s, jana, stored)] == [stored.id]
    # Zofia's answer in her thread inherits her thread and her links, not the forged copy's
    forged = ingest(
        order(body="cokoli"), upload_source(world.sales_a.id, "f", partner_id=dossier.partner_id)
    )
    answer = make_mail(
        subject="Re: Zamówienie 77",
        sender=("Zofia Wójcik", "zofia@firma.pl"),
        to=[EWA],
        in_reply_to=ORDER_ID,
        references=[ORDER_ID],
    )
    result = ingest(answer, imap_source(world.sales_b.id, 2, folder="Sent", outgoing=True))
    assert links_of(database, result.message_id or 0) == {f"partner:{dossier.other_partner_id}"}
    assert forged.message_id not in {result.message_id, hidden}


def test_an_existence_oracle_through_references_tells_nothing(
    database: Database, world: World, dossier: Dossier, ingest: Ingest, hidden: int
) -> None:
    """A reply naming Jana's own message and, nearer, the hidden one files exactly as if the
    hidden one did not exist: by her message's links."""
    ingest(
        make_mail(subject="Poptávka", message_id="poptavka-1@stavby-pribram.cz"),
        imap_source(world.sales_a.id, 1),
    )
    stranger = ("Dozor", "stavebni.dozor@gmail.com")
    for label, refs in (
        ("with", ["poptavka-1@stavby-pribram.cz", ORDER_ID]),
        ("without", ["poptavka-1@stavby-pribram.cz", "nothing-here@mleko.pl"]),
    ):
        probe = make_mail(subject=f"Re: Poptávka {label}", sender=stranger, references=refs)
        result = ingest(probe, upload_source(world.sales_a.id, label))
        assert result.status == "archived", label
        assert links_of(database, result.message_id or 0) == {
            f"person:{dossier.person_id}",
            f"partner:{dossier.partner_id}",
        }, label
