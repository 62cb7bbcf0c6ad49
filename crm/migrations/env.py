"""Alembic environment: runs on the engine handed over by crm.db.Database.upgrade.

One environment for every package's version chain (crm.db.migration_dirs: crm's own, and those of
the entry point group ``dossier.migrations``); they share one ``alembic_version`` table, a row
per chain's head, and are compared with the metadata of every package's models."""

from __future__ import annotations

from alembic import context

from crm.db import load_models
from crm.models import Base

load_models()

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=engine.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
