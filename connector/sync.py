"""One sync pass over a mail account, whatever its kind (connector.sources): the only way mail
of an account enters the archive. ``dossier sync``, the background scheduler, "Sync now" and a
connection test's sync call ``sync_account`` / ``sync_accounts``.

For every folder the source lists: read its changes since the folder's checkpoint, parse each
batch before the write transaction begins (the lock is held for storing only), ingest it, and
store the batch's checkpoint in the same transaction. A crash re-reads the batch and never loses
one; dedupe makes the re-read harmless. The account's own problems (a wrong password, a server
that broke off) end up on the account, shown on its page; ``sync_account`` never raises for
them, so one account never stops the others. A worker asked to stop (crm.workers.stopping)
stops between two committed batches.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.accounts import AccountError
from connector.models import QUEUED, RUNNING, FolderState, MailAccount
from connector.sources import Batch, Folder, MailSource, UnknownKind, open_source
from crm import workers
from crm.blobs import BlobStore
from crm.db import Database
from crm.models import Partner, User, utcnow
from crm.permissions import visible
from crm.text import Text, fold
from mail_archive.filing import RuleFiler
from mail_archive.ingest import Archive, Source
from mail_archive.parse import parse

log = logging.getLogger("dossier.sync")
# What the account's page says when a sync fails after the login (the reason is in the log).
SYNC_BROKE_OFF = Text(
    "the connection to the server broke off during the sync; the next pass retries"
)
SYNC_FAILED = Text("the sync failed on the Dossier server; its log has the reason")


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


def sync_accounts(db: Database, name: str | None = None) -> list[AccountReport]:
    """One pass over every enabled account (or the one named), one after the other."""
    with db.session(write=False) as s:
        query = select(MailAccount.id).where(MailAccount.enabled.is_(True))
        if name:
            query = select(MailAccount.id).where(MailAccount.name == name)
        ids = list(s.scalars(query.order_by(MailAccount.id)))
    return [sync_account(db, account_id) for account_id in ids]


def sync_account(db: Database, account_id: int) -> AccountReport:
    """One pass over one account; its result (the time, an error) is stored on the account."""
    return _Pass(db, account_id).run()


def mark_queued(db: Database, account_id: int) -> None:
    """ "Sync now" asked a worker for a pass: the account's page says it is queued until the
    pass begins (a pass under way stays as it is)."""
    with db.session() as s:
        row = s.get(MailAccount, account_id)
        if row is not None and row.sync_state != RUNNING:
            row.sync_state, row.sync_state_at = QUEUED, utcnow()


class _Pass:
    def __init__(self, db: Database, account_id: int) -> None:
        self.db = db
        self.account_id = account_id
        self.blobs = BlobStore(db.settings.blob_dir)
        self._partners_by_name: dict[str, int] | None = None
        self.read = self.filed = 0  # so far in this pass, for the account's page

    def run(self) -> AccountReport:
        with self.db.session() as s:
            account = s.get(MailAccount, self.account_id)
            if account is None:
                return AccountReport(str(self.account_id), error="no such account")
            account.sync_state, account.sync_state_at = RUNNING, utcnow()
            account.sync_read = account.sync_filed = 0
            s.flush()
            s.expunge(account)
        report = AccountReport(account.name)
        network_errors: tuple[type[BaseException], ...] = ()
        try:
            source = open_source(self.db, account)
            network_errors = source.network_errors
            with source.connect():
                filer = RuleFiler()  # one directory of addresses and domains per pass
                for folder in source.folders():
                    if workers.stopping():  # asked to stop: between two committed steps
                        break
                    report.folders.append(self._folder(source, account, folder, filer))
        except UnknownKind as exc:
            report.error = str(exc)
        except AccountError as exc:  # worded for the user (connector.network)
            report.error = exc.message
        except Exception as exc:
            if isinstance(exc, network_errors):  # after the login: the raw reason, to the log
                log.warning("sync of mail account %s broke off: %s", account.name, exc)
                report.error = SYNC_BROKE_OFF
            else:  # a bug or a database failure: logged, and the others go on
                log.exception("sync of mail account %s failed", account.name)
                report.error = SYNC_FAILED
        with self.db.session() as s:
            row = s.get(MailAccount, self.account_id)
            if row is not None:
                row.last_sync_at = utcnow()
                row.sync_state, row.sync_state_at = "", row.last_sync_at
                row.sync_read, row.sync_filed = self.read, self.filed
                row.set_error(report.error)
                if report.error:
                    row.last_error_at = row.last_sync_at
        return report

    def _folder(
        self, source: MailSource, account: MailAccount, folder: Folder, filer: RuleFiler
    ) -> FolderReport:
        report = FolderReport(folder.name)
        partner_id = self._partner_of(account, folder)
        if folder.partner_name and partner_id is None:
            report.note = f"no partner named {folder.partner_name!r}: its mail waits in triage"
        with self.db.session(write=False) as s:
            state = _state(s, self.account_id, folder.name)
            checkpoint = state.checkpoint if state is not None else ""
        for batch in source.changes(folder, checkpoint):
            # parsed before the write transaction begins: the lock is held for storing only
            mails = [(item.key, item.raw, parse(item.raw)) for item in batch.items]
            with self.db.session() as s:
                archive = Archive(s, self.blobs, filer, extra_own=[account.username])
                for key, raw, parsed in mails:
                    copy = Source(
                        kind=source.archive_kind,
                        key=key,
                        user_id=account.user_id,
                        account_id=account.id,
                        folder=folder.name,
                        explicit=folder.explicit,
                        partner_id=partner_id,
                        how="folder",
                        outgoing=folder.outgoing,
                    )
                    status = archive.ingest(raw, copy, parsed=parsed).status
                    report.count(status)
                    self.read += 1
                    self.filed += status == "archived"
                self._advance(s, folder, batch)
            if workers.stopping():  # the next pass goes on from this batch's checkpoint
                break
        return report

    def _advance(self, session: Session, folder: Folder, batch: Batch) -> None:
        """The folder's checkpoint, in the transaction of the batch it covers (with the
        page's progress: the messages read and filed so far)."""
        if batch.items:
            account = session.get(MailAccount, self.account_id)
            if account is not None:
                account.sync_read, account.sync_filed = self.read, self.filed
                account.sync_state_at = utcnow()
        state = _state(session, self.account_id, folder.name)
        if state is None:
            state = FolderState(account_id=self.account_id, folder=folder.name, messages_seen=0)
            session.add(state)
        state.checkpoint = batch.checkpoint
        state.messages_seen = (state.messages_seen or 0) + max(batch.seen, len(batch.items))

    def _partner_of(self, account: MailAccount, folder: Folder) -> int | None:
        """The partner a ``CRM/<name>`` folder names, compared without accents, case and
        punctuation (mail servers often refuse dots in folder names: "Stavby s r o"), among
        those the account's owner sees."""
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


def _state(session: Session, account_id: int, folder: str) -> FolderState | None:
    return session.scalars(
        select(FolderState).where(
            FolderState.account_id == account_id, FolderState.folder == folder
        )
    ).first()


def _loose(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", fold(name))
