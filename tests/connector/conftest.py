"""Connector tests share the mail archive's fixtures (a dossier to file to, ingest)."""

from __future__ import annotations

from typing import Any

from connector.accounts import AccountInput, add_account
from crm.db import Database
from tests.mail_archive.conftest import dossier, hidden, ingest  # noqa: F401
from tests.servers.fixtures import ImapUser


def add_imap(
    database: Database,
    user: ImapUser,
    owner_email: str,
    name: str = "box",
    smtp: Any = None,
) -> int:
    """A mail account of ``owner_email`` on the test Dovecot (plain IMAP on loopback); with
    ``smtp`` (a tests.servers.smtp server) it sends through that server too."""
    with database.session() as s:
        return add_account(
            s,
            database.settings,
            AccountInput(
                name=name,
                host=user.host,
                port=user.port,
                security="none",
                username=user.name,
                user_email=owner_email,
                password=user.password,
                smtp_host=smtp.host if smtp else "",
                smtp_port=smtp.port if smtp else None,
                smtp_security="none" if smtp else "starttls",
            ),
        ).id
