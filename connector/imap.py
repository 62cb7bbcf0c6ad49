"""IMAP accounts: one sync pass over the watched folders and the filing folder.

- Watched folders: the account's list, or INBOX and the folder marked \\Sent (SPECIAL-USE).
- The filing folder (``CRM``, created if missing) and its sub-folders: ``CRM/<partner name>``
  files to that partner; mail there is an explicit choice, so unmatched mail waits in triage.
- Incremental by UIDVALIDITY + last UID per folder (the folder's opaque checkpoint,
  ``ImapCheckpoint``); with CONDSTORE an unchanged HIGHESTMODSEQ skips the folder without a
  search. Folders are opened read-only (EXAMINE) and fetched with BODY.PEEK[]: the connector
  never changes a flag. The sync pass (connector.sync) stores each batch's checkpoint in the
  transaction of the batch, so a crash re-reads and dedupe absorbs the re-read. A UIDVALIDITY
  change re-reads the folder from the start.
``ImapSource`` is the ``imap`` kind of mail source (connector.sources). IMAPClient objects stay
inside connector/ (this module, idle and sending use ``connect``).
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import click
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from connector.accounts import AccountError, credentials
from connector.models import MailAccount
from connector.network import GuardedIMAPClient, connection_failure, login_failure
from connector.sources import Batch, Capabilities, Folder, Item, MailSource
from connector.sync import AccountReport, FolderReport, sync_account, sync_accounts
from crm.db import Database

__all__ = ["AccountReport", "FolderReport", "ImapSource", "ImapSync", "connect", "sync_accounts"]
SENT_FLAG = b"\\Sent"
BATCH = 50
NETWORK_ERRORS = (IMAPClientError, OSError, socket.timeout, ssl.SSLError)
READ_TIMEOUT = 60.0  # a large message may take a while once logged in


@dataclass(frozen=True)
class WatchedFolder:
    name: str
    explicit: bool = False
    outgoing: bool = False
    partner_name: str = ""  # CRM/<partner name>


@contextmanager
def connect(
    db: Database, account: MailAccount, *, read_timeout: float = READ_TIMEOUT
) -> Iterator[IMAPClient]:
    """A logged-in client; AccountError with a reason the user can act on when that fails
    (connector.network: the allowed servers, DOSSIER_MAIL_TIMEOUT, the wording)."""
    secret = credentials(db.settings, account)
    try:
        client = GuardedIMAPClient(
            db.settings,
            account.host,
            account.port,
            tls=account.security == "tls",
            timeout=db.settings.mail_timeout,
            read_timeout=read_timeout,
        )
    except (AccountError, *NETWORK_ERRORS) as exc:
        raise connection_failure(account.host, account.port, exc) from None
    try:
        if account.security == "starttls":
            client.starttls(ssl.create_default_context())
        if secret.oauth_token:
            client.oauth2_login(secret.username, secret.oauth_token)
        else:
            client.login(secret.username, secret.password)
    except NETWORK_ERRORS as exc:
        _close(client)
        raise login_failure(account.host, account.port, account.username, exc) from None
    try:
        yield client
    finally:
        _close(client)


def _close(client: IMAPClient) -> None:
    try:
        client.logout()
    except NETWORK_ERRORS:
        with suppress(*NETWORK_ERRORS):
            client.shutdown()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def watched_folders(client: IMAPClient, account: MailAccount) -> list[WatchedFolder]:
    listed = client.list_folders()
    names = {_text(name): (flags, _text(delim) if delim else "/") for flags, delim, name in listed}
    folders: list[WatchedFolder] = []
    if account.folders:
        for name in account.folders:
            if name in names:
                folders.append(WatchedFolder(name, outgoing=SENT_FLAG in names[name][0]))
    else:
        folders.append(WatchedFolder("INBOX"))
        for name, (flags, _d) in names.items():
            if SENT_FLAG in flags:
                folders.append(WatchedFolder(name, outgoing=True))
                break
    filing = account.filing_folder
    if filing not in names:
        client.create_folder(filing)
        delimiter = next(iter(names.values()))[1] if names else "/"
        names[filing] = ((), delimiter)
    folders.append(WatchedFolder(filing, explicit=True))
    delimiter = names[filing][1] or "/"
    prefix = filing + delimiter
    for name in sorted(names):
        if name.startswith(prefix) and len(name) > len(prefix):
            folders.append(
                WatchedFolder(
                    name, explicit=True, partner_name=name[len(prefix) :].split(delimiter)[0]
                )
            )
    return folders


@dataclass(frozen=True)
class ImapCheckpoint:
    """Where a folder's sync stands: its UIDVALIDITY, the last UID read, its HIGHESTMODSEQ when
    the server has CONDSTORE. Stored as compact JSON (FolderState.checkpoint, opaque to all but
    this module; migration c0002 wrote the first ones from the columns before it)."""

    uidvalidity: int | None = None
    uid: int = 0
    modseq: int | None = None

    @classmethod
    def decode(cls, text: str) -> ImapCheckpoint:
        """The checkpoint written by ``encode``; nothing known ("" or unreadable): the start."""
        try:
            found = json.loads(text) if text else {}
            return cls(int(found["uidvalidity"]), int(found["uid"]), found.get("modseq"))
        except (ValueError, KeyError, TypeError):
            return cls()

    def encode(self) -> str:
        values = {"uidvalidity": self.uidvalidity, "uid": self.uid, "modseq": self.modseq}
        return json.dumps(values, separators=(",", ":"))


class ImapSource(MailSource):
    """The ``imap`` kind of mail source: an IMAP mailbox (IMAPClient), its watched folders and
    its filing folder."""

    kind = "imap"
    archive_kind = "imap"
    capabilities = Capabilities(
        push=True,  # IMAP IDLE, where the server offers it (connector.idle)
        folders=True,
        filing_folder=True,
        sending=True,  # through the account's SMTP server, when one is set
        checkpoint="UIDVALIDITY, last UID, HIGHESTMODSEQ",
    )
    network_errors = NETWORK_ERRORS

    def __init__(self, db: Database, account: MailAccount) -> None:
        super().__init__(db, account)
        self._client: IMAPClient | None = None

    @contextmanager
    def connect(self, *, read_timeout: float | None = None) -> Iterator[IMAPClient]:
        with connect(self.db, self.account, read_timeout=read_timeout or READ_TIMEOUT) as client:
            offered = client.capabilities()
            if b"CONDSTORE" in offered and b"ENABLE" in offered:
                client.enable("CONDSTORE")
            self._client = client
            try:
                yield client
            finally:
                self._client = None

    @property
    def client(self) -> IMAPClient:
        if self._client is None:
            raise RuntimeError("ImapSource used outside `with source.connect()`")
        return self._client

    def folders(self) -> list[Folder]:
        return [
            Folder(f.name, explicit=f.explicit, outgoing=f.outgoing, partner_name=f.partner_name)
            for f in watched_folders(self.client, self.account)
        ]

    def changes(self, folder: Folder, checkpoint: str) -> Iterator[Batch]:
        client = self.client
        info = client.select_folder(folder.name, readonly=True)
        uidvalidity = int(info[b"UIDVALIDITY"])
        found = info.get(b"HIGHESTMODSEQ")
        modseq = int(found) if found is not None else None
        start = ImapCheckpoint.decode(checkpoint)
        if start.uidvalidity != uidvalidity:
            # First seen, or the server renumbered the folder: read it again; dedupe absorbs
            # the copies.
            start = ImapCheckpoint(uidvalidity)
        elif modseq is not None and start.modseq == modseq and start.uid:
            return  # nothing changed since the last pass
        last = start.uid
        uids = sorted(u for u in client.search(["UID", f"{last + 1}:*"]) if u > last)
        account_id = self.account.id
        for first in range(0, len(uids), BATCH):
            batch = uids[first : first + BATCH]
            fetched = client.fetch(batch, ["BODY.PEEK[]"])
            items = [
                Item(f"imap:{account_id}:{folder.name}:{uidvalidity}:{uid}", bytes(raw))
                for uid in batch
                if (raw := fetched.get(uid, {}).get(b"BODY[]")) is not None  # else expunged
            ]
            last = batch[-1]
            yield Batch(items, ImapCheckpoint(uidvalidity, last, start.modseq).encode(), len(batch))
        end = ImapCheckpoint(uidvalidity, last, modseq if modseq is not None else start.modseq)
        if end.encode() != checkpoint:
            yield Batch([], end.encode())

    @classmethod
    def add_command(cls) -> click.Command:
        from connector.commands import account_add_imap

        return account_add_imap


class ImapSync:
    """One pass over one account: the sync pass (connector.sync), whatever the account's kind.
    Kept for the scripts and tests written against it; new code calls ``sync_account``."""

    def __init__(self, db: Database, account_id: int) -> None:
        self.db = db
        self.account_id = account_id

    def run(self) -> AccountReport:
        return sync_account(self.db, self.account_id)
