"""Background mail sync inside ``dossier serve``: every N minutes (DOSSIER_SYNC_MINUTES,
default 5) one pass over the enabled accounts, one account at a time; "Sync now" on an account's
page, and new mail announced by IMAP IDLE (connector.idle; DOSSIER_IMAP_IDLE=0 turns it off),
wake it at once for that account. An account's failure is stored on the account (shown on its
page) and never stops the others. ``app`` is anything with an ``extensions`` dict (the Flask
app)."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from sqlalchemy import select

from connector.idle import UNSUPPORTED, IdleWatcher, WatchKey, watched_keys
from connector.imap import ImapSync, sync_accounts
from connector.models import MailAccount
from crm.db import Database

log = logging.getLogger("dossier.sync")
EXTENSION = "dossier.mail_scheduler"


class MailScheduler:
    def __init__(self, db: Database, minutes: float, *, idle: bool = True) -> None:
        self.db = db
        self.seconds = max(10.0, minutes * 60)
        self.idle = idle
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.wanted: set[int] = set()
        self.watchers: dict[WatchKey, IdleWatcher] = {}
        self._lock = threading.Lock()  # "Sync now" and IDLE watchers add from other threads
        self.thread = threading.Thread(target=self._loop, name="mail-sync", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        self.thread.join(timeout=30)  # no watcher is started or forgotten after this
        for watcher in self.watchers.values():
            watcher.stop()
        for watcher in self.watchers.values():
            watcher.join(timeout=10)

    def request(self, account_id: int) -> None:
        with self._lock:
            self.wanted.add(account_id)
        self.wake.set()

    def push_state(self, account_id: int) -> dict[str, str]:
        """Folder -> what its IDLE watcher is doing (connector.idle's states)."""
        return {
            key.folder: watcher.state
            for key, watcher in list(self.watchers.items())
            if key.account_id == account_id
        }

    def _loop(self) -> None:
        """A pass over every account whenever one is due (every ``seconds``), however busy
        the requested accounts keep it; requested accounts at once in between."""
        next_full = time.monotonic()
        while not self.stopping.is_set():
            self.wake.clear()  # a request made during the pass below wakes the next at once
            try:
                with self._lock:
                    ids, self.wanted = self.wanted, set()
                if time.monotonic() >= next_full:
                    next_full = time.monotonic() + self.seconds
                    for report in sync_accounts(self.db):
                        if report.error:
                            log.warning("mail account %s: %s", report.account, report.error)
                else:
                    for account_id in sorted(ids):
                        ImapSync(self.db, account_id).run()
                if self.idle:
                    self._follow_accounts()
            except Exception:
                log.exception("mail sync pass failed")
            self.wake.wait(max(0.0, next_full - time.monotonic()))

    def _follow_accounts(self) -> None:
        """One IDLE watcher per folder of every enabled account: start the missing ones (and
        those whose thread ended), stop those of removed or disabled accounts. A folder whose
        server has no IDLE is left to the periodic pass."""
        with self.db.session(write=False) as s:
            accounts = s.scalars(select(MailAccount).where(MailAccount.enabled.is_(True))).all()
            wanted = {key for account in accounts for key in watched_keys(account)}
        for key in list(self.watchers):
            watcher = self.watchers[key]
            if key not in wanted:
                watcher.stop()
                del self.watchers[key]
            elif not watcher.alive and watcher.state != UNSUPPORTED:
                del self.watchers[key]
        for key in sorted(wanted - set(self.watchers), key=lambda k: (k.account_id, k.folder)):
            if self.stopping.is_set():
                return
            watcher = IdleWatcher(self.db, key, self.request, max_retry_seconds=self.seconds)
            self.watchers[key] = watcher
            watcher.start()


def start_scheduler(app: Any, db: Database) -> MailScheduler | None:
    minutes = float(os.environ.get("DOSSIER_SYNC_MINUTES", "5") or 0)
    if minutes <= 0:
        return None
    idle = os.environ.get("DOSSIER_IMAP_IDLE", "1") not in ("0", "no", "false", "off")
    scheduler = MailScheduler(db, minutes, idle=idle)
    app.extensions[EXTENSION] = scheduler
    scheduler.start()
    return scheduler


def request_sync(app: Any, account_id: int) -> bool:
    """Wake the background sync for the account; False when no scheduler runs here."""
    scheduler: MailScheduler | None = app.extensions.get(EXTENSION)
    if scheduler is None:
        return False
    scheduler.request(account_id)
    return True


def delivery(app: Any, account_id: int) -> tuple[float, dict[str, str]] | None:
    """For the account's page: minutes between passes and folder -> IDLE state; None when no
    background sync runs in this process."""
    scheduler: MailScheduler | None = app.extensions.get(EXTENSION)
    if scheduler is None:
        return None
    return scheduler.seconds / 60, scheduler.push_state(account_id)
