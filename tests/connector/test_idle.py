"""IMAP IDLE in the background sync of ``dossier serve``, against a real Dovecot: new mail in
INBOX or dragged into the CRM folder is archived at once, not at the next periodic pass; the
account's page says so; watchers follow accounts being removed; an unreachable server leaves
the watcher retrying without stopping the scheduler."""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from connector.accounts import AccountInput, add_account, delete_account, load_account
from connector.idle import RECONNECTING, WATCHING
from connector.scheduler import MailScheduler, start_scheduler
from crm.db import Database
from mail_archive.models import Message
from tests.conftest import World, login
from tests.connector.conftest import add_imap
from tests.mail_archive.conftest import Dossier
from tests.mailfactory import make_mail
from tests.servers.dovecot import Dovecot
from tests.servers.fixtures import ImapUser

# seconds: an IDLE notice takes well under one, but a loaded CI machine running the suite in two
# processes (each with its own Dovecot and PostgreSQL) once needed more than 20 to connect them
WAIT = 45.0


def eventually(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def status_of(database: Database, internet_id: str) -> str | None:
    with database.session(write=False) as s:
        return s.scalar(select(Message.status).where(Message.internet_id == internet_id))


@pytest.fixture
def scheduler(
    app: Flask, database: Database, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MailScheduler]:
    """The background sync as ``dossier serve`` starts it, with an hour between passes: what
    arrives within the test arrives through IDLE."""
    extra = {**database.settings.extra, "sync_minutes": 60.0, "imap_idle": True}
    database.settings = dataclasses.replace(database.settings, extra=extra)
    started = start_scheduler(app, database)
    assert started is not None
    yield started
    started.stop()


def test_new_mail_is_archived_at_once_and_the_account_page_says_how(
    database: Database,
    world: World,
    dossier: Dossier,
    dovecot: Dovecot,
    imap_user: ImapUser,
    client: FlaskClient,
    scheduler: MailScheduler,
) -> None:
    account_id = add_imap(database, imap_user, world.sales_a.email)
    scheduler.request(account_id)  # what adding it on the accounts page does
    try:
        eventually(
            lambda: set(scheduler.push_state(account_id).values()) == {WATCHING},
            "both folders under IDLE",
        )
        assert set(scheduler.push_state(account_id)) == {"INBOX", "CRM"}

        dovecot.append(
            imap_user.name,
            imap_user.password,
            "INBOX",
            make_mail(message_id="idle-1@stavby-pribram.cz", subject="Objednávka č. 7"),
        )
        eventually(lambda: status_of(database, "idle-1@stavby-pribram.cz") == "filed", "INBOX")

        dovecot.append(
            imap_user.name,
            imap_user.password,
            "CRM",
            make_mail(
                message_id="idle-2@novy-zakaznik.cz",
                sender=("Nový zákazník", "info@novy-zakaznik.cz"),
                subject="Poptávka",
            ),
        )
        eventually(lambda: status_of(database, "idle-2@novy-zakaznik.cz") == "triage", "CRM")

        login(client, world.sales_a)
        page = client.get(f"/mail/accounts/{account_id}").get_data(as_text=True)
        assert "At once in CRM, INBOX" in page and "every 60 minutes" in page
    finally:
        scheduler.stop()
    assert all(not w.alive for w in scheduler.watchers.values()), "a watcher outlived stop()"


def test_watchers_follow_removed_accounts_and_survive_a_dead_server(
    database: Database,
    world: World,
    dossier: Dossier,
    dovecot: Dovecot,
    imap_user: ImapUser,
    scheduler: MailScheduler,
) -> None:
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    with database.session() as s:
        dead_id = add_account(
            s,
            database.settings,
            AccountInput(
                name="mrtvy",
                host="127.0.0.1",
                port=dead_port,
                security="none",
                username="nikdo",
                user_email=world.sales_b.email,
                password="heslo",
            ),
        ).id
    live_id = add_imap(database, imap_user, world.sales_a.email)
    scheduler.request(live_id)
    eventually(
        lambda: (
            set(scheduler.push_state(live_id).values()) == {WATCHING}
            and set(scheduler.push_state(dead_id).values()) == {RECONNECTING}
        ),
        "the live account watched, the dead one retrying",
    )
    dead = [w for k, w in scheduler.watchers.items() if k.account_id == dead_id]
    assert all("127.0.0.1" in w.last_error for w in dead)

    watchers = [w for k, w in scheduler.watchers.items() if k.account_id == live_id]
    with database.session() as s:
        delete_account(s, load_account(s, world.sales_a, live_id))
    scheduler.request(dead_id)  # the next pass notices the removal
    eventually(lambda: not scheduler.push_state(live_id), "the removed account forgotten")
    assert watchers
    eventually(lambda: all(not w.alive for w in watchers), "its watchers stopped")
    assert scheduler.thread.is_alive()
