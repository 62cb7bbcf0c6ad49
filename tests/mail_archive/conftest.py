"""Mail test helpers: an archive bound to a session, partners and persons to file to."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from connector.filing import RuleFiler
from crm.blobs import BlobStore
from crm.db import Database
from crm.services.deals import deals
from crm.services.partners import partners
from crm.services.persons import persons
from mail_archive.ingest import Archive, IngestResult, Source
from tests.conftest import World


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
