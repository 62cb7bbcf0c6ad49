"""Workers and mounts: the parts ``dossier serve`` runs besides the web UI (issue 9 §2).

A **worker** is a named background loop (the mail sync, IMAP IDLE, the outbox pruner; later the
indexer and the calendar publisher). Its ``run(stop)`` does units of work until ``stop`` is set
and then returns between two units, so a stop never leaves one half-done; a unit that fails
without ending the loop is reported with ``unit_failed``, a finished one with ``unit_done``.
A **mount** is a WSGI app served under a path prefix beside Flask (/dav, /webdav later).

Packages register factories ``(db, settings) -> Worker | None`` (None: turned off by the
settings) and ``(db, settings) -> (prefix, wsgi_app) | None`` through the entry point groups
``dossier.workers`` and ``dossier.mounts``, so crm imports none of them; ``register_worker``
and ``register_mount`` add more in-process (tests supply their own).

The ``Supervisor`` runs each worker in a thread, restarts one that crashed after a back-off
(1 s doubling to 5 min) and records its state, last run and last error in memory and in the
table ``worker_status`` (the System page shows every process of the team).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib.metadata import entry_points
from typing import Any, Protocol

from sqlalchemy import delete, select

from crm.db import Database
from crm.models import WorkerRequest, WorkerStatus, utcnow
from crm.settings import Settings
from crm.text import N_

log = logging.getLogger("dossier.workers")

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 300.0
HEARTBEAT_SECONDS = 10.0
STALE_SECONDS = 60.0  # a heartbeat older than this: the process is gone or hangs
FORGET_SECONDS = 24 * 3600.0  # a process silent this long is gone for good
STEADY_SECONDS = 60.0  # a worker that ran this long before crashing starts its back-off anew

# A worker's states, as the System page shows them (translated there).
STARTING = N_("starting")
RUNNING = N_("running")
BACKING_OFF = N_("backing off")  # crashed; restarts after the back-off
STOPPING = N_("stopping")
STOPPED = N_("stopped")


class Worker(Protocol):
    """A background loop. ``run`` returns soon after ``stop`` is set, between units of work."""

    def run(self, stop: threading.Event) -> None: ...


WSGIApp = Callable[..., Any]
WorkerFactory = Callable[[Database, Settings], Worker | None]
MountFactory = Callable[[Database, Settings], tuple[str, WSGIApp] | None]

_workers: dict[str, WorkerFactory] = {}
_mounts: dict[str, MountFactory] = {}


def register_worker(name: str, factory: WorkerFactory) -> None:
    """Add (or replace) a worker in this process, besides the entry points."""
    _workers[name] = factory


def unregister_worker(name: str) -> None:
    _workers.pop(name, None)


def register_mount(name: str, factory: MountFactory) -> None:
    _mounts[name] = factory


def unregister_mount(name: str) -> None:
    _mounts.pop(name, None)


def worker_factories() -> dict[str, WorkerFactory]:
    """Every worker by name: the entry points ``dossier.workers``, then those registered here."""
    found: dict[str, WorkerFactory] = {
        ep.name: ep.load() for ep in entry_points(group="dossier.workers")
    }
    return {**found, **_workers}


def mounts(db: Database, settings: Settings) -> list[tuple[str, WSGIApp]]:
    """(prefix, WSGI app) of every mount the settings turn on."""
    factories: dict[str, MountFactory] = {
        ep.name: ep.load() for ep in entry_points(group="dossier.mounts")
    }
    made = (factory(db, settings) for factory in {**factories, **_mounts}.values())
    return [mount for mount in made if mount is not None]


class UnknownWorker(LookupError):
    """No worker of that name, or the settings turn it off."""

    def __init__(self, name: str, known: list[str], *, off: bool = False) -> None:
        if off:
            super().__init__(f"worker {name!r} is turned off by the settings")
        else:
            super().__init__(f"no worker named {name!r}; the workers are: {', '.join(known)}")


# --- what the worker on this thread reports (its thread is the supervisor's) ---

_current = threading.local()


def stopping() -> bool:
    """Whether the worker running on this thread is asked to stop: a long unit of work (a
    mail account's first sync) checks it between its own committed steps. False outside."""
    stop: threading.Event | None = getattr(_current, "stop", None)
    return stop is not None and stop.is_set()


def unit_done() -> None:
    """The worker on this thread finished a unit of work (its "last run")."""
    record: WorkerRecord | None = getattr(_current, "record", None)
    if record is not None:
        record.last_run_at = utcnow()
        record.dirty = True


def unit_failed(message: str) -> None:
    """A unit failed and the worker goes on (a mail account's error): its "last error"."""
    record: WorkerRecord | None = getattr(_current, "record", None)
    if record is not None:
        record.last_error = message
        record.last_error_at = utcnow()
        record.dirty = True


@contextmanager
def stop_on(stop: threading.Event) -> Iterator[None]:
    """``stopping()`` follows ``stop`` on this thread, for a loop run outside a supervisor."""
    if getattr(_current, "stop", None) is not None:
        yield
        return
    _current.stop = stop
    try:
        yield
    finally:
        _current.stop = None


@dataclass
class WorkerRecord:
    name: str
    state: str = STARTING
    started_at: datetime = field(default_factory=utcnow)
    last_run_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    restarts: int = 0
    dirty: bool = True


@contextmanager
def _on_thread(record: WorkerRecord, stop: threading.Event) -> Iterator[None]:
    _current.record, _current.stop = record, stop
    try:
        yield
    finally:
        _current.record = _current.stop = None


class Supervisor:
    """Runs workers in threads until ``stop``; see the module's docstring."""

    def __init__(
        self,
        db: Database,
        factories: dict[str, WorkerFactory] | None = None,
        *,
        first_backoff: float = FIRST_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.db = db
        self.factories = worker_factories() if factories is None else factories
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.heartbeat_seconds = heartbeat_seconds
        self.host = socket.gethostname()[:255]
        self.pid = os.getpid()
        self.records: dict[str, WorkerRecord] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()  # the records are written by their threads

    def start(self) -> list[str]:
        """Start every worker the settings turn on; their names."""
        for name, factory in sorted(self.factories.items()):
            worker = factory(self.db, self.db.settings)
            if worker is None:
                log.info("worker %s is turned off by the settings", name)
                continue
            record = WorkerRecord(name)
            self.records[name] = record
            thread = threading.Thread(
                target=self._supervise, args=(worker, record), name=f"worker-{name}", daemon=True
            )
            self._threads.append(thread)
        self._forget_dead_processes()
        self._save()
        for thread in self._threads:
            thread.start()
        beat = threading.Thread(target=self._heartbeat, name="worker-heartbeat", daemon=True)
        beat.start()
        self._threads.append(beat)
        return list(self.records)

    def stop(self, timeout: float = 20.0) -> bool:
        """Ask every worker to stop and wait for them (at most ``timeout`` in all); True when
        all stopped. The process's rows leave ``worker_status``."""
        self._stop.set()
        for record in self.records.values():
            if record.state != STOPPED:
                record.state, record.dirty = STOPPING, True
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stopped = not any(thread.is_alive() for thread in self._threads)
        try:
            with self.db.session() as s:
                s.execute(
                    delete(WorkerStatus).where(
                        WorkerStatus.host == self.host, WorkerStatus.pid == self.pid
                    )
                )
        except Exception:  # the database is gone: the rows age into "not responding"
            log.exception("could not remove this process's worker rows")
        return stopped

    def _forget_dead_processes(self) -> None:
        """Rows whose process has been silent for a day leave the System page."""
        cutoff = utcnow() - timedelta(seconds=FORGET_SECONDS)
        try:
            with self.db.session() as s:
                s.execute(delete(WorkerStatus).where(WorkerStatus.heartbeat_at < cutoff))
        except Exception:
            log.exception("could not remove the rows of dead processes")

    def wait(self) -> None:
        """Block until ``stop`` is called from another thread (or a signal handler)."""
        while not self._stop.wait(1.0):
            pass

    def _supervise(self, worker: Worker, record: WorkerRecord) -> None:
        backoff = self.first_backoff
        while not self._stop.is_set():
            began = time.monotonic()
            record.state, record.dirty = RUNNING, True
            try:
                with _on_thread(record, self._stop):
                    worker.run(self._stop)
                if self._stop.is_set():
                    break
                raise RuntimeError("the worker ended by itself")
            except Exception as exc:
                log.exception("worker %s crashed; restarting in %.0f s", record.name, backoff)
                if time.monotonic() - began >= STEADY_SECONDS:
                    backoff = self.first_backoff
                record.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                record.last_error_at = utcnow()
                record.state, record.restarts, record.dirty = BACKING_OFF, record.restarts + 1, True
                self._save()
                if self._stop.wait(backoff):
                    break
                backoff = min(backoff * 2, self.max_backoff)
        record.state, record.dirty = STOPPED, True

    def _heartbeat(self) -> None:
        while not self._stop.wait(min(self.heartbeat_seconds, 1.0)):
            self._save(beat=time.monotonic())

    _last_beat = 0.0

    def _save(self, beat: float | None = None) -> None:
        """Write changed records (and every record once per heartbeat) to worker_status."""
        due = beat is not None and beat - self._last_beat >= self.heartbeat_seconds
        with self._lock:
            changed = [r for r in self.records.values() if r.dirty or due]
            if not changed:
                return
            for record in changed:
                record.dirty = False
            if due and beat is not None:
                self._last_beat = beat
        try:
            with self.db.session() as s:
                rows = {
                    row.name: row
                    for row in s.scalars(
                        select(WorkerStatus).where(
                            WorkerStatus.host == self.host, WorkerStatus.pid == self.pid
                        )
                    )
                }
                now = utcnow()
                for record in changed:
                    row = rows.get(record.name)
                    if row is None:
                        row = WorkerStatus(name=record.name, host=self.host, pid=self.pid)
                        s.add(row)
                    row.state = record.state
                    row.started_at = record.started_at
                    row.last_run_at = record.last_run_at
                    row.last_error = record.last_error
                    row.last_error_at = record.last_error_at
                    row.heartbeat_at = now
        except Exception:  # the System page misses a beat; the workers go on
            log.exception("could not record the workers' state")
            for record in changed:
                record.dirty = True


def run_alone(db: Database, name: str, stop: threading.Event | None = None) -> Supervisor:
    """``dossier worker NAME``: a supervisor of that one worker (UnknownWorker for a name no
    package registers); the caller waits and stops it."""
    factories = worker_factories()
    if name not in factories:
        raise UnknownWorker(name, sorted(factories))
    worker = factories[name](db, db.settings)
    if worker is None:
        raise UnknownWorker(name, sorted(factories), off=True)
    return Supervisor(db, {name: lambda _db, _settings: worker})


@dataclass(frozen=True)
class WorkerView:
    """A row of worker_status as the System page and /healthz show it."""

    name: str
    host: str
    pid: int
    state: str
    started_at: datetime
    last_run_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    heartbeat_at: datetime
    responding: bool


def worker_states(db_session: Any) -> list[WorkerView]:
    """Every process's workers, those of dead processes marked as not responding."""
    now = utcnow()
    rows = db_session.scalars(
        select(WorkerStatus).order_by(WorkerStatus.name, WorkerStatus.host, WorkerStatus.pid)
    )
    return [
        WorkerView(
            name=row.name,
            host=row.host,
            pid=row.pid,
            state=row.state,
            started_at=row.started_at,
            last_run_at=row.last_run_at,
            last_error=row.last_error,
            last_error_at=row.last_error_at,
            heartbeat_at=row.heartbeat_at,
            responding=(now - row.heartbeat_at).total_seconds() < STALE_SECONDS,
        )
        for row in rows
    ]


def worker_running(db_session: Any, name: str) -> bool:
    """Whether some process runs worker ``name`` now (a fresh heartbeat)."""
    return any(
        v.name == name and v.responding and v.state != STOPPED for v in worker_states(db_session)
    )


def request_work(db_session: Any, worker: str, key: str) -> None:
    """Ask worker ``worker`` for work on ``key``, wherever it runs (it polls ``take_requests``)."""
    db_session.add(WorkerRequest(worker=worker, key=key))


def take_requests(db: Database, worker: str) -> list[str]:
    """The keys asked of ``worker`` since the last call, each handed to one process only."""
    with db.session() as s:
        taken = s.execute(
            delete(WorkerRequest).where(WorkerRequest.worker == worker).returning(WorkerRequest.key)
        )
        return sorted(set(taken.scalars()))


PRUNE_SECONDS = 60.0


class OutboxPruner:
    """Worker "outbox": every minute, delete the outbox entries every reader has passed."""

    def __init__(self, db: Database, seconds: float = PRUNE_SECONDS) -> None:
        self.db = db
        self.seconds = seconds

    def run(self, stop: threading.Event) -> None:
        from crm import outbox

        while not stop.is_set():
            with self.db.session() as s:
                outbox.prune(s)
            unit_done()
            stop.wait(self.seconds)


def outbox_worker(db: Database, settings: Settings) -> OutboxPruner | None:
    """Entry point ``dossier.workers`` "outbox" (none while crm.outbox is not installed)."""
    from importlib.util import find_spec

    return OutboxPruner(db) if find_spec("crm.outbox") is not None else None


class Terminated(BaseException):
    """SIGTERM arrived: unwinds the foreground like Ctrl+C does."""


def _terminated(signum: int, frame: object) -> None:
    raise Terminated()


def run_in_foreground(supervisor: Supervisor, block: Callable[[], None] | None = None) -> None:
    """Start the supervisor, then ``block`` (the web server; by default wait) until Ctrl+C or
    SIGTERM, and stop every worker cleanly (a second signal meanwhile is ignored)."""
    import signal

    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        names = supervisor.start()
        log.info("workers running: %s", ", ".join(names) or "none")
        (block or supervisor.wait)()
    except (KeyboardInterrupt, Terminated):
        log.info("stopping the workers")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            if not supervisor.stop():
                log.warning("a worker did not stop in time; its unfinished step is rolled back")
        finally:
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, signal.default_int_handler)
