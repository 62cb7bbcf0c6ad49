"""IMAP accounts: one sync pass over the watched folders and the filing folder.

- Watched folders: the account's list, or INBOX and the folder marked \\Sent (SPECIAL-USE).
- The filing folder (``CRM``, created if missing) and its sub-folders: ``CRM/<partner name>``
  files to that partner; mail there is an explicit choice, so unmatched mail waits in triage.
- Incremental by UIDVALIDITY + last UID per folder; with CONDSTORE an unchanged HIGHESTMODSEQ
  skips the folder without a search. Folders are opened read-only (EXAMINE) and fetched with
  BODY.PEEK[]: the connector never changes a flag. The checkpoint advances in the same
  transaction as the batch it covers, so a crash re-reads and dedupe absorbs the re-read.
  A UIDVALIDITY change re-reads the folder from the start.
IMAPClient objects stay inside connector/ (this module, idle and sending use ``connect``).
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.accounts import AccountError, credentials
from connector.filing import RuleFiler
from connector.models import FolderState, MailAccount
from connector.network import GuardedIMAPClient, connection_failure, login_failure
from crm.blobs import BlobStore
from crm.db import Database
from crm.models import Partner, User, utcnow
from crm.permissions import visible
from crm.text import fold
from mail_archive.ingest import Archive, Source
from mail_archive.parse import parse

log = logging.getLogger("dossier.sync")
SENT_FLAG = b"\\Sent"
BATCH = 50
NETWORK_ERRORS = (IMAPClientError, OSError, socket.timeout, ssl.SSLError)
READ_TIMEOUT = 60.0  # a large message may take a while once logged in
# What the account's page says when a sync fails after the login (the reason is in the log).
SYNC_BROKE_OFF = "the connection to the server broke off during the sync; the next pass retries"
SYNC_FAILED = "the sync failed on the Dossier server; its log has the reason"


@dataclass
class FolderReport:
    folder: str
    fetched: int = 0
    archived: int = 0
    duplicates: int = 0
    triaged: int = 0
    skipped: int = 0  # not archived: private (no match from an automatic source)
    note: str = ""

    def count(self, status: str) -> None:
        self.fetched += 1
        if status == "archived":
            self.archived += 1
        elif status == "duplicate":
            self.duplicates += 1
        elif status == "triaged":
            self.triaged += 1
        else:
            self.skipped += 1


@dataclass
class AccountReport:
    account: str
    folders: list[FolderReport] = field(default_factory=list)
    error: str = ""


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


class ImapSync:
    """One pass over one account; ``run`` never raises for the account's own problems."""

    def __init__(
        self,
        db: Database,
        account_id: int,
    ) -> None:
        self.db = db
        self.account_id = account_id
        self.blobs = BlobStore(db.settings.blob_dir)
        self._partners_by_name: dict[str, int] | None = None

    def run(self) -> AccountReport:
        with self.db.session(write=False) as s:
            account = s.get(MailAccount, self.account_id)
            if account is None:
                return AccountReport(str(self.account_id), error="no such account")
            s.expunge(account)
        report = AccountReport(account.name)
        try:
            with connect(self.db, account) as client:
                offered = client.capabilities()
                if b"CONDSTORE" in offered and b"ENABLE" in offered:
                    client.enable("CONDSTORE")
                filer = RuleFiler()
                for folder in watched_folders(client, account):
                    report.folders.append(self._folder(client, account, folder, filer))
        except AccountError as exc:  # worded for the user (connector.network)
            report.error = exc.message
        except NETWORK_ERRORS as exc:  # after the login: the raw reason goes to the log only
            log.warning("sync of mail account %s broke off: %s", account.name, exc)
            report.error = SYNC_BROKE_OFF
        except Exception:  # a bug or a database failure: logged, and the others go on
            log.exception("sync of mail account %s failed", account.name)
            report.error = SYNC_FAILED
        with self.db.session() as s:
            row = s.get(MailAccount, self.account_id)
            if row is not None:
                row.last_sync_at = utcnow()
                row.last_error = report.error
                if report.error:
                    row.last_error_at = row.last_sync_at
        return report

    def _folder(
        self, client: IMAPClient, account: MailAccount, folder: WatchedFolder, filer: RuleFiler
    ) -> FolderReport:
        report = FolderReport(folder.name)
        info = client.select_folder(folder.name, readonly=True)
        uidvalidity = int(info[b"UIDVALIDITY"])
        modseq = info.get(b"HIGHESTMODSEQ")
        partner_id = self._partner_of(account, folder)
        if folder.partner_name and partner_id is None:
            report.note = f"no partner named {folder.partner_name!r}: its mail waits in triage"
        with self.db.session() as s:
            state = self._state(s, folder.name, uidvalidity)
            last_uid = state.last_uid
            if modseq is not None and state.highest_modseq == int(modseq) and last_uid:
                return report  # nothing changed since the last pass
        uids = sorted(u for u in client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid)
        for start in range(0, len(uids), BATCH):
            batch = uids[start : start + BATCH]
            fetched = client.fetch(batch, ["BODY.PEEK[]"])
            # parsed before the write transaction begins: the lock is held for storing only
            mails = {
                uid: (bytes(raw), parse(bytes(raw)))
                for uid in batch
                if (raw := fetched.get(uid, {}).get(b"BODY[]")) is not None  # else expunged
            }
            with self.db.session() as s:
                archive = Archive(s, self.blobs, filer, extra_own=[account.username])
                for uid, (raw, parsed) in mails.items():
                    source = Source(
                        kind="imap",
                        key=f"imap:{account.id}:{folder.name}:{uidvalidity}:{uid}",
                        user_id=account.user_id,
                        account_id=account.id,
                        folder=folder.name,
                        explicit=folder.explicit,
                        partner_id=partner_id,
                        how="folder",
                        outgoing=folder.outgoing,
                    )
                    report.count(archive.ingest(raw, source, parsed=parsed).status)
                state = self._state(s, folder.name, uidvalidity)
                state.last_uid = batch[-1]
                state.messages_seen += len(batch)
        if modseq is not None:
            with self.db.session() as s:
                self._state(s, folder.name, uidvalidity).highest_modseq = int(modseq)
        return report

    def _state(self, session: Session, folder: str, uidvalidity: int) -> FolderState:
        state = session.scalars(
            select(FolderState).where(
                FolderState.account_id == self.account_id, FolderState.folder == folder
            )
        ).first()
        if state is None:
            state = FolderState(account_id=self.account_id, folder=folder, uidvalidity=uidvalidity)
            session.add(state)
            session.flush()
        elif state.uidvalidity != uidvalidity:
            # The server renumbered the folder: read it again; dedupe absorbs the copies.
            state.uidvalidity = uidvalidity
            state.last_uid = 0
            state.highest_modseq = None
        return state

    def _partner_of(self, account: MailAccount, folder: WatchedFolder) -> int | None:
        """The partner a ``CRM/<name>`` folder names, compared without accents, case and
        punctuation (mail servers often refuse dots in folder names: "Stavby s r o")."""
        if not folder.partner_name:
            return None
        if self._partners_by_name is None:  # read once per pass, for every sub-folder
            self._partners_by_name = {}
            with self.db.session(write=False) as s:
                user = s.get(User, account.user_id)
                if user is not None:
                    rows = s.execute(
                        select(Partner.id, Partner.name_key)
                        .where(visible(user, Partner))
                        .order_by(Partner.id.desc())
                    )
                    # the oldest partner wins a clash: it is written last
                    self._partners_by_name = {_loose(key): pid for pid, key in rows}
        return self._partners_by_name.get(_loose(folder.partner_name))


def _loose(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", fold(name))


def sync_accounts(db: Database, name: str | None = None) -> list[AccountReport]:
    """One pass over every enabled account (or the one named), one after the other."""
    with db.session(write=False) as s:
        query = select(MailAccount.id).where(MailAccount.enabled.is_(True))
        if name:
            query = select(MailAccount.id).where(MailAccount.name == name)
        ids = list(s.scalars(query.order_by(MailAccount.id)))
    return [ImapSync(db, account_id).run() for account_id in ids]
