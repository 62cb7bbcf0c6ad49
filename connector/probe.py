"""Testing a mail account's connection in the background, so no page waits on a mail server.

Adding an account, saving its password or pressing "Test the connection" starts a test: connect
and log in (the account's mail source, connector.sources; bounded by DOSSIER_MAIL_TIMEOUT),
then log out; then the same with the SMTP server, when the account sends. The page answers at
once and shows "Testing the connection…" until the result is in (web/static polls the
account's status); the result is kept in memory for the page and a failure is stored as the
account's ``last_error`` (its list, ``dossier account list``).

A failure to connect is made known only when the whole time-out has passed, whether the port
refused at once or never answered: otherwise the time to the answer would still tell a closed
port from a filtered one. At most ``MAX_RUNNING`` tests run at once and one per account, so the
server cannot be made to probe many addresses in parallel. ``app`` is anything with an
``extensions`` dict (the Flask app).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from connector.accounts import AccountError
from connector.models import MailAccount
from connector.network import Unreachable, unreachable
from crm.db import Database
from crm.models import utcnow
from crm.text import Text

log = logging.getLogger("dossier.connector.probe")
EXTENSION = "dossier.connection_tests"
MAX_RUNNING = 4
TESTING, SYNCING, OK, FAILED = "testing", "syncing", "ok", "failed"
RUNNING = (TESTING, SYNCING)


@dataclass
class ConnectionTest:
    """The state of one account's latest test, as its page shows it."""

    account_id: int
    state: str = TESTING
    message: str = ""  # what failed, for the user
    fetched: int | None = None  # messages read, when a sync followed
    smtp: bool = False  # the SMTP server was tested too


class ConnectionTests:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.timeout = float(db.settings.mail_timeout)
        self._tests: dict[int, ConnectionTest] = {}
        self._threads: dict[int, threading.Thread] = {}
        self._lock = threading.Lock()

    def start(self, account_id: int, *, then_sync: bool = False) -> ConnectionTest:
        """Start a test of the account unless one runs; answers at once. ``then_sync``: a
        sync pass follows a good test ("Sync now" where no background sync runs)."""
        with self._lock:
            running = self._tests.get(account_id)
            if running is not None and running.state in RUNNING:
                return running
            test = ConnectionTest(account_id)
            self._tests[account_id] = test
            if sum(t.is_alive() for t in self._threads.values()) >= MAX_RUNNING:
                test.state, test.message = (
                    FAILED,
                    Text("too many connection tests at once: try again"),
                )
                return test
            thread = threading.Thread(
                target=self._run,
                args=(test, then_sync),
                name=f"mail-test-{account_id}",
                daemon=True,
            )
            self._threads[account_id] = thread
        thread.start()
        return test

    def get(self, account_id: int) -> ConnectionTest | None:
        return self._tests.get(account_id)

    def forget(self, account_id: int) -> None:
        """The account is gone: its result too."""
        with self._lock:
            self._tests.pop(account_id, None)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the running tests (shutting down, tests)."""
        for thread in list(self._threads.values()):
            thread.join(timeout)

    def _run(self, test: ConnectionTest, then_sync: bool) -> None:
        started = time.monotonic()
        error: AccountError | None
        try:
            with self.db.session(write=False) as s:
                account = s.get(MailAccount, test.account_id)
                if account is not None:
                    s.expunge(account)
        except Exception:
            log.exception("connection test of mail account %s failed", test.account_id)
            account = None
        if account is None:
            test.state, test.message = FAILED, Text("the account was removed")
            return
        test.smtp = bool(account.smtp_host)
        deadline = started + self.timeout * (2 if test.smtp else 1)
        outcome: list[AccountError | None] = []
        worker = threading.Thread(
            target=lambda: outcome.append(self._try(account)),
            name=f"mail-test-{test.account_id}-connect",
            daemon=True,
        )
        worker.start()
        worker.join(max(0.0, deadline - time.monotonic()) + 1.0)
        if outcome:
            error = outcome[0]
        else:
            error = unreachable(account.host, account.port, "no answer in time")
        if isinstance(error, Unreachable):
            time.sleep(max(0.0, deadline - time.monotonic()))  # refused and silent look alike
        test.message = error.message if error else ""
        if error is None and then_sync:
            test.state = SYNCING
            self._sync(test)
            return
        self._store(test.account_id, error)
        test.state = OK if error is None else FAILED

    def _sync(self, test: ConnectionTest) -> None:
        from connector.sync import sync_account

        try:
            report = sync_account(self.db, test.account_id)  # stores its own result
        except Exception:
            log.exception("sync of mail account %s failed", test.account_id)
            test.state, test.message = FAILED, Text("the sync failed on the Dossier server")
            return
        test.message = report.error
        test.fetched = sum(f.fetched for f in report.folders)
        test.state = FAILED if report.error else OK

    def _try(self, account: MailAccount) -> AccountError | None:
        from connector.sending import smtp_session
        from connector.sources import UnknownKind, open_source

        try:
            with open_source(self.db, account).connect(read_timeout=self.timeout):
                pass
            if account.smtp_host:
                with smtp_session(self.db.settings, account, read_timeout=self.timeout):
                    pass
            return None
        except AccountError as exc:
            return exc
        except UnknownKind as exc:
            return AccountError(str(exc))
        except Exception as exc:  # a bug: logged; the page says so plainly
            log.exception("connection test of mail account %s failed", account.id)
            return AccountError(
                Text("the test failed on the server (%(problem)s)", problem=type(exc).__name__)
            )

    def _store(self, account_id: int, error: AccountError | None) -> None:
        try:
            with self.db.session() as s:
                row = s.get(MailAccount, account_id)
                if row is None:
                    return
                row.set_error(error.message if error else "")
                if error is not None:
                    row.last_error_at = utcnow()
        except Exception:  # the result is still shown from memory
            log.exception("result of the connection test of account %s not stored", account_id)


def connection_tests(app: Any, db: Database) -> ConnectionTests:
    """The process's tests (made at the first use)."""
    tests: ConnectionTests | None = app.extensions.get(EXTENSION)
    if tests is None:
        tests = app.extensions.setdefault(EXTENSION, ConnectionTests(db))
    return tests
