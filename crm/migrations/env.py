"""Alembic environment: runs on the engine handed over by crm.db.Database.upgrade.

One environment for every package's version chain (crm.db.migration_dirs: crm's own, and those of
the entry point group ``dossier.migrations``); they share one ``alembic_version`` table, a row
per chain's head, and are compared with the metadata of every package's models.

On SQLite, ALTER TABLE runs in batch mode: the table is copied, dropped and renamed. With foreign
keys enforced, dropping ``partners`` or ``persons`` would cascade into every row that references
them (message links, deals, activities), so the migrations run with enforcement off and check
every reference before they commit (https://www.sqlite.org/lang_altertable.html, "Making Other
Kinds Of Table Schema Changes", steps 1 and 10)."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection

from crm.db import load_models
from crm.models import Base

load_models()


def _foreign_keys(connection: Connection, on: bool) -> None:
    # The pragma is a no-op inside a transaction: set it on the driver's connection, outside one.
    driver: Any = connection.connection.driver_connection
    driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def _check_references(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"a migration left references to missing rows: {broken[:10]}")


engine = context.config.attributes["engine"]
sqlite = engine.dialect.name == "sqlite"
with engine.connect() as connection:
    if sqlite:
        _foreign_keys(connection, False)
    try:
        with connection.begin():
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=sqlite,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                _check_references(connection)
    finally:
        if sqlite:
            _foreign_keys(connection, True)
