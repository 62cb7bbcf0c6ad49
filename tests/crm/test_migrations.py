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
