"""The Alembic migrations create exactly the schema the models describe, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from crm.db import Database
from crm.models import Base


def test_migrations_match_models(database: Database) -> None:
    with database.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, Base.metadata) == []


def test_upgrade_is_idempotent(database: Database) -> None:
    database.upgrade()
    database.upgrade()
