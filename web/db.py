"""The request's database session: opened on first use, closed (rolled back) at teardown.

Write views call ``commit()`` after the service call; anything not committed is rolled back.
"""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy.orm import Session

from crm.db import Database


def database() -> Database:
    return current_app.extensions["dossier.db"]  # type: ignore[no-any-return]


READ_METHODS = ("GET", "HEAD", "OPTIONS")


def session() -> Session:
    """The request's session; a GET reads only (on SQLite it never waits for a writer), other
    methods may write (they take SQLite's write lock when their transaction begins)."""
    if "db_session" not in g:
        write = not has_request_context() or request.method not in READ_METHODS
        g.db_session = database().new_session(write=write)
    return g.db_session  # type: ignore[no-any-return]


def commit() -> None:
    session().commit()


def release() -> None:
    """End the request's transaction before calling something that opens units of work of its
    own (an import, a sync, sending mail): on SQLite this request would otherwise hold the
    write lock they wait for. The request's session starts a new transaction if used again."""
    if "db_session" in g:
        g.db_session.commit()


def discard() -> None:
    """Roll back the request's session after a failed write (a locked database, a full disk)
    and let it only read from here on: the error page may still read (the user's name, the
    menu's counts) without waiting for the lock again. Its records stay attached."""
    s = g.get("db_session")
    if s is not None:
        s.rollback()
        s.bind = database().engine  # no write option: SQLite begins deferred, never waits


def init_app(app: Flask, db: Database) -> None:
    app.extensions["dossier.db"] = db

    @app.teardown_appcontext
    def close_session(_exc: BaseException | None) -> None:
        s = g.pop("db_session", None)
        if s is not None:
            s.rollback()
            s.close()
