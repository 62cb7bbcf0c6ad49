"""Background mail sync: the workers "mail-sync" and "imap-idle" of ``dossier serve`` and
``dossier worker`` (crm.workers).

Every N minutes (option ``sync_minutes``, default 5; 0 turns it off) one pass over the enabled
accounts, one account at a time; "Sync now" on an account's page, and new mail announced by
IMAP IDLE (connector.idle; option ``imap_idle``), wake it at once for that account. The wake-up
reaches a mail-sync worker in another process too (a ``worker_requests`` row it polls every
POLL_SECONDS); in this process it is instant. Each account is synced under a lease
(crm.leases), so two servers on one database never sync it at once: the one that finds it taken
leaves it. An account's failure is stored on the account (shown on its page) and never stops
the others. A stop is honoured between two committed steps of a sync (crm.workers.stopping).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sqlalchemy import exists, select

from connector.idle import IdleFollower, IdleWorker
from connector.models import QUEUED, MailAccount
from connector.sync import mark_queued, sync_account
from crm import workers
from crm.db import Database
from crm.leases import lease
from crm.models import WorkerRequest
from crm.settings import Settings

log = logging.getLogger("dossier.sync")
EXTENSION = "dossier.mail_scheduler"
WORKER = "mail-sync"
IDLE_WORKER = "imap-idle"
POLL_SECONDS = 2.0  # how soon a "Sync now" made in another process is seen

# The mail-sync and imap-idle workers running in this process, by database URL: the web views
# of the same process find them here (``dossier serve`` starts them through the supervisor).
_schedulers: dict[str, MailScheduler] = {}
_idle_workers: dict[str, IdleWorker] = {}


def lease_key(account_id: int) -> str:
    return f"mail-account:{account_id}"


class MailScheduler:
    """The mail-sync worker. ``run(stop)`` is the worker; ``start``/``stop`` run it on a
    thread of its own (with IDLE watchers, when ``idle``) outside a supervisor."""

    def __init__(self, db: Database, minutes: float, *, idle: bool = True) -> None:
        self.db = db
        self.seconds = max(10.0, minutes * 60)
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.wanted: set[int] = set()
        self._lock = threading.Lock()  # "Sync now" and IDLE watchers add from other threads
        self.follower = (
            IdleFollower(db, self.request, max_retry_seconds=self.seconds) if idle else None
        )
        self.thread = threading.Thread(
            target=self.run, args=(self.stopping,), name=WORKER, daemon=True
        )

    @property
    def watchers(self) -> dict[Any, Any]:
        return self.follower.watchers if self.follower else {}

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        self.thread.join(timeout=30)  # no watcher is started or forgotten after this
        if self.follower is not None:
            self.follower.stop_all()

    def request(self, account_id: int) -> None:
        with self._lock:
            self.wanted.add(account_id)
        self.wake.set()

    def push_state(self, account_id: int) -> dict[str, str]:
        """Folder -> what its IDLE watcher is doing (connector.idle's states)."""
        if self.follower is not None:
            return self.follower.push_state(account_id)
        idle = _idle_workers.get(self.db.settings.db_url)
        return idle.follower.push_state(account_id) if idle else {}

    def run(self, stop: threading.Event) -> None:
        """A pass over every account whenever one is due (every ``seconds``), however busy
        the requested accounts keep it; requested accounts at once in between."""
        url = self.db.settings.db_url
        _schedulers[url] = self
        try:
            with workers.stop_on(stop):
                self._loop(stop)
        finally:
            if _schedulers.get(url) is self:
                del _schedulers[url]

    def _loop(self, stop: threading.Event) -> None:
        next_full = time.monotonic()
        while not stop.is_set():
            self.wake.clear()  # a request made during the pass below wakes the next at once
            try:
                self._take_requests()
                with self._lock:
                    ids, self.wanted = self.wanted, set()
                if time.monotonic() >= next_full:
                    next_full = time.monotonic() + self.seconds
                    ids = set(self._enabled_accounts())
                for account_id in sorted(ids):
                    if stop.is_set():
                        break
                    self.sync(account_id)
                if self.follower is not None and not stop.is_set():
                    self.follower.follow(stop)
            except Exception as exc:
                log.exception("mail sync pass failed")
                workers.unit_failed(f"{type(exc).__name__}: {exc}")
            while not stop.is_set() and not self.wake.is_set():
                left = next_full - time.monotonic()
                if left <= 0 or self.wake.wait(min(POLL_SECONDS, left)):
                    break
                if self._requested_elsewhere():
                    break

    def _enabled_accounts(self) -> list[int]:
        with self.db.session(write=False) as s:
            query = select(MailAccount.id).where(MailAccount.enabled.is_(True))
            return list(s.scalars(query.order_by(MailAccount.id)))

    def _requested_elsewhere(self) -> bool:
        with self.db.session(write=False) as s:
            return bool(s.scalar(select(exists().where(WorkerRequest.worker == WORKER))))

    def _take_requests(self) -> None:
        if not self._requested_elsewhere():
            return
        keys = workers.take_requests(self.db, WORKER)
        with self._lock:
            self.wanted.update(int(key) for key in keys if key.isdigit())

    def sync(self, account_id: int) -> None:
        """One pass over one account, if no other process syncs it now."""
        with lease(self.db, lease_key(account_id)) as held:
            if not held:
                log.info("mail account %s: synced by another process now; left to it", account_id)
                return
            log.info("mail account %s: sync begins", account_id)
            try:
                report = sync_account(self.db, account_id)
            finally:
                log.info("mail account %s: sync ends", account_id)
        if report.error:
            log.warning("mail account %s: %s", report.account, report.error)
            workers.unit_failed(f"{report.account}: {report.error}")
        workers.unit_done()


def mail_sync_worker(db: Database, settings: Settings) -> MailScheduler | None:
    """Entry point ``dossier.workers`` "mail-sync"; off when sync_minutes is 0."""
    minutes = float(settings.option("sync_minutes"))  # type: ignore[arg-type]
    if minutes <= 0:
        return None
    return MailScheduler(db, minutes, idle=False)


def imap_idle_worker(db: Database, settings: Settings) -> IdleWorker | None:
    """Entry point ``dossier.workers`` "imap-idle"; off with imap_idle off or no periodic sync."""
    minutes = float(settings.option("sync_minutes"))  # type: ignore[arg-type]
    if minutes <= 0 or not settings.option("imap_idle"):
        return None
    return _IdleWorker(db, max(10.0, minutes * 60))


class _IdleWorker(IdleWorker):
    """IdleWorker registered for this process's pages, waking the mail-sync worker."""

    def __init__(self, db: Database, seconds: float) -> None:
        super().__init__(db, self._new_mail, seconds)
        self.db = db

    def _new_mail(self, account_id: int) -> None:
        wake_sync(self.db, account_id)

    def run(self, stop: threading.Event) -> None:
        url = self.db.settings.db_url
        _idle_workers[url] = self
        try:
            super().run(stop)
        finally:
            if _idle_workers.get(url) is self:
                del _idle_workers[url]


def wake_sync(db: Database, account_id: int) -> bool:
    """Ask for a pass over the account: at once from this process's mail-sync worker, else
    through a request row that one in another process takes; False when none runs anywhere."""
    url = db.settings.db_url
    idle = _idle_workers.get(url)
    if idle is not None:
        idle.wake.set()  # a new account is watched at once
    local = _schedulers.get(url)
    if local is not None:
        local.request(account_id)
        return True
    with db.session(write=False) as s:
        if not workers.worker_running(s, WORKER):
            return False
    with db.session() as s:
        workers.request_work(s, WORKER, str(account_id))
    return True


def start_scheduler(app: Any, db: Database) -> MailScheduler | None:
    """A scheduler with its IDLE watchers on a thread of its own, outside a supervisor."""
    minutes = float(db.settings.option("sync_minutes"))  # type: ignore[arg-type]
    if minutes <= 0:
        return None
    scheduler = MailScheduler(db, minutes, idle=bool(db.settings.option("imap_idle")))
    app.extensions[EXTENSION] = scheduler
    scheduler.start()
    return scheduler


def _scheduler_of(app: Any) -> MailScheduler | None:
    found: MailScheduler | None = app.extensions.get(EXTENSION)
    if found is None and "dossier.db" in app.extensions:
        found = _schedulers.get(app.extensions["dossier.db"].settings.db_url)
    return found


def request_sync(app: Any, account_id: int) -> bool:
    """Wake the background sync for the account; False when no mail-sync worker runs in this
    process nor (by its heartbeat) in another."""
    scheduler = _scheduler_of(app)
    if scheduler is not None:
        scheduler.request(account_id)
        return True
    if "dossier.db" not in app.extensions:
        return False
    return wake_sync(app.extensions["dossier.db"], account_id)


def sync_now(app: Any, db: Database, account_id: int) -> bool:
    """ "Sync now": the account is queued on its page, then the background sync is woken for
    it; False (and nothing queued) when no mail-sync worker runs anywhere."""
    mark_queued(db, account_id)  # before the wake-up: a pass that begins at once overwrites it
    if request_sync(app, account_id):
        return True
    with db.session() as s:
        row = s.get(MailAccount, account_id)
        if row is not None and row.sync_state == QUEUED:
            row.sync_state = ""
    return False


def delivery(app: Any, account_id: int) -> tuple[float, dict[str, str]] | None:
    """For the account's page: minutes between passes and folder -> IDLE state; None when no
    background sync runs in this process."""
    scheduler = _scheduler_of(app)
    if scheduler is None:
        return None
    return scheduler.seconds / 60, scheduler.push_state(account_id)
