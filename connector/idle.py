"""IMAP IDLE inside ``dossier serve``: new mail wakes its account's sync at once.

For every enabled account whose server offers IDLE (RFC 2177), one watcher thread per folder
(INBOX, where partners' mail arrives, and the filing folder, where salespeople drag mail) keeps a
read-only connection idling on it. When the server announces new mail (``EXISTS``) the watcher
asks the scheduler for a pass over that account; the scheduler still runs passes one account at a
time, so IDLE only changes *when* a pass runs, never what it does. IDLE is re-issued every 25
minutes (servers may drop a client idle for 30). A watcher that loses its connection tries again
after a growing pause (one minute, doubling, at most the sync interval); the periodic pass keeps
running meanwhile and shows the account's errors on its page. A server without IDLE is left to
the periodic pass.

IMAPClient objects stay inside this module and connector.imap.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from imapclient import IMAPClient
from sqlalchemy import select

from connector.accounts import AccountError
from connector.imap import NETWORK_ERRORS, connect
from connector.models import MailAccount
from connector.sources import UnknownKind, load_source
from crm import workers
from crm.db import Database

log = logging.getLogger("dossier.sync.idle")

REISSUE_SECONDS = 25 * 60
CHECK_SECONDS = 5.0  # how often an idling watcher looks whether it should stop
# After a failed connection a watcher tries again in 5 s, then 10, 20, ... up to the sync
# interval: a passing hiccup (the folder not made yet, a busy login process) heals at once,
# while a dead server is not hammered.
FIRST_RETRY_SECONDS = 5.0

# What a watcher is doing, as the account's page shows it.
WATCHING = "watching"
UNSUPPORTED = "unsupported"
RECONNECTING = "reconnecting"
STARTING = "starting"


@dataclass(frozen=True)
class WatchKey:
    account_id: int
    folder: str


class IdleWatcher:
    """Keeps one folder of one account under IDLE until stopped."""

    def __init__(
        self,
        db: Database,
        key: WatchKey,
        on_new_mail: Callable[[int], None],
        *,
        max_retry_seconds: float,
    ) -> None:
        self.db = db
        self.key = key
        self.on_new_mail = on_new_mail
        self.max_retry_seconds = max(FIRST_RETRY_SECONDS, max_retry_seconds)
        self.state = STARTING
        self.last_error = ""
        self._stop = threading.Event()
        self.thread = threading.Thread(
            target=self._run, name=f"imap-idle-{key.account_id}-{key.folder}", daemon=True
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()

    def _run(self) -> None:
        retry = FIRST_RETRY_SECONDS
        while not self._stop.is_set():
            account = self._account()
            if account is None:
                return  # removed meanwhile; the scheduler forgets this watcher
            try:
                with connect(self.db, account) as client:
                    if b"IDLE" not in client.capabilities():
                        self.state = UNSUPPORTED
                        return
                    client.select_folder(self.key.folder, readonly=True)
                    self.state = WATCHING
                    self.last_error = ""
                    retry = FIRST_RETRY_SECONDS
                    self._idle(client)
            except (AccountError, *NETWORK_ERRORS) as exc:
                self.state = RECONNECTING
                self.last_error = str(exc) or type(exc).__name__
                log.info(
                    "IDLE on account %s, %s: %s; again in %.0f s",
                    self.key.account_id,
                    self.key.folder,
                    self.last_error,
                    retry,
                )
            if self._stop.wait(retry):
                return
            retry = min(retry * 2, self.max_retry_seconds)

    def _account(self) -> MailAccount | None:
        with self.db.session(write=False) as s:
            account = s.get(MailAccount, self.key.account_id)
            if account is None or not account.enabled:
                return None
            s.expunge(account)
            return account

    def _idle(self, client: IMAPClient) -> None:
        while not self._stop.is_set():
            client.idle()
            started = time.monotonic()
            new_mail = False
            try:
                while not self._stop.is_set() and time.monotonic() - started < REISSUE_SECONDS:
                    if any(_announces_mail(r) for r in client.idle_check(timeout=CHECK_SECONDS)):
                        new_mail = True
                        break
            finally:
                client.idle_done()
            if new_mail:
                self.on_new_mail(self.key.account_id)


def _announces_mail(response: object) -> bool:
    """``(3, b"EXISTS")``: the folder now holds 3 messages (one arrived, or was moved in)."""
    return isinstance(response, tuple) and len(response) >= 2 and response[1] == b"EXISTS"


def pushes(account: MailAccount) -> bool:
    """Whether the account's kind announces new mail (IDLE); others wait for the passes."""
    try:
        return load_source(account.kind).capabilities.push
    except UnknownKind:
        return False  # a kind no longer installed: the sync pass reports it


def watched_keys(account: MailAccount) -> list[WatchKey]:
    """INBOX (unless the account reads other folders only) and the filing folder."""
    inbox = not account.folders or "INBOX" in account.folders
    folders = ["INBOX"] if inbox else []
    return [WatchKey(account.id, f) for f in [*folders, account.filing_folder]]


class IdleFollower:
    """One IDLE watcher per folder of every enabled account, kept in step with the accounts
    by ``follow``; new mail calls ``on_new_mail(account_id)``."""

    def __init__(
        self, db: Database, on_new_mail: Callable[[int], None], *, max_retry_seconds: float
    ) -> None:
        self.db = db
        self.on_new_mail = on_new_mail
        self.max_retry_seconds = max_retry_seconds
        self.watchers: dict[WatchKey, IdleWatcher] = {}

    def follow(self, stop: threading.Event) -> None:
        """Start the missing watchers (and those whose thread ended), stop those of removed or
        disabled accounts. A folder whose server has no IDLE is left to the periodic pass."""
        with self.db.session(write=False) as s:
            accounts = s.scalars(select(MailAccount).where(MailAccount.enabled.is_(True))).all()
            wanted = {
                key for account in accounts if pushes(account) for key in watched_keys(account)
            }
        for key in list(self.watchers):
            watcher = self.watchers[key]
            if key not in wanted:
                watcher.stop()
                del self.watchers[key]
            elif not watcher.alive and watcher.state != UNSUPPORTED:
                del self.watchers[key]
        for key in sorted(wanted - set(self.watchers), key=lambda k: (k.account_id, k.folder)):
            if stop.is_set():
                return
            watcher = IdleWatcher(
                self.db, key, self.on_new_mail, max_retry_seconds=self.max_retry_seconds
            )
            self.watchers[key] = watcher
            watcher.start()

    def push_state(self, account_id: int) -> dict[str, str]:
        """Folder -> what its watcher is doing."""
        return {
            key.folder: watcher.state
            for key, watcher in list(self.watchers.items())
            if key.account_id == account_id
        }

    def stop_all(self) -> None:
        for watcher in self.watchers.values():
            watcher.stop()
        for watcher in self.watchers.values():
            watcher.join(timeout=10)
        self.watchers.clear()


FOLLOW_SECONDS = 30.0  # how soon a new or removed account is watched or let go


class IdleWorker:
    """Worker "imap-idle" of ``dossier serve``: keeps the watchers in step with the accounts
    (every FOLLOW_SECONDS, or at once when an account is added here) and asks the mail-sync
    worker, in this process or another, for a pass when one announces new mail."""

    def __init__(self, db: Database, on_new_mail: Callable[[int], None], sync_seconds: float):
        self.follower = IdleFollower(db, on_new_mail, max_retry_seconds=sync_seconds)
        self.wake = threading.Event()

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                self.wake.clear()
                self.follower.follow(stop)
                workers.unit_done()
                deadline = time.monotonic() + FOLLOW_SECONDS
                while not stop.is_set() and not self.wake.is_set():
                    if stop.wait(min(1.0, max(0.0, deadline - time.monotonic()))):
                        break
                    if time.monotonic() >= deadline:
                        break
        finally:
            self.follower.stop_all()
