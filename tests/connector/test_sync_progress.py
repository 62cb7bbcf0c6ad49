""" "Sync now" shows progress and the result without a reload: the pass writes its state and
counts on the account with each batch, whichever process runs it, and the account's status
(JSON, for the page's script) and the page itself (without JavaScript, refreshing itself) say
queued, running with the messages read so far, done with the counts, or what to do."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from connector.models import MailAccount
from connector.scheduler import EXTENSION, MailScheduler
from crm.db import Database
from tests.conftest import World, login, post_form
from tests.connector.conftest import add_imap
from tests.connector.test_account_probe import eventually
from tests.mail_archive.conftest import Dossier
from tests.mailfactory import make_mail
from tests.servers.dovecot import Dovecot
from tests.servers.fixtures import ImapUser

JSON = {"Accept": "application/json"}


def status(client: FlaskClient, account_id: int) -> dict[str, Any]:
    answer = client.get(f"/mail/accounts/{account_id}/status", headers=JSON)
    assert answer.status_code == 200
    return dict(answer.get_json())


def texts(found: dict[str, Any]) -> list[str]:
    return [line["text"] for line in found["lines"]]


def test_sync_now_by_the_background_worker_is_queued_runs_and_reports(
    app: Flask,
    client: FlaskClient,
    database: Database,
    world: World,
    dossier: Dossier,
    dovecot: Dovecot,
    imap_user: ImapUser,
) -> None:
    u = imap_user
    for n in range(3):
        dovecot.append(u.name, u.password, "INBOX", make_mail(subject=f"Poptávka {n}"))
    account_id = add_imap(database, u, world.sales_a.email)
    scheduler = MailScheduler(database, 5, idle=False)  # the worker, driven by hand below
    app.extensions[EXTENSION] = scheduler
    login(client, world.sales_a)

    pressed = post_form(client, f"/mail/accounts/{account_id}/sync", {}, headers=JSON)
    assert pressed.status_code == 200  # the page's script stays on the page
    assert pressed.get_json()["sync"] == "queued" and pressed.get_json()["running"]
    assert texts(pressed.get_json()) == ["Sync queued: it begins in a moment."]
    assert scheduler.wanted == {account_id}
    page = client.get(f"/mail/accounts/{account_id}").get_data(as_text=True)
    assert "Sync queued: it begins in a moment." in page
    assert '<noscript><meta http-equiv="refresh" content="3">' in page  # without JavaScript

    seen: list[tuple[str, int | None]] = []

    def progress(session: Session, *_flush: object) -> None:
        for row in (*session.new, *session.dirty):
            if isinstance(row, MailAccount):
                seen.append((row.sync_state, row.sync_read))

    event.listen(Session, "before_flush", progress)
    try:
        scheduler.sync(account_id)  # the worker's pass
    finally:
        event.remove(Session, "before_flush", progress)
    assert seen[0] == ("running", 0)  # said before the server is reached
    assert ("running", 3) in seen  # written with the batch
    assert seen[-1] == ("", 3)
    done = status(client, account_id)
    assert not done["running"] and (done["sync"], done["read"]) == ("idle", 3)
    assert texts(done)[0].startswith("Sync done ")
    assert texts(done)[0].endswith("— messages read: 3, newly filed: 3.")
    page = client.get(f"/mail/accounts/{account_id}").get_data(as_text=True)
    assert "messages read: 3, newly filed: 3." in page and "http-equiv" not in page


def test_a_failed_sync_says_what_to_do(
    app: Flask, client: FlaskClient, database: Database, world: World, imap_user: ImapUser
) -> None:
    account_id = add_imap(database, imap_user, world.sales_a.email)
    with database.session() as s:
        row = s.get(MailAccount, account_id)
        assert row is not None
        row.port = 1  # nobody listens there
    login(client, world.sales_a)
    pressed = post_form(client, f"/mail/accounts/{account_id}/sync", {})
    assert pressed.status_code == 302  # without JavaScript: back to the page
    found: dict[str, Any] = {}

    def finished() -> bool:
        found.update(status(client, account_id))
        return not found["running"]

    eventually(finished, "the sync finished")
    assert texts(found)[0].startswith(
        "The connection test failed: could not connect to the server 127.0.0.1:1: check its "
        "name, port and security"
    )


@pytest.mark.parametrize("url", ["/mail/accounts/{id}/status", "/mail/accounts/{id}/sync"])
def test_other_users_get_nothing(
    client: FlaskClient, database: Database, world: World, imap_user: ImapUser, url: str
) -> None:
    account_id = add_imap(database, imap_user, world.sales_a.email)
    login(client, world.sales_a2)
    path = url.format(id=account_id)
    answer = client.get(path) if path.endswith("status") else post_form(client, path, {})
    assert answer.status_code == 404
    with database.session(write=False) as s:
        assert s.get(MailAccount, account_id).sync_state == ""  # type: ignore[union-attr]
