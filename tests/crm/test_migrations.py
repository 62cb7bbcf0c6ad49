"""The Alembic migrations create exactly the schema the models describe, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from crm.db import Database, alembic_config, load_models
from crm.models import Base
from crm.settings import Settings


def test_migrations_match_models(database: Database) -> None:
    load_models()
    assert {"messages", "message_links", "mail_accounts"} <= set(Base.metadata.tables)
    with database.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, Base.metadata) == []


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
    command.upgrade(cfg, "head")
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
        ids = dict(conn.execute(text("SELECT name, id FROM partners")).all())
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
    command.upgrade(cfg, "head")
    with db.engine.connect() as conn:
        deals = dict(conn.execute(text("SELECT title, private FROM deals")).all())
        task = conn.execute(text("SELECT private FROM activities WHERE title = 'Zavolat'"))
        assert task.scalar()
    assert deals == {"Hala": True, "Sklad": False}
    db.dispose()
