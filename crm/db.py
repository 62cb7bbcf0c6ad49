"""The database: engine, sessions and migrations.

SQLite (WAL) in the data directory by default; PostgreSQL through DATABASE_URL. The schema is
owned by Alembic: one version chain per package (crm/migrations and those the entry point group
``dossier.migrations`` names); ``upgrade`` brings any database to the newest revision of each.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from crm.errors import Busy, DossierError, StorageFull
from crm.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def load_models() -> None:
    """Import the table definitions of every package (entry point group ``dossier.models``),
    so that Base.metadata describes the whole schema (crm imports none of ours directly)."""
    from importlib.metadata import entry_points

    for ep in entry_points(group="dossier.models"):
        ep.load()


# How long a statement waits for another writer's lock before it gives up (then the request
# answers 503 with Retry-After, see database_error): SQLite's busy timeout, PostgreSQL's
# lock_timeout.
BUSY_TIMEOUT = 10.0


def _sqlite_pragmas(busy_timeout: float) -> Any:
    def connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, start transactions (see _sqlite_begin): the
        # module's own implicit BEGIN does not cover SAVEPOINT, so nested rollbacks would commit.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return connect


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

    def __init__(self, settings: Settings, *, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.settings = settings
        url = settings.db_url
        if settings.is_sqlite:
            settings.home.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(url, connect_args={"timeout": busy_timeout})
            event.listen(self.engine, "connect", _sqlite_pragmas(busy_timeout))
            event.listen(self.engine, "begin", _sqlite_begin)
        else:
            # A lock held elsewhere (a long import, a stuck transaction) fails the waiting
            # statement after the timeout instead of hanging the request for ever.
            timeout = f"-c lock_timeout={int(busy_timeout * 1000)}"
            # No JIT: the permission rule's subplans make the planner's costs look big enough
            # to compile each query, which took 56 of a mail list's 150 ms (bench/mail.py).
            options = f"{timeout} -c jit=off"
            self.engine = create_engine(url, pool_pre_ping=True, connect_args={"options": options})
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
        """Every package's chain to its newest revision (crm's and those of ``migration_dirs``)."""
        from alembic import command

        command.upgrade(alembic_config(self), "heads")

    def refresh_statistics(self) -> None:
        """Let the query planner see how the data is spread (ANALYZE). Without it SQLite
        guesses, and for a list whose permission rule is an OR it sorted every visible row
        instead of reading the sort's index (the deal list at 30,000 deals: 14 ms against
        0.1 ms). PostgreSQL's autovacuum does the same on its own; a run here does no harm.
        The housekeeping worker runs it at start and every hour (crm.housekeeping)."""
        with self.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")

    def dispose(self) -> None:
        self.engine.dispose()


# SQLite's result codes (sqlite3.Error.sqlite_errorname) and PostgreSQL's SQLSTATEs that mean
# "another transaction is in the way: try again", and "the disk is full".
BUSY_SQLITE = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED"})
BUSY_SQLSTATES = frozenset({"55P03", "40001", "40P01"})  # lock timeout, serialization, deadlock
FULL_SQLITE = frozenset({"SQLITE_FULL"})
FULL_SQLSTATES = frozenset({"53100"})  # disk_full


def database_error(exc: BaseException) -> DossierError | None:
    """Busy or StorageFull for a driver error that says the database is locked (after the
    session's own wait) or its disk is full, on either backend; None for any other error.
    Both leave nothing written: the failing transaction is rolled back."""
    orig = getattr(exc, "orig", None) or exc
    name = getattr(orig, "sqlite_errorname", None)
    state = getattr(orig, "sqlstate", None)
    if name in BUSY_SQLITE or state in BUSY_SQLSTATES:
        return Busy("the database is busy with another change; try again in a moment")
    if name in FULL_SQLITE or state in FULL_SQLSTATES:
        return StorageFull("the disk holding Dossier's database is full; nothing was saved")
    return None


def migration_dirs() -> list[Path]:
    """The version directories of every package's Alembic chain: crm's own and, through the
    entry point group ``dossier.migrations`` (a package holding ``versions/``), the others',
    so that crm imports none of them. Each chain has its package's branch label."""
    from importlib.metadata import entry_points

    dirs = [MIGRATIONS / "versions"]
    for ep in sorted(entry_points(group="dossier.migrations"), key=lambda ep: ep.name):
        module = ep.load()
        if module.__file__ is None:
            raise DossierError(f"the migrations {ep.value!r} are not a package with a file")
        dirs.append(Path(module.__file__).parent / "versions")
    return dirs


def alembic_config(db: Database) -> Any:
    import os

    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(str(d) for d in migration_dirs()))
    cfg.attributes["engine"] = db.engine
    return cfg
