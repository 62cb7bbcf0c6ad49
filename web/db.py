"""The request's database session: opened on first use, closed (rolled back) at teardown.

Write views call ``commit()`` after the service call; anything not committed is rolled back.
"""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from crm.db import Database


def database() -> Database:
    return current_app.extensions["dossier.db"]  # type: ignore[no-any-return]


def session() -> Session:
    if "db_session" not in g:
        g.db_session = database()._factory()
    return g.db_session  # type: ignore[no-any-return]


def commit() -> None:
    session().commit()


def init_app(app: Flask, db: Database) -> None:
    app.extensions["dossier.db"] = db

    @app.teardown_appcontext
    def close_session(_exc: BaseException | None) -> None:
        s = g.pop("db_session", None)
        if s is not None:
            s.rollback()
            s.close()
