"""Background mail sync inside ``dossier serve``: every N minutes (DOSSIER_SYNC_MINUTES,
default 5) one pass over the enabled accounts, one account at a time; "Sync now" on an account's
page wakes it at once. An account's failure is stored on the account (shown on its page) and
never stops the others. ``app`` is anything with an ``extensions`` dict (the Flask app)."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from crm.db import Database

log = logging.getLogger("dossier.sync")
EXTENSION = "dossier.mail_scheduler"


class MailScheduler:
    def __init__(self, db: Database, minutes: float) -> None:
        self.db = db
        self.seconds = max(10.0, minutes * 60)
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.wanted: set[int] = set()
        self._lock = threading.Lock()  # "Sync now" adds from request threads
        self.thread = threading.Thread(target=self._loop, name="mail-sync", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        self.thread.join(timeout=30)

    def request(self, account_id: int) -> None:
        with self._lock:
            self.wanted.add(account_id)
        self.wake.set()

    def _loop(self) -> None:
        from connector.imap import ImapSync, sync_accounts

        while not self.stopping.is_set():
            self.wake.clear()  # a request made during the pass below wakes the next at once
            try:
                with self._lock:
                    ids, self.wanted = self.wanted, set()
                if ids:
                    for account_id in sorted(ids):
                        ImapSync(self.db, account_id).run()
                else:
                    for report in sync_accounts(self.db):
                        if report.error:
                            log.warning("mail account %s: %s", report.account, report.error)
            except Exception:
                log.exception("mail sync pass failed")
            self.wake.wait(self.seconds)


def start_scheduler(app: Any, db: Database) -> MailScheduler | None:
    minutes = float(os.environ.get("DOSSIER_SYNC_MINUTES", "5") or 0)
    if minutes <= 0:
        return None
    scheduler = MailScheduler(db, minutes)
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
