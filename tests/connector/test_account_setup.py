"""Setting a mailbox up as people do: a provider's preset fills the servers (also without
JavaScript), SMTP security is a real choice that sending uses, ports whose security is fixed
refuse the other choice, Microsoft 365 is not offered a password it would refuse, and the
connection test checks the SMTP server too, against a real Dovecot and a real aiosmtpd. Every
bad input is refused by the field and saves nothing."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from connector.accounts import AccountInput, add_account
from connector.models import MailAccount
from connector.network import login_refused
from connector.presets import PRESETS
from connector.probe import connection_tests
from crm.bootstrap import initialize
from crm.db import Database, alembic_config
from crm.settings import Settings
from tests.conftest import World, count, login, post_form
from tests.connector.test_account_probe import eventually
from tests.servers.fixtures import ImapUser
from tests.servers.smtp import smtp_server

FORM = {"name": "Moje pošta", "username": "jana.novakova@seznam.cz", "password": "Heslo-123"}


@pytest.fixture
def make_app(settings: Settings, world: World) -> Iterator[Callable[..., Flask]]:
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


def error_of(page: str, field: str) -> str | None:
    found = re.search(rf'<p class="error" id="acc-{field}-error">([^<]*)</p>', page)
    return html.unescape(found.group(1)) if found else None


def selected(page: str, field: str) -> str | None:
    select_html = re.search(rf'<select id="acc-{field}"[^>]*>(.*?)</select>', page, re.S)
    assert select_html, field
    found = re.search(r'<option value="([^"]*)"[^>]*\sselected', select_html.group(1))
    return found.group(1) if found else None


def value_of(page: str, field: str) -> str:
    found = re.search(rf'<input id="acc-{field}" name="{field}" type="text" value="([^"]*)"', page)
    assert found, field
    return html.unescape(found.group(1))


def test_the_presets_are_the_providers_documented_servers() -> None:
    servers = {
        p.key: (
            p.imap_host,
            p.imap_port,
            p.imap_security,
            p.smtp_host,
            p.smtp_port,
            p.smtp_security,
        )
        for p in PRESETS
    }
    assert servers == {
        "seznam": ("imap.seznam.cz", 993, "tls", "smtp.seznam.cz", 465, "tls"),
        "centrum": ("imap.centrum.cz", 993, "tls", "smtp.centrum.cz", 465, "tls"),
        "gmail": ("imap.gmail.com", 993, "tls", "smtp.gmail.com", 465, "tls"),
        "microsoft365": (
            "outlook.office365.com",
            993,
            "tls",
            "smtp.office365.com",
            587,
            "starttls",
        ),
        "wp": ("imap.wp.pl", 993, "tls", "smtp.wp.pl", 465, "tls"),
        "onet": ("imap.poczta.onet.pl", 993, "tls", "smtp.poczta.onet.pl", 465, "tls"),
        "azet": ("imap.azet.sk", 993, "tls", "smtp.azet.sk", 465, "tls"),
    }
    assert [p.key for p in PRESETS if p.oauth_only] == ["microsoft365"]


def test_the_form_offers_presets_and_both_securities(client: FlaskClient, world: World) -> None:
    login(client, world.sales_a)
    page = client.get("/mail/accounts").get_data(as_text=True)
    for label in ("Seznam.cz", "Centrum.cz", "Gmail / Google Workspace", "WP Poczta"):
        assert f">{label}</option>" in page
    assert "Microsoft 365 (OAuth only)" in page and "Onet Poczta" in page and "Azet.sk" in page
    gmail = re.search(r'<option value="gmail"([^>]*)>', page)
    assert gmail and 'data-smtp-host="smtp.gmail.com"' in gmail.group(1)
    assert "app password" in html.unescape(gmail.group(1))
    for option in ("SSL/TLS (port 465)", "STARTTLS (port 587)", "SSL/TLS (port 993)"):
        assert option in page
    assert selected(page, "smtp_security") == "tls"
    assert "/static/account-form.js" in page
    script = client.get("/static/account-form.js")
    assert b"data-hint" in script.data
    script.close()


def test_a_preset_fills_the_servers_left_empty_when_the_form_is_sent(
    client: FlaskClient, database: Database, world: World
) -> None:
    """Without JavaScript: the preset chosen, the servers left empty. A missing name keeps the
    form open, showing what the preset filled in; nothing is saved."""
    login(client, world.sales_a)
    page = post_form(client, "/mail/accounts", {**FORM, "name": "", "preset": "gmail"})
    html_page = page.get_data(as_text=True)
    assert page.status_code == 422 and error_of(html_page, "name")
    assert value_of(html_page, "host") == "imap.gmail.com"
    assert value_of(html_page, "port") == "993"
    assert value_of(html_page, "smtp_host") == "smtp.gmail.com"
    assert value_of(html_page, "smtp_port") == "465"
    assert selected(html_page, "security") == "tls"
    assert selected(html_page, "smtp_security") == "tls"
    assert selected(html_page, "preset") == "gmail"
    assert "app password" in html_page  # the preset's hint stays in view
    assert count(database, MailAccount) == 0
    # what the user typed wins over the preset
    with database.session() as s:
        own = add_account(
            s,
            database.settings,
            AccountInput(
                name="vlastní",
                host="mail.firma.cz",
                username="jana",
                user_email=world.sales_a.email,
                password="x",
                preset="seznam",
            ),
        )
        assert (own.host, own.port, own.smtp_host, own.smtp_port, own.smtp_security) == (
            "mail.firma.cz",
            993,
            "smtp.seznam.cz",
            465,
            "tls",
        )


@pytest.mark.parametrize(
    ("fields", "field", "error"),
    [
        ({"preset": "yahoo"}, "preset", "yahoo is not one of the providers offered"),
        ({"host": "imap.firma.cz", "port": "99999"}, "port", "must be between 1 and 65535"),
        ({"host": "imap.firma.cz", "port": "devět"}, "port", "“devět” is not a port"),
        ({"host": "imap.firma.cz", "security": "ssl3"}, "security", "unknown security ssl3"),
        (
            {"host": "imap.firma.cz", "smtp_host": "smtp.firma.cz", "smtp_security": "tls1"},
            "smtp_security",
            "unknown security tls1",
        ),
        (
            {"host": "imap.firma.cz", "smtp_host": "smtp.firma.cz", "smtp_port": "x"},
            "smtp_port",
            "“x” is not a port",
        ),
        (
            {
                "host": "imap.firma.cz",
                "smtp_host": "smtp.firma.cz",
                "smtp_port": "465",
                "smtp_security": "starttls",
            },
            "smtp_port",
            "port 465 is for SSL/TLS: choose SSL/TLS, or port 587 for STARTTLS",
        ),
        (
            {
                "host": "imap.firma.cz",
                "smtp_host": "smtp.firma.cz",
                "smtp_port": "587",
                "smtp_security": "tls",
            },
            "smtp_port",
            "port 587 is for STARTTLS: choose STARTTLS, or port 465 for SSL/TLS",
        ),
        (
            {"host": "imap.firma.cz", "port": "143", "security": "tls"},
            "port",
            "port 143 is for STARTTLS: choose STARTTLS, or port 993 for SSL/TLS",
        ),
        (
            {"preset": "microsoft365"},
            "password",
            "Microsoft 365 accepts no passwords from mail programs, only OAuth2",
        ),
        (
            {"host": "outlook.office365.com"},
            "password",
            "Microsoft 365 accepts no passwords from mail programs, only OAuth2",
        ),
    ],
)
def test_bad_input_is_refused_by_the_field_and_saves_nothing(
    client: FlaskClient,
    database: Database,
    world: World,
    fields: dict[str, str],
    field: str,
    error: str,
) -> None:
    login(client, world.sales_a)
    refused = post_form(client, "/mail/accounts", {**FORM, **fields})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    found = error_of(page, field)
    assert found is not None and found.startswith(error), (field, found)
    assert "Heslo-123" not in page  # the password is never sent back
    assert count(database, MailAccount) == 0


def test_the_errors_read_in_the_users_language(
    client: FlaskClient, database: Database, world: World
) -> None:
    from crm.services import users

    with database.session() as s:
        users.set_language(s, world.sales_a, "cs")
    login(client, world.sales_a)
    page = post_form(
        client,
        "/mail/accounts",
        {
            **FORM,
            "host": "imap.firma.cz",
            "smtp_host": "smtp.firma.cz",
            "smtp_port": "465",
            "smtp_security": "starttls",
            "preset": "nic",
        },
    ).get_data(as_text=True)
    assert (
        error_of(page, "smtp_port")
        == "port 465 je pro SSL/TLS: zvolte SSL/TLS, nebo port 587 pro STARTTLS"
    )
    assert "není mezi nabízenými poskytovateli" in (error_of(page, "preset") or "")
    assert "Váš poskytovatel pošty" in page


def test_a_form_without_its_csrf_token_is_refused(
    client: FlaskClient, database: Database, world: World
) -> None:
    login(client, world.sales_a)
    forged = client.post("/mail/accounts", data={**FORM, "preset": "seznam"})
    assert forged.status_code == 400
    for url in ("/mail/accounts/1/sync", "/mail/accounts/1/test"):
        assert client.post(url, data={}).status_code == 400
    assert count(database, MailAccount) == 0


def test_the_connection_test_checks_smtp_too_and_says_what_to_do(
    make_app: Callable[..., Flask], world: World, imap_user: ImapUser
) -> None:
    """Real Dovecot and aiosmtpd (which offers no STARTTLS): a good login on both, an SMTP
    server that refuses the login, STARTTLS asked of a server without it."""
    client = make_app().test_client()
    login(client, world.sales_a)
    u = imap_user
    finals: dict[str, dict[str, Any]] = {}
    with (
        smtp_server(u.name, u.password, require_auth=True) as good,
        smtp_server("jiny-uzivatel", "jine-heslo", require_auth=True) as other,
    ):
        for name, smtp, security in (
            ("dobře", good, "none"),
            ("heslo", other, "none"),
            ("starttls", good, "starttls"),
        ):
            added = post_form(
                client,
                "/mail/accounts",
                {
                    "name": name,
                    "host": u.host,
                    "port": str(u.port),
                    "security": "none",
                    "username": u.name,
                    "password": u.password,
                    "smtp_host": smtp.host,
                    "smtp_port": str(smtp.port),
                    "smtp_security": security,
                },
            )
            assert added.status_code == 302, added.get_data(as_text=True)
            url = added.headers["Location"]

            def done(url: str = url, name: str = name) -> bool:
                finals[name] = client.get(url + "/status").get_json()
                return not finals[name]["running"]

            eventually(done, f"the test of {name} finished")
        assert set(other.failed_logins) == {u.name}  # each mechanism smtplib tried
    assert finals["dobře"]["state"] == "ok"
    assert finals["dobře"]["lines"][0]["text"] == (
        "The connection works: the IMAP and the SMTP server took the login."
    )
    assert finals["heslo"]["state"] == "failed"
    assert finals["heslo"]["message"] == (
        f"the SMTP server 127.0.0.1 refused the login of {u.name}: check the user name and password"
    )
    assert finals["starttls"]["state"] == "failed"
    assert finals["starttls"]["lines"][0]["text"].startswith(
        "The connection test failed: the SMTP server does not offer STARTTLS: choose SSL/TLS on "
        "port 465"
    )


def test_a_refused_login_names_the_providers_advice() -> None:
    assert "app password" in login_refused("imap.gmail.com", "jana@gmail.com").message
    assert "app password" in login_refused("SMTP.GMAIL.COM", "jana@gmail.com", smtp=True).message
    assert "only OAuth2" in login_refused("outlook.office365.com", "jana@firma.cz").message
    assert "access for mail programs" in login_refused("imap.wp.pl", "jan@wp.pl").message
    assert login_refused("mail.firma.cz", "jana").message == (
        "the server refused the login of jana: check the user name and password"
    )


def test_migration_c0004_makes_smtp_on_465_ssl_and_keeps_the_rest(
    database: Database, world: World
) -> None:
    """The form had no SMTP security: it saved STARTTLS whatever the port, so an account on
    465 never sent. After the upgrade it does; other accounts are as they were."""
    from alembic import command

    config = alembic_config(database)
    command.downgrade(config, "c0003")
    with database.engine.begin() as conn:
        for name, port, security in (
            ("a", 465, "starttls"),
            ("b", 587, "starttls"),
            ("c", None, "starttls"),
            ("d", 465, "none"),
        ):
            conn.execute(
                text(
                    "INSERT INTO mail_accounts (name, kind, user_id, host, port, security,"
                    " username, password_env, password_encrypted, oauth_command, folders,"
                    " filing_folder, smtp_host, smtp_port, smtp_security, enabled, created_at,"
                    " last_error) VALUES (:name, 'imap', :user, 'imap.seznam.cz', 993, 'tls',"
                    " 'jana', 'X', '', '', '[]', 'CRM', 'smtp.seznam.cz', :port, :security,"
                    " true, CURRENT_TIMESTAMP, '')"
                ),
                {"name": name, "user": world.sales_a.id, "port": port, "security": security},
            )
    command.upgrade(config, "heads")
    with database.session(write=False) as s:
        rows = {
            a.name: (a.smtp_security, a.sync_state, a.sync_read)
            for a in s.scalars(select(MailAccount))
        }
    assert rows == {
        "a": ("tls", "", None),
        "b": ("starttls", "", None),
        "c": ("starttls", "", None),
        "d": ("none", "", None),
    }
