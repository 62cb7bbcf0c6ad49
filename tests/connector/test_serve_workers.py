"""The mail-sync worker in real processes against a real Dovecot: SIGTERM to `dossier serve`
mid-sync stops it within seconds with nothing half-done (the folder's checkpoint counts exactly
the committed messages, and a later sync stores the rest once); two `dossier worker mail-sync`
on one PostgreSQL database store each message once and never sync the account at the same
time (each process logs when it holds the account's lease; the intervals must not overlap)."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from connector.models import FolderState
from connector.sync import sync_account
from crm.db import Database
from crm.models import WorkerStatus
from crm.settings import Settings
from crm.workers import worker_states
from mail_archive.models import Message, MessageSource
from tests.conftest import REPO, World, login, post_form
from tests.connector.conftest import add_imap
from tests.mail_archive.conftest import Dossier
from tests.mailfactory import make_mail
from tests.servers.dovecot import Dovecot
from tests.servers.fixtures import ImapUser

pytestmark = pytest.mark.slow

TOTAL = 800  # 16 batches: a sync that takes long enough to be stopped in the middle


def fill_inbox(dovecot: Dovecot, user: ImapUser) -> None:
    with dovecot.connect(user.name, user.password) as conn:
        for i in range(TOTAL):
            raw = make_mail(message_id=f"serve-{i}@test", subject=f"Poptávka {i}")
            conn.append("INBOX", None, None, raw)


def stored(database: Database) -> list[str]:
    with database.session(write=False) as s:
        return list(s.scalars(select(Message.internet_id)))


def dossier_process(settings: Settings, *args: str, minutes: str = "60") -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DOSSIER_HOME": str(settings.home),
        "DATABASE_URL": settings.database_url,
        "DOSSIER_SECRET_KEY": settings.secret_key,
        "DOSSIER_SYNC_MINUTES": minutes,
        "DOSSIER_IMAP_IDLE": "off",
        "PYTHONPATH": str(REPO),
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from crm.cli import main; main()", *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(check: object, what: str, process: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if process.poll() is not None:
            raise AssertionError(f"the process ended before {what}: {process.communicate()[0]}")
        assert time.monotonic() < deadline, f"not within {timeout:.0f} s: {what}"
        time.sleep(0.02)


def test_sigterm_mid_sync_stops_serve_with_nothing_half_done(
    database: Database,
    settings: Settings,
    world: World,
    dossier: Dossier,
    dovecot: Dovecot,
    imap_user: ImapUser,
) -> None:
    fill_inbox(dovecot, imap_user)
    account_id = add_imap(database, imap_user, world.sales_a.email)
    serve = dossier_process(settings, "serve", "--port", str(free_port()))
    try:
        wait_for(lambda: len(stored(database)) > 0, "the first batch is stored", serve, 60)
        serve.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        output = serve.communicate(timeout=15)[0]
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.communicate()
    assert time.monotonic() - stopped_at < 10, output
    assert serve.returncode == 0, output
    assert "stopping the workers" in output

    with database.session(write=False) as s:
        copies = s.scalar(
            select(func.count())
            .select_from(MessageSource)
            .where(MessageSource.account_id == account_id)
        )
        (state,) = s.scalars(select(FolderState).where(FolderState.account_id == account_id))
        assert s.scalars(select(WorkerStatus)).all() == []  # it left as it should
    first = stored(database)
    assert 0 < len(first) < TOTAL, "the sync was not stopped in the middle"
    assert state.messages_seen == copies == len(first)  # the checkpoint counts what committed

    report = sync_account(database, account_id)  # a later sync finishes the rest
    assert not report.error
    everything = stored(database)
    assert len(everything) == len(set(everything)) == TOTAL


LINE = re.compile(r"^(\S+ \S+) INFO dossier\.sync: mail account (\d+): sync (begins|ends)$", re.M)


def intervals(output: str) -> list[tuple[dt.datetime, dt.datetime]]:
    """When the process held the account (it logs inside its lease)."""
    found: list[tuple[dt.datetime, dt.datetime]] = []
    began: dt.datetime | None = None
    for stamp, _account, what in LINE.findall(output):
        at = dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")
        if what == "begins":
            began = at
        else:
            assert began is not None
            found.append((began, at))
            began = None
    return found


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_workers_on_one_database_sync_an_account_once_at_a_time(
    database: Database,
    settings: Settings,
    world: World,
    dossier: Dossier,
    dovecot: Dovecot,
    imap_user: ImapUser,
) -> None:
    fill_inbox(dovecot, imap_user)
    account_id = add_imap(database, imap_user, world.sales_a.email)
    # a pass every 12 s (the shortest), so both try the account more than once
    processes = [dossier_process(settings, "worker", "mail-sync", minutes="0.2") for _ in "ab"]
    try:
        wait_for(lambda: len(stored(database)) == TOTAL, "every message", processes[0], 120)
        time.sleep(13)  # the next pass of each: the account is tried again, by both
        for process in processes:
            process.send_signal(signal.SIGTERM)
        outputs = [process.communicate(timeout=15)[0] for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert [p.returncode for p in processes] == [0, 0], outputs

    everything = stored(database)
    assert len(everything) == len(set(everything)) == TOTAL
    with database.session(write=False) as s:
        copies = s.scalars(
            select(MessageSource.key).where(MessageSource.account_id == account_id)
        ).all()
    assert len(copies) == len(set(copies)) == TOTAL

    held = [intervals(output) for output in outputs]
    assert sum(len(h) for h in held) >= 2, outputs  # both passes ran somewhere
    for a_begin, a_end in held[0]:
        for b_begin, b_end in held[1]:
            assert a_end <= b_begin or b_end <= a_begin, (
                f"both synced at once: {a_begin}..{a_end} and {b_begin}..{b_end}"
            )
    skipped = sum("synced by another process now" in output for output in outputs)
    assert skipped or all(held), "neither process met the other's lease"
    assert Path(settings.home).is_dir()


def test_sync_now_reaches_a_worker_in_another_process(
    database: Database,
    settings: Settings,
    world: World,
    dossier: Dossier,
    dovecot: Dovecot,
    imap_user: ImapUser,
    client: FlaskClient,
) -> None:
    dovecot.append(imap_user.name, imap_user.password, "INBOX", make_mail(message_id="a@test"))
    account_id = add_imap(database, imap_user, world.sales_a.email)
    worker = dossier_process(settings, "worker", "mail-sync")  # a pass an hour
    try:
        wait_for(lambda: stored(database) == ["a@test"], "the first pass", worker, 60)
        with database.session(write=False) as s:  # its heartbeat tells the page it runs
            assert [w.name for w in worker_states(s)] == ["mail-sync"]
        dovecot.append(imap_user.name, imap_user.password, "INBOX", make_mail(message_id="b@test"))
        login(client, world.sales_a)
        response = post_form(client, f"/mail/accounts/{account_id}/sync", {})
        assert response.status_code == 302
        asked = time.monotonic()
        wait_for(lambda: len(stored(database)) == 2, "the second message", worker, 20)
        assert time.monotonic() - asked < 10  # polled every 2 s, not at the next pass
    finally:
        worker.send_signal(signal.SIGINT)  # Ctrl+C
        output = worker.communicate(timeout=15)[0]
    assert worker.returncode == 0, output
    assert "stopping the workers" in output
