"""Admin **System** page and the facts /healthz shows (issue 9 §2): each worker's state, last
run and last error (every process of the team, from ``worker_status``), each outbox reader's
lag, each mail account's last sync, and the disk used by blobs and the index.

/healthz is unauthenticated, so ``health`` leaves out what names anyone or anything (account
names, hosts, error texts): those are for the admin page only.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.models import MailAccount
from crm.models import utcnow
from crm.settings import Settings
from crm.workers import WorkerView, worker_states
from web import db
from web.security import admin_required

bp = Blueprint("system", __name__, url_prefix="/admin")

DISK_CACHE_SECONDS = 60.0  # /healthz may be polled often: the walk runs at most once a minute


@dataclass(frozen=True)
class Usage:
    files: int
    bytes: int


_disk_cache: dict[Path, tuple[float, Usage]] = {}
_disk_lock = threading.Lock()


def disk_usage(root: Path) -> Usage:
    """Files and bytes under ``root`` (os.scandir, no symlinks followed), cached a minute."""
    now = time.monotonic()
    with _disk_lock:
        cached = _disk_cache.get(root)
        if cached is not None and now - cached[0] < DISK_CACHE_SECONDS:
            return cached[1]
    files = total = 0
    stack = [str(root)]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        files += 1
                        total += entry.stat(follow_symlinks=False).st_size
        except FileNotFoundError:
            continue
    usage = Usage(files, total)
    with _disk_lock:
        _disk_cache[root] = (now, usage)
    return usage


@dataclass(frozen=True)
class ReaderLagView:
    name: str
    unread: int
    oldest_age: dt.timedelta | None


def reader_lags(session: Session) -> list[ReaderLagView]:
    """Each outbox reader's lag (crm.outbox.lag)."""
    try:
        from crm import outbox
    except ImportError:  # crm.outbox arrives with the outbox readers (issue 9 §1)
        return []
    return [ReaderLagView(lag.name, int(lag.unread), _age(lag)) for lag in outbox.lag(session)]


def _age(lag: Any) -> dt.timedelta | None:
    """The age of the reader's oldest unread entry, whichever way crm.outbox words it."""
    for attribute in ("oldest_age", "age", "oldest_unread_age"):
        value = getattr(lag, attribute, None)
        if isinstance(value, dt.timedelta):
            return value
        if isinstance(value, int | float):
            return dt.timedelta(seconds=value)
    oldest = getattr(lag, "oldest_unread_at", None) or getattr(lag, "oldest_at", None)
    if isinstance(oldest, dt.datetime):
        return utcnow() - oldest
    return None


@dataclass(frozen=True)
class AccountSync:
    id: int
    name: str
    enabled: bool
    last_sync_at: dt.datetime | None
    last_error: str
    last_error_at: dt.datetime | None


def account_syncs(session: Session) -> list[AccountSync]:
    rows = session.scalars(select(MailAccount).order_by(MailAccount.name))
    return [
        AccountSync(a.id, a.name, a.enabled, a.last_sync_at, a.error(), a.last_error_at)
        for a in rows
    ]


@dataclass(frozen=True)
class SystemReport:
    workers: list[WorkerView]
    readers: list[ReaderLagView]
    accounts: list[AccountSync]
    blobs: Usage
    index: Usage


def system_report(session: Session, settings: Settings) -> SystemReport:
    return SystemReport(
        workers=worker_states(session),
        readers=reader_lags(session),
        accounts=account_syncs(session),
        blobs=disk_usage(settings.blob_dir),
        index=disk_usage(settings.index_dir),
    )


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def health(session: Session, settings: Settings) -> dict[str, Any]:
    """What /healthz answers: no names, hosts or error texts (it needs no login)."""
    report = system_report(session, settings)
    return {
        "status": "ok",
        "workers": [
            {
                "name": w.name,
                "state": w.state if w.responding else "not responding",
                "last_run_at": _iso(w.last_run_at),
                "last_error_at": _iso(w.last_error_at),
            }
            for w in report.workers
        ],
        "outbox": [
            {
                "reader": r.name,
                "unread": r.unread,
                "oldest_unread_seconds": r.oldest_age.total_seconds() if r.oldest_age else None,
            }
            for r in report.readers
        ],
        "mail_accounts": [
            {"id": a.id, "last_sync_at": _iso(a.last_sync_at), "ok": not a.last_error}
            for a in report.accounts
            if a.enabled
        ],
        "disk": {
            "blobs": {"files": report.blobs.files, "bytes": report.blobs.bytes},
            "index": {"files": report.index.files, "bytes": report.index.bytes},
        },
    }


@bp.get("/system")
@admin_required
def system() -> ResponseReturnValue:
    settings: Settings = db.database().settings
    return render_template(
        "admin/system.html", report=system_report(db.session(), settings), now=utcnow()
    )
