"""The ``housekeeping`` worker of ``dossier serve``: at start and then every hour it removes
what has been in the trash longer than 30 days (crm.trash) and refreshes the query planner's
statistics (``Database.refresh_statistics``)."""

from __future__ import annotations

import logging
import threading

from crm import trash
from crm.db import Database
from crm.settings import Settings

log = logging.getLogger("dossier.housekeeping")

HOUSEKEEPING_SECONDS = 3600.0


def tidy(db: Database) -> int:
    """One round: the trash's overdue records out, fresh statistics; returns how many records
    left the trash."""
    with db.session() as s:
        gone = trash.purge(s)
    if gone:
        log.info("removed %d records from the trash for good", gone)
    db.refresh_statistics()
    return gone


class Housekeeping:
    def __init__(self, db: Database, seconds: float = HOUSEKEEPING_SECONDS) -> None:
        self.db = db
        self.seconds = seconds

    def run(self, stop: threading.Event) -> None:
        from crm.workers import unit_done

        while not stop.is_set():
            tidy(self.db)
            unit_done()
            stop.wait(self.seconds)


def housekeeping_worker(db: Database, settings: Settings) -> Housekeeping:
    """Entry point ``dossier.workers`` "housekeeping"."""
    return Housekeeping(db)
