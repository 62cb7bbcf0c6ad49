"""The Alembic migrations create exactly the schema the models describe, on every backend;
each package's chain (branch labels crm, mail_archive, connector) creates its own tables."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from crm.db import Database, alembic_config, load_models
from crm.models import Base
from crm.settings import Settings

PACKAGES = ("crm", "mail_archive", "connector")
_names = itertools.count()


def tables_of(package: str) -> set[str]:
    """The tables the models of ``package`` declare (crm's plain tables count as crm's)."""
    load_models()
    mapped = {
        t.name: m.class_.__module__.split(".")[0]
        for m in Base.registry.mappers
        if isinstance(t := m.local_table, sa.Table)
    }
    return {t for t in Base.metadata.tables if mapped.get(t, "crm") == package}


def differences(database: Database, metadata: sa.MetaData) -> list[object]:
    with database.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, metadata))


def test_migrations_match_models(database: Database) -> None:
    load_models()
    assert {"messages", "message_links", "mail_accounts"} <= set(Base.metadata.tables)
    assert differences(database, Base.metadata) == []


@pytest.mark.parametrize(
    "package, table",
    [("crm", "partners"), ("mail_archive", "messages"), ("connector", "mail_accounts")],
)
def test_the_match_test_sees_a_difference_in_every_package(
    database: Database, package: str, table: str
) -> None:
    """A model column no migration made is reported, whichever package's table it is in."""
    load_models()
    assert table in tables_of(package)
    metadata = sa.MetaData()
    for t in Base.metadata.sorted_tables:
        t.to_metadata(metadata)
    metadata.tables[table].append_column(sa.Column("planted", sa.Integer(), nullable=True))
    found = differences(database, metadata)
    assert [(d[0], d[2], d[3].name) for d in found if isinstance(d, tuple)] == [
        ("add_column", table, "planted")
    ]


def test_every_package_has_its_own_chain(database: Database) -> None:
    script = ScriptDirectory.from_config(alembic_config(database))
    heads = script.get_heads()
    labels = {label for rev in script.walk_revisions() for label in rev.branch_labels}
    assert set(PACKAGES) <= labels
    assert len(heads) == len(PACKAGES)
    for package in PACKAGES:
        assert script.get_revision(f"{package}@head") is not None


@pytest.fixture
def empty(settings: Settings, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """An empty database of the same kind as ``settings`` (no revision applied)."""
    home = tmp_path / "empty"
    home.mkdir()
    if settings.is_sqlite:
        return Settings(home=home, secret_key="test-secret")
    server = request.getfixturevalue("pg_server")
    name = f"empty{os.getpid()}_{next(_names)}"
    server.admin_sql(f"CREATE DATABASE {name}")
    return Settings(home=home, database_url=server.url(name), secret_key="test-secret")


def test_each_chain_creates_the_tables_of_its_package(empty: Settings) -> None:
    """Upgrading one branch after another adds exactly that package's tables."""
    db = Database(empty)
    cfg = alembic_config(db)
    before: set[str] = set()
    try:
        for package in PACKAGES:
            command.upgrade(cfg, f"{package}@head")
            with db.engine.connect() as conn:
                now = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
            assert now - before == tables_of(package), package
            before = now
        assert differences(db, Base.metadata) == []
    finally:
        db.dispose()


def test_a_package_chain_downgrades_alone(settings: Settings) -> None:
    """Downgrading the mail archive drops its tables and keeps crm's and the connector's."""
    db = Database(settings)
    cfg = alembic_config(db)
    command.downgrade(cfg, "mail_archive@base")
    with db.engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
    assert not names & tables_of("mail_archive")
    assert tables_of("crm") | tables_of("connector") <= names
    db.upgrade()
    assert differences(db, Base.metadata) == []
    db.dispose()


def test_upgrade_is_idempotent(database: Database) -> None:
    database.upgrade()
    database.upgrade()


def test_0002_fills_title_key_of_existing_activities(settings: Settings) -> None:
    from alembic import command
    from sqlalchemy import text

    db = Database(settings)
    cfg = alembic_config(db)
    command.downgrade(cfg, "0001")  # the fixture database is at head
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO activities (kind, title, note, done, next_contact_task, custom,"
                " private, created_at, updated_at) VALUES ('call', 'Hovor se Žatcem', '',"
                " false, '', '{}', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    command.upgrade(cfg, "heads")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT title_key FROM activities")).scalar() == "hovor se zatcem"
    db.dispose()


def test_0005_makes_what_hangs_on_a_private_partner_private(settings: Settings) -> None:
    from alembic import command
    from sqlalchemy import text

    db = Database(settings)
    cfg = alembic_config(db)
    command.downgrade(cfg, "0004")
    with db.engine.begin() as conn:
        for name, private in (("Soukromá s.r.o.", True), ("Sdílená a.s.", False)):
            conn.execute(
                text(
                    "INSERT INTO partners (name, name_key, status, street, city, postal_code,"
                    " country, phones, emails, web, company_id, vat_id, note, custom, private,"
                    " created_at, updated_at) VALUES (:name, :name, 'active', '', '', '', '',"
                    " '[]', '[]', '', '', '', '', '{}', :private, CURRENT_TIMESTAMP,"
                    " CURRENT_TIMESTAMP)"
                ),
                {"name": name, "private": private},
            )
        ids = {str(n): int(i) for n, i in conn.execute(text("SELECT name, id FROM partners"))}
        for title, partner in (("Hala", "Soukromá s.r.o."), ("Sklad", "Sdílená a.s.")):
            conn.execute(
                text(
                    "INSERT INTO deals (title, title_key, partner_id, currency, status,"
                    " close_note, custom, private, created_at, updated_at) VALUES (:title,"
                    " :title, :partner_id, 'CZK', 'open', '', '{}', false, CURRENT_TIMESTAMP,"
                    " CURRENT_TIMESTAMP)"
                ),
                {"title": title, "partner_id": ids[partner]},
            )
        hala = conn.execute(text("SELECT id FROM deals WHERE title = 'Hala'")).scalar()
        conn.execute(
            text(
                "INSERT INTO activities (kind, title, note, done, next_contact_task, custom,"
                " private, deal_id, created_at, updated_at) VALUES ('task', 'Zavolat', '',"
                " false, '', '{}', false, :deal_id, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"deal_id": hala},
        )
    command.upgrade(cfg, "heads")
    with db.engine.connect() as conn:
        deals = {str(t): bool(p) for t, p in conn.execute(text("SELECT title, private FROM deals"))}
        task = conn.execute(text("SELECT private FROM activities WHERE title = 'Zavolat'"))
        assert task.scalar()
    assert deals == {"Hala": True, "Sklad": False}
    db.dispose()


def test_m0002_fills_the_sort_keys_and_link_dates_of_existing_mail(
    database: Database, world: Any
) -> None:
    """Mail archived before m0002 sorts by subject and sender and shows in its partner's
    timeline afterwards: the new columns are filled from each row, nothing else changes."""
    from alembic import command
    from sqlalchemy import text

    from crm.services.partners import partners
    from crm.timeline import partner_timeline
    from mail_archive import service  # noqa: F401  (registers the mail timeline source)

    with database.session() as s:
        partner = partners.create(s, world.sales_a, {"name": "Stavby Příbram s.r.o."}).id
    cfg = alembic_config(database)
    command.downgrade(cfg, "m0001")
    with database.engine.begin() as conn:
        for n, (subject, name, addr) in enumerate(
            [("ŽÁDOST o nabídku", "Łukasz Nowak", "l@x.pl"), ("Objednávka", "", "Eva@Firma.cz")]
        ):
            conn.execute(
                text(
                    "INSERT INTO messages (sha256, internet_id, size, subject, from_name,"
                    " from_addr, to_addrs, cc_addrs, archived_at, sort_at, direction,"
                    ' in_reply_to, "references", thread_key, body_text, body_html,'
                    " remote_blocked, defects, auto, has_attachments, status) VALUES (:sha, '',"
                    " 1, :subject, :name, :addr, '[]', '[]', :at, :at, 'in', '', '[]', :sha,"
                    " 'Dobrý den', '', 0, '[]', false, false, 'filed')"
                ),
                {
                    "sha": f"{n:064x}",
                    "subject": subject,
                    "name": name,
                    "addr": addr,
                    "at": f"2027-01-0{n + 1} 10:00:00",
                },
            )
        for message_id in conn.scalars(text("SELECT id FROM messages")):
            conn.execute(
                text(
                    "INSERT INTO message_links (message_id, target, partner_id, how, created_at,"
                    " removed) VALUES (:m, :t, :p, 'manual', CURRENT_TIMESTAMP, false)"
                ),
                {"m": message_id, "t": f"partner:{partner}", "p": partner},
            )
    command.upgrade(cfg, "heads")
    with database.engine.connect() as conn:
        keys = conn.execute(text("SELECT sort_subject, sort_from FROM messages ORDER BY id")).all()
        undated = conn.scalar(text("SELECT count(*) FROM message_links WHERE sort_at IS NULL"))
    assert [tuple(k) for k in keys] == [
        ("žádost o nabídku", "łukasz nowak"),
        ("objednávka", "eva@firma.cz"),
    ]
    assert undated == 0
    assert differences(database, Base.metadata) == []
    with database.session() as s:
        shown = [e.title for e in partner_timeline(s, world.sales_a, partner) if e.kind == "mail"]
    assert shown == ["Objednávka", "ŽÁDOST o nabídku"]
