"""Pytest fixtures for tests that talk to real mail servers: Dovecot (IMAP) and aiosmtpd (SMTP).

Import them into a conftest (or a test module) with ``from tests.servers.fixtures import *``.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest

from tests.servers.dovecot import Dovecot, dovecot_or_skip, dovecot_server
from tests.servers.postgres import ServerMissing
from tests.servers.smtp import SmtpServer
from tests.servers.smtp import smtp_server as run_smtp_server

__all__ = ["ImapUser", "dovecot", "imap_user", "smtp_server"]

_user_counter = itertools.count(1)


@dataclass(frozen=True)
class ImapUser:
    """A mail account on the session's Dovecot, with the server's address."""

    name: str
    password: str
    host: str
    port: int


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One Dovecot for the session. Skips (or fails under DOSSIER_REQUIRE_ALL=1) if missing."""
    dovecot_or_skip()
    with ExitStack() as stack:
        try:
            server = stack.enter_context(dovecot_server())
        except ServerMissing as exc:  # e.g. no way to create the unprivileged user
            from tests.conftest import require_or_skip

            require_or_skip(str(exc))
            raise
        yield server


@pytest.fixture
def imap_user(dovecot: Dovecot) -> ImapUser:
    """A fresh account per test, so tests never see each other's mail."""
    name = f"user{os.getpid()}-{next(_user_counter)}"
    password = secrets.token_urlsafe(12)
    dovecot.add_user(name, password)
    return ImapUser(name=name, password=password, host=dovecot.host, port=dovecot.port)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """An SMTP server for this test on a free loopback port; AUTH as its user/password."""
    with run_smtp_server("mailer@dossier.test", secrets.token_urlsafe(12)) as server:
        yield server
