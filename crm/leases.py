"""Leases: one process of the team works on a thing at a time (issue 9 §2).

Two ``dossier serve`` processes on one database must not both sync the same mail account at
once. ``lease(db, key)`` takes the thing named ``key`` without waiting, or says it is taken:
on PostgreSQL a session advisory lock (``pg_try_advisory_lock``) held on its own connection for
the work (the server frees it when the process dies); on SQLite, whose processes share one
machine, a non-blocking ``flock`` on a file per key under ``<home>/locks`` (the kernel frees it).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from crm.db import Database

log = logging.getLogger("dossier.leases")


def lock_number(key: str) -> int:
    """A stable signed 64-bit number for the key (PostgreSQL's advisory lock space)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def lease(db: Database, key: str) -> Iterator[bool]:
    """``with lease(db, "mail-account:7") as held:`` — work only ``if held``."""
    if db.settings.is_sqlite:
        with _file_lease(db, key) as held:
            yield held
        return
    number = lock_number(key)
    with db.engine.connect() as conn:
        held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:n)"), {"n": number}).scalar())
        conn.commit()  # the lock is the session's: no transaction stays open for the work
        try:
            yield held
        finally:
            if held:
                conn.execute(text("SELECT pg_advisory_unlock(:n)"), {"n": number})
                conn.commit()


@contextmanager
def _file_lease(db: Database, key: str) -> Iterator[bool]:
    folder = db.settings.home / "locks"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / (re.sub(r"[^A-Za-z0-9_.-]", "_", key) + ".lock")
    with open(path, "a") as file:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(file.fileno(), fcntl.LOCK_UN)
