"""Creating and opening a data directory: folders, database schema, shipped codebooks."""

from __future__ import annotations

from crm.db import Database
from crm.services.codebooks import seed_codebooks
from crm.services.users import create_user, find_user
from crm.settings import Settings


def initialize(
    settings: Settings, admin_email: str | None = None, admin_password: str | None = None
) -> Database:
    """Idempotent: brings the data directory and database up to date; adds the admin once."""
    settings.ensure_dirs()
    settings.session_secret()
    db = Database(settings)
    db.upgrade()
    with db.session() as session:
        seed_codebooks(session)
        if admin_email and find_user(session, admin_email) is None:
            create_user(
                session,
                admin_email,
                "Administrator",
                "admin",
                ["Management"],
                password=admin_password,
            )
    return db
