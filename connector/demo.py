"""The demo's mail server: writing and replying work in ``dossier demo`` as they do with a real
provider, without one.

``DemoMailServer`` is a real SMTP listener on loopback (aiosmtpd) that takes mail from the demo's
users (AUTH with their demo login) and delivers it into ``MailStore``, a mailbox per demo user
under ``<data dir>/demo-mail/`` (an IMAP-like store: folders of numbered ``.eml`` files, the
numbers growing like IMAP UIDs). Mail to a demo user lands in that user's INBOX; mail to anyone
else (the partners) in the store's ``outside`` box, the world outside the company; and, as
Gmail or Seznam do, what a user sends is also filed in that user's Sent folder.

Each demo user has a mail account of the kind ``demo`` (``DemoSource``, a mail source like any
other: connector.sources), whose SMTP server is the demo server and whose folders are the
user's mailbox in the store. So Write and Reply send through real SMTP, the sent mail is filed
by ``connector.sending`` like any other, and the background sync reads the store's INBOX and
Sent like an IMAP account's (the copy in Sent dedupes against the one filed when it was sent).

Only the demo makes such accounts (``ensure_demo_accounts``); the account form offers IMAP.
A recipient address never names a path: mail goes only to the mailboxes the demo made.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from connector import secrets
from connector.accounts import AccountError
from connector.models import MailAccount
from connector.sources import Batch, Capabilities, Folder, Item, MailSource
from crm.db import Database
from crm.models import User
from crm.settings import Settings
from crm.text import Text

log = logging.getLogger("dossier.connector.demo")
KIND = "demo"
STORE = "demo-mail"
OUTSIDE = "outside"  # not an address: the partners' side of the demo's mail
FOLDERS = ("INBOX", "Sent")
BATCH = 50
_NUMBERED = re.compile(r"(\d{6,})\.eml")


class MailStore:
    """Mailboxes of folders of numbered messages under one directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def of(cls, settings: Settings) -> MailStore:
        return cls(settings.home / STORE)

    def folder(self, mailbox: str, folder: str) -> Path:
        return self.root / mailbox / folder

    def create(self, mailbox: str) -> None:
        for folder in FOLDERS:
            self.folder(mailbox, folder).mkdir(parents=True, exist_ok=True)

    def mailboxes(self) -> set[str]:
        if not self.root.is_dir():
            return set()
        return {p.name for p in self.root.iterdir() if p.is_dir()}

    def deliver(self, mailbox: str, folder: str, raw: bytes) -> int:
        """Store the message under the next number (written whole, then linked to its name:
        a reader never sees half a message); returns the number."""
        where = self.folder(mailbox, folder)
        where.mkdir(parents=True, exist_ok=True)
        temp = where / f".tmp-{uuid.uuid4().hex}"
        with temp.open("wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            number = self.last(mailbox, folder) + 1
            while True:
                try:
                    os.link(temp, where / f"{number:06d}.eml")
                    return number
                except FileExistsError:
                    number += 1
        finally:
            temp.unlink()

    def numbers(self, mailbox: str, folder: str) -> list[int]:
        where = self.folder(mailbox, folder)
        if not where.is_dir():
            return []
        found = (_NUMBERED.fullmatch(p.name) for p in where.iterdir())
        return sorted(int(m.group(1)) for m in found if m)

    def last(self, mailbox: str, folder: str) -> int:
        numbers = self.numbers(mailbox, folder)
        return numbers[-1] if numbers else 0

    def read(self, mailbox: str, folder: str, number: int) -> bytes:
        return (self.folder(mailbox, folder) / f"{number:06d}.eml").read_bytes()


# -- the SMTP server ----------------------------------------------------------------------------


class _Delivery:
    """aiosmtpd's handler and authenticator (called on the server's thread)."""

    def __init__(self, store: MailStore, logins: dict[str, str]) -> None:
        self.store = store
        self.logins = logins  # address -> password

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace").lower()
            if self.logins.get(login) == auth_data.password.decode("utf-8", "replace"):
                return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if not session.authenticated:
            return "530 5.7.0 Log in first (your demo login and password)"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = bytes(envelope.original_content or b"")
        boxes = self.store.mailboxes()
        for rcpt in dict.fromkeys(str(r).lower() for r in envelope.rcpt_tos):
            box = rcpt if rcpt in boxes and rcpt != OUTSIDE else OUTSIDE
            self.store.deliver(box, "INBOX", raw)
        sender = str(session.auth_data)
        if sender in boxes:
            self.store.deliver(sender, "Sent", raw)
        log.info("demo mail from %s delivered to %s", sender, ", ".join(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class DemoMailServer:
    """The SMTP listener; ``start``/``stop``, or ``with``."""

    def __init__(
        self, store: MailStore, logins: dict[str, str], host: str = "127.0.0.1", port: int = 0
    ) -> None:
        from aiosmtpd.controller import Controller

        self.store = store
        self.host = host
        self.port = port or free_port(host)
        delivery = _Delivery(store, logins)
        self.controller = Controller(
            delivery,
            hostname=host,
            port=self.port,
            server_hostname="dossier-demo",  # without it aiosmtpd asks DNS for the FQDN
            authenticator=delivery.authenticate,
            auth_require_tls=False,  # loopback only
            decode_data=False,
        )

    def start(self) -> DemoMailServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> DemoMailServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def ensure_demo_accounts(db: Database, emails: list[str], password: str, smtp_port: int) -> int:
    """A ``demo`` mail account for each of the users (made once, its SMTP port set to the
    server's at every start); returns how many there are."""
    store = MailStore.of(db.settings)
    made = 0
    with db.session() as s:
        for email in emails:
            store.create(email)
            user = s.scalars(select(User).where(User.email == email)).first()
            if user is None:
                continue
            account = s.scalars(
                select(MailAccount).where(MailAccount.kind == KIND, MailAccount.name == email)
            ).first()
            if account is None:
                account = MailAccount(
                    name=email,
                    kind=KIND,
                    user_id=user.id,
                    host=f"{STORE}/{email}",
                    port=0,
                    security="none",
                    username=email,
                    password_encrypted=secrets.encrypt(db.settings, password),
                    folders=list(FOLDERS),
                    filing_folder="",
                    smtp_host="127.0.0.1",
                    smtp_security="none",
                )
                s.add(account)
            account.smtp_port = smtp_port
            made += 1
    return made


# -- the mail source ----------------------------------------------------------------------------


class DemoSource(MailSource):
    """A demo user's mailbox in the store: INBOX and Sent, checkpoint the last number read."""

    kind = KIND
    archive_kind = "imap"  # the user's own mailbox, as an IMAP account's
    capabilities = Capabilities(
        push=False, folders=True, sending=True, files_sent=True, checkpoint="last message read"
    )
    network_errors = (OSError,)

    @property
    def store(self) -> MailStore:
        return MailStore.of(self.db.settings)

    @contextmanager
    def connect(self, *, read_timeout: float | None = None) -> Iterator[None]:
        if self.account.username not in self.store.mailboxes():
            raise AccountError(
                Text(
                    "the demo mailbox of %(username)s is missing: start the demo again "
                    "(dossier demo)",
                    username=self.account.username,
                )
            )
        yield

    def folders(self) -> list[Folder]:
        return [Folder("INBOX"), Folder("Sent", outgoing=True)]

    def changes(self, folder: Folder, checkpoint: str) -> Iterator[Batch]:
        box = self.account.username
        read = int(checkpoint) if checkpoint.isdigit() else 0
        new = [n for n in self.store.numbers(box, folder.name) if n > read]
        for first in range(0, len(new), BATCH):
            chunk = new[first : first + BATCH]
            items = [
                Item(
                    f"demo:{self.account.id}:{folder.name}:{n}",
                    self.store.read(box, folder.name, n),
                )
                for n in chunk
            ]
            yield Batch(items, str(chunk[-1]), len(chunk))

    @classmethod
    def add_command(cls) -> click.Command:
        return add_demo


@click.command("demo")
def add_demo() -> None:
    """Demo accounts are made by `dossier demo`, one per demo user."""
    raise click.UsageError("demo accounts are made by `dossier demo`, one per demo user")
