"""Mail test helpers: an archive bound to a session, partners and persons to file to."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from crm.blobs import BlobStore
from crm.db import Database
from crm.services.deals import deals
from crm.services.partners import partners
from crm.services.persons import persons
from mail_archive.filing import RuleFiler
from mail_archive.ingest import Archive, IngestResult, Source
from tests.conftest import World
from tests.mailfactory import make_mail


@dataclass
class Dossier:
    """Stavby Příbram (domain stavby-pribram.cz, person Jan Novák) with a deal, in Tým A."""

    partner_id: int
    person_id: int
    deal_id: int
    other_partner_id: int  # Mlékárna Kraków, Tým B


@pytest.fixture
def dossier(database: Database, world: World) -> Dossier:
    with database.session() as s:
        p = partners.create(
            s, world.sales_a, {"name": "Stavby Příbram s.r.o.", "domains": "stavby-pribram.cz"}
        )
        person = persons.create(
            s,
            world.sales_a,
            {"partner_id": p.id, "name": "Jan Novák", "emails": "jan.novak@stavby-pribram.cz"},
        )
        d = deals.create(s, world.sales_a, {"title": "Hala Příbram", "partner_id": p.id})
        other = partners.create(
            s, world.sales_b, {"name": "Mlékárna Kraków sp. z o.o.", "domains": "mleko.pl"}
        )
        return Dossier(p.id, person.id, d.id, other.id)


class Ingest:
    """ingest() in its own committed unit of work, as every channel does."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.blobs = BlobStore(database.settings.blob_dir)

    def __call__(self, raw: bytes, source: Source) -> IngestResult:
        with self.database.session() as s:
            return Archive(s, self.blobs, RuleFiler()).ingest(raw, source)


@pytest.fixture
def ingest(database: Database) -> Iterator[Ingest]:
    yield Ingest(database)


def imap_source(user_id: int, uid: int, folder: str = "INBOX", **kw: object) -> Source:
    return Source(
        kind="imap",
        key=f"imap:1:{folder}:1:{uid}",
        user_id=user_id,
        account_id=1,
        folder=folder,
        **kw,  # type: ignore[arg-type]
    )


def upload_source(user_id: int, label: str, **kw: object) -> Source:
    return Source(kind="upload", key=f"upload:{label}", user_id=user_id, explicit=True, **kw)  # type: ignore[arg-type]


# -- what another team keeps: filing on behalf of a user reaches none of it -------------------

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
