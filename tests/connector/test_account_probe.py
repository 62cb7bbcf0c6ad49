"""Mail accounts cannot turn the server into a port scanner (issue 8, finding 7).

Real sockets on loopback: a closed port, a port that accepts and never answers, the session's
Dovecot. The connection test runs in the background; its answer never says why a connection
failed at the socket level; the administrator's DOSSIER_MAIL_HOSTS is enforced when an account
is saved and again on the resolved addresses at every connection.
"""

from __future__ import annotations

import dataclasses
import re
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from connector.imap import ImapSync
from connector.models import MailAccount
from connector.probe import connection_tests
from crm.bootstrap import initialize
from crm.cli import main
from crm.db import Database
from crm.settings import Settings
from tests.conftest import World, login, post_form
from tests.mail_archive.conftest import Dossier
from tests.mailfactory import make_mail
from tests.servers.fixtures import ImapUser
from tests.servers.postgres import free_port

RAW_REASONS = ("refused", "timed out", "timeout", "errno", "unreachable", "AUTHENTICATIONFAILED")


def eventually(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that takes connections (the kernel's backlog) and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


@pytest.fixture
def make_app(settings: Settings, world: World) -> Iterator[Callable[..., Flask]]:
    """The real app on the test's database with some settings changed (DOSSIER_MAIL_*)."""
    from web import create_app

    made: list[tuple[Flask, Database]] = []

    def make(**changes: Any) -> Flask:
        tuned = dataclasses.replace(settings, **changes)
        db = initialize(tuned)
        app = create_app(tuned, db)
        app.config["TESTING"] = True
        made.append((app, db))
        return app

    yield make
    for app, db in made:
        connection_tests(app, db).join(30)
        db.dispose()


def add_account(client: FlaskClient, host: str, port: int, **fields: str) -> Any:
    return post_form(
        client,
        "/mail/accounts",
        {
            "name": fields.pop("name", "Moje pošta"),
            "host": host,
            "port": str(port),
            "security": "none",
            "username": fields.pop("username", "jana"),
            "password": fields.pop("password", "heslo-123"),
            **fields,
        },
    )


def status(client: FlaskClient, account_url: str) -> dict[str, str]:
    response = client.get(account_url + "/status")
    assert response.status_code == 200
    return dict(response.get_json())


def finished(client: FlaskClient, account_url: str) -> dict[str, str]:
    found: dict[str, str] = {}

    def done() -> bool:
        found.update(status(client, account_url))
        return found["state"] not in ("testing", "syncing")

    eventually(done, "the connection test finished")
    return found


def test_adding_an_account_answers_at_once_and_tests_it_in_the_background(
    make_app: Callable[..., Flask], world: World, silent_port: int
) -> None:
    client = make_app(mail_timeout=3).test_client()
    login(client, world.sales_a)
    added = add_account(client, "127.0.0.1", silent_port)
    assert added.status_code == 302
    url = added.headers["Location"]
    # The server never answers, yet the request is back and the test still runs.
    assert status(client, url)["state"] == "testing"
    page = client.get(url).get_data(as_text=True)
    assert "Testing the connection…" in page
    assert f'data-status-url="{url}/status"' in page
    assert "/static/account-status.js" in page  # the poll: a file, CSP allows no inline script
    script = client.get("/static/account-status.js")
    assert script.status_code == 200 and b"data-status-url" in script.data
    script.close()

    result = finished(client, url)
    assert result["state"] == "failed"
    assert result["message"].startswith(f"could not connect to the server 127.0.0.1:{silent_port}")
    page = client.get(url).get_data(as_text=True)
    assert "The connection test failed: could not connect to the server" in page
    login(client, world.sales_a2)  # nobody else learns about it
    assert client.get(url + "/status").status_code == 404


def test_a_closed_port_and_a_silent_one_read_the_same(
    make_app: Callable[..., Flask], database: Database, world: World, silent_port: int
) -> None:
    client = make_app(mail_timeout=1).test_client()
    login(client, world.sales_a)
    closed = free_port()  # bound a moment ago, nobody listens now
    answers = {}
    for name, port in (("zavřený", closed), ("mlčící", silent_port)):
        url = add_account(client, "127.0.0.1", port, name=name).headers["Location"]
        result = finished(client, url)
        assert result["state"] == "failed"
        answers[name] = result["message"].replace(str(port), "PORT")
        assert not any(reason.lower() in result["message"].lower() for reason in RAW_REASONS)
    assert answers["zavřený"] == answers["mlčící"]
    with database.session(write=False) as s:
        stored = {a.name: a.last_error for a in s.scalars(select(MailAccount))}
    assert stored["zavřený"].replace(str(closed), "PORT") == answers["zavřený"]
    listing = client.get("/mail/accounts").get_data(as_text=True)
    assert listing.count('<span class="error">') == 2


def test_wrong_password_and_good_login_against_dovecot(
    make_app: Callable[..., Flask], world: World, imap_user: ImapUser
) -> None:
    client = make_app().test_client()
    login(client, world.sales_a)
    u = imap_user
    wrong = add_account(client, u.host, u.port, name="špatně", username=u.name, password="x")
    result = finished(client, wrong.headers["Location"])
    assert (result["state"], result["message"]) == (
        "failed",
        f"the server refused the login of {u.name}: check the user name and password",
    )
    good = add_account(client, u.host, u.port, name="dobře", username=u.name, password=u.password)
    url = good.headers["Location"]
    assert finished(client, url)["state"] == "ok"
    assert "The connection works" in client.get(url).get_data(as_text=True)

    # The new password of the wrong one is tested at once, in the background too.
    fixed = post_form(client, wrong.headers["Location"] + "/password", {"password": u.password})
    assert fixed.status_code == 302
    assert finished(client, wrong.headers["Location"])["state"] == "ok"


def test_sync_now_without_a_background_sync_runs_in_the_background(
    make_app: Callable[..., Flask],
    dossier: Dossier,
    dovecot: Any,
    world: World,
    imap_user: ImapUser,
) -> None:
    u = imap_user
    dovecot.append(u.name, u.password, "INBOX", make_mail(subject="Nabídka"))
    client = make_app().test_client()
    login(client, world.sales_a)
    url = add_account(client, u.host, u.port, username=u.name, password=u.password).headers[
        "Location"
    ]
    finished(client, url)
    synced = post_form(client, url + "/sync", {})
    assert synced.status_code == 302
    assert finished(client, url)["state"] == "ok"
    page = client.get(url).get_data(as_text=True)
    assert re.search(r"Sync done [^<]+ — messages read: 1, newly filed: 1\.", page), page


def test_the_allow_list_refuses_other_servers_for_imap_and_smtp(
    make_app: Callable[..., Flask], database: Database, world: World
) -> None:
    client = make_app(mail_hosts="imap.firma.cz, *.seznam.cz:993").test_client()
    login(client, world.admin)  # the list binds administrators too
    for host, port in (("127.0.0.1", 143), ("mail.evil.example", 993), ("imap.seznam.cz", 143)):
        refused = add_account(client, host, port)
        assert refused.status_code == 422
        html = refused.get_data(as_text=True)
        assert "not on the administrator&#39;s list of allowed servers" in html
    smtp = add_account(client, "imap.firma.cz", 993, smtp_host="10.0.0.1", smtp_port="25")
    assert smtp.status_code == 422 and "acc-smtp_host-error" in smtp.get_data(as_text=True)
    with database.session(write=False) as s:
        assert s.scalars(select(MailAccount)).first() is None


def test_metadata_and_link_local_addresses_are_refused_by_default(
    make_app: Callable[..., Flask], world: World
) -> None:
    client = make_app().test_client()
    login(client, world.sales_a)
    for host in ("169.254.169.254", "[fe80::1]", "0.0.0.0", "::ffff:169.254.169.254"):
        refused = add_account(client, host, 80)
        assert refused.status_code == 422, host
        assert "cannot be used as a mail server" in refused.get_data(as_text=True)


def test_the_rule_holds_at_connection_time_on_the_resolved_addresses(
    settings: Settings, world: World, imap_user: ImapUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An account saved before the rule, and a name allowed only by a listed network, are
    judged on the addresses the name resolves to when the sync connects (DNS rebinding)."""
    open_db = initialize(settings)
    with open_db.session() as s:
        s.add_all(
            [
                MailAccount(
                    name=name,
                    user_id=world.sales_a.id,
                    host=host,
                    port=imap_user.port,
                    security="none",
                    username=imap_user.name,
                    password_env="UNUSED_FOR_THIS_TEST",
                )
                for name, host in (("literal", "127.0.0.1"), ("named", "localhost"))
            ]
        )
    open_db.dispose()
    strict = initialize(dataclasses.replace(settings, mail_hosts="10.0.0.0/8"))
    try:
        with strict.session(write=False) as s:
            ids = {a.name: a.id for a in s.scalars(select(MailAccount))}
        monkeypatch.setenv("UNUSED_FOR_THIS_TEST", imap_user.password)
        reports = {name: ImapSync(strict, i).run() for name, i in ids.items()}
    finally:
        strict.dispose()
    for report in reports.values():
        assert "not on the administrator's list of allowed servers" in report.error
        assert not report.folders  # never connected


def test_the_cli_keeps_to_the_allow_list(
    settings: Settings, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOSSIER_HOME", str(settings.home))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DOSSIER_MAIL_HOSTS", "imap.firma.cz")
    monkeypatch.setenv("IMAP_PW", "heslo")
    args = ["account", "add", "imap", "jana", "--username", "jana", "--user", world.sales_a.email]
    refused = CliRunner().invoke(
        main, [*args, "--host", "127.0.0.1", "--store-password-env", "IMAP_PW"]
    )
    assert refused.exit_code != 0
    assert "not on the administrator's list" in refused.output
    assert re.search(r"DOSSIER_MAIL_HOSTS", refused.output)


def test_a_sync_error_reads_as_the_user_can_act_on_it(
    database: Database, world: World, silent_port: int
) -> None:
    with database.session() as s:
        s.add(
            MailAccount(
                name="mlčí",
                user_id=world.sales_a.id,
                host="127.0.0.1",
                port=free_port(),
                security="none",
                username="jana",
                password_env="HOME",
            )
        )
    with database.session(write=False) as s:
        account_id = s.scalars(select(MailAccount.id)).one()
    report = ImapSync(database, account_id).run()
    assert report.error.startswith("could not connect to the server 127.0.0.1:")
    assert not any(reason.lower() in report.error.lower() for reason in RAW_REASONS)
    with database.session(write=False) as s:
        assert s.get(MailAccount, account_id).last_error == report.error  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("language", "unreachable"),
    [
        ("cs", "nepodařilo se spojit se serverem 127.0.0.1:"),
        ("sk", "nepodarilo sa spojiť so serverom 127.0.0.1:"),
        ("pl", "nie udało się połączyć z serwerem 127.0.0.1:"),
    ],
)
def test_connection_errors_read_in_the_users_language(
    make_app: Callable[..., Flask],
    database: Database,
    world: World,
    silent_port: int,
    language: str,
    unreachable: str,
) -> None:
    """The test's result, the stored error of the last sync and the System page each speak the
    reader's language; the database and `dossier account list` keep the English text."""
    from crm.services import users

    with database.session() as s:
        users.set_language(s, world.sales_a, language)
        users.set_language(s, world.admin, language)
    client = make_app(mail_timeout=1).test_client()
    login(client, world.sales_a)
    url = add_account(client, "127.0.0.1", silent_port).headers["Location"]
    result = finished(client, url)
    assert result["state"] == "failed" and result["message"].startswith(unreachable)
    page = client.get(url).get_data(as_text=True)
    assert unreachable in page and "could not connect" not in page
    with database.session(write=False) as s:
        account = s.scalars(select(MailAccount)).one()
        assert account.last_error.startswith("could not connect to the server 127.0.0.1:")
    ImapSync(database, account.id).run()  # the background pass stores its own error
    page = client.get(url).get_data(as_text=True)
    assert unreachable in page and "could not connect" not in page
    login(client, world.admin)
    system = client.get("/admin/system").get_data(as_text=True)
    assert unreachable in system and "could not connect" not in system
