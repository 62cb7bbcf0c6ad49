"""The admin System page and /healthz: each worker's state, last run and last error (a worker
that crashed shows its error), each mail account's last sync, the disk used by blobs and the
index; /healthz answers without a login, names no account, host or error, and 503 when the
database does not answer; a non-admin gets 403. With DOSSIER_SCREENSHOTS=<folder> the page is
saved as PNG for a person to look at."""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from connector.accounts import AccountInput, add_account
from connector.models import MailAccount
from crm import workers
from crm.blobs import BlobStore
from crm.db import Database
from crm.models import utcnow
from tests.conftest import World, login
from tests.web.browser import keep_screenshot
from tests.web.conftest import log_in, text

SECRET_ERROR = "login refused for obchod@stavby-pribram.cz"


def eventually(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


class Broken:
    """Crashes once, then does a unit now and then."""

    def __init__(self) -> None:
        self.runs = 0

    def run(self, stop: threading.Event) -> None:
        self.runs += 1
        if self.runs == 1:
            raise RuntimeError(SECRET_ERROR)
        while not stop.is_set():
            workers.unit_done()
            stop.wait(0.05)


@pytest.fixture
def running(database: Database) -> Iterator[workers.Supervisor]:
    supervisor = workers.Supervisor(
        database,
        {"mail-sync": lambda db, settings: Broken()},
        first_backoff=0.05,
        heartbeat_seconds=0.1,
    )
    supervisor.start()

    def recorded() -> bool:
        with database.session(write=False) as s:
            return any(v.last_run_at and v.last_error for v in workers.worker_states(s))

    eventually(recorded, "the worker's crash and its run recorded")
    yield supervisor
    supervisor.stop(timeout=5)


@pytest.fixture
def account(database: Database, world: World) -> int:
    """A mail account whose last sync failed, and a blob on disk."""
    with database.session() as s:
        account_id = add_account(
            s,
            database.settings,
            AccountInput(
                name="Obchod Příbram",
                host="127.0.0.1",
                port=1143,
                security="none",
                username="obchod",
                user_email=world.sales_a.email,
                password="secret",
            ),
        ).id
        row = s.get(MailAccount, account_id)
        assert row is not None
        row.last_sync_at = row.last_error_at = utcnow()
        row.last_error = "The server refused the password."
    batch = BlobStore(database.settings.blob_dir).batch()
    batch.put(b"x" * 300_000)
    batch.sync()
    return account_id


def test_the_system_page_shows_workers_accounts_and_disk(
    client: FlaskClient, world: World, running: workers.Supervisor, account: int
) -> None:
    login(client, world.admin)
    response = client.get("/admin/system")
    assert response.status_code == 200
    page = text(response.get_data(as_text=True))
    assert "Workers" in page and "mail-sync" in page and "running" in page
    assert SECRET_ERROR in page  # the last error, for the admin
    assert f"process {os.getpid()}" in page
    assert "Obchod Příbram" in page and "The server refused the password." in page
    assert "Blobs (mail, documents)" in page and "0.3 MB" in page
    assert 'aria-current="page">System<' in response.get_data(as_text=True)


@pytest.mark.parametrize("who", ["manager_a", "sales_a"])
def test_only_an_admin_sees_the_system_page(client: FlaskClient, world: World, who: str) -> None:
    login(client, getattr(world, who))
    assert client.get("/admin/system").status_code == 403


def test_healthz_tells_state_without_names_or_errors(
    client: FlaskClient, running: workers.Supervisor, account: int
) -> None:
    response = client.get("/healthz")  # no login
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    (worker,) = body["workers"]
    assert worker["name"] == "mail-sync" and worker["state"] == "running"
    assert worker["last_run_at"] and worker["last_error_at"]
    assert body["mail_accounts"] == [
        {"id": account, "last_sync_at": body["mail_accounts"][0]["last_sync_at"], "ok": False}
    ]
    assert body["disk"]["blobs"]["files"] == 1 and body["disk"]["blobs"]["bytes"] >= 300_000
    assert isinstance(body["outbox"], list)
    raw = response.get_data(as_text=True)
    for secret in (SECRET_ERROR, "Obchod", "obchod", "refused", os.uname().nodename):
        assert secret not in raw


def test_healthz_answers_503_when_the_database_does_not(
    app: Flask, database: Database, client: FlaskClient, backend: str
) -> None:
    database.dispose()
    if backend == "sqlite":
        database.settings.sqlite_path.unlink()
        database.settings.sqlite_path.mkdir()  # what SQLite cannot open
    else:  # a server that is down: nothing listens on the port any more
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        down = dataclasses.replace(
            database.settings, database_url=f"postgresql+psycopg://dossier@127.0.0.1:{port}/x"
        )
        app.extensions["dossier.db"] = Database(down)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable"}


def test_disk_usage_of_20000_blobs_is_quick(tmp_path: Path) -> None:
    from web.views.system import disk_usage

    for folder in range(200):
        sub = tmp_path / f"{folder:02x}"
        sub.mkdir()
        for i in range(100):
            (sub / f"{i:062x}").write_bytes(b"abc")
    began = time.monotonic()
    usage = disk_usage(tmp_path)
    assert time.monotonic() - began < 2.0
    assert usage.files == 20_000 and usage.bytes == 60_000


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_screenshot_of_the_system_page(
    page: tuple[Any, str], world: World, running: workers.Supervisor, account: int
) -> None:
    browser, url = page
    log_in(browser, url, world.admin.email)
    browser.goto(f"{url}/admin/system")
    assert browser.locator("h2", has_text="Workers").is_visible()
    keep_screenshot(browser, "workers-system")
