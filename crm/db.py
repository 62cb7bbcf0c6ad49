"""The database: engine, sessions and migrations.

SQLite (WAL) in the data directory by default; PostgreSQL through DATABASE_URL. The schema is
owned by Alembic (crm/migrations); ``upgrade`` brings any database to the newest revision.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from crm.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def load_models() -> None:
    """Import the table definitions of every package (entry point group ``dossier.models``),
    so that Base.metadata describes the whole schema (crm imports none of ours directly)."""
    from importlib.metadata import entry_points

    for ep in entry_points(group="dossier.models"):
        ep.load()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, start transactions (see _sqlite_begin): the
    # module's own implicit BEGIN does not cover SAVEPOINT, so nested rollbacks would commit.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # A unit of work that may write takes the write lock when it begins (IMMEDIATE): begun
    # deferred, it would read a snapshot first, and when another writer (the background mail
    # sync, a second request) committed meanwhile, its first write would fail at once with
    # "database is locked" instead of waiting its turn (SQLite in WAL mode).
    immediate = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


WRITE_OPTION = "dossier_write"  # execution option: this connection's transactions may write


class Database:
    """An engine and its session factory; one per process and settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        url = settings.db_url
        if settings.is_sqlite:
            settings.home.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(url, connect_args={"timeout": 10})
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        else:
            self.engine = create_engine(url, pool_pre_ping=True)
        self._readers = sessionmaker(self.engine, expire_on_commit=False)
        self._writers = sessionmaker(
            self.engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )

    def new_session(self, *, write: bool = True) -> Session:
        """A session the caller commits and closes. ``write=False`` for one that only reads
        (a page view): on SQLite it does not wait for, nor hold up, writers."""
        return (self._writers if write else self._readers)()

    @contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        session = self.new_session(write=write)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def upgrade(self) -> None:
        from alembic import command

        command.upgrade(alembic_config(self), "head")

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(db: Database) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = db.engine
    return cfg
