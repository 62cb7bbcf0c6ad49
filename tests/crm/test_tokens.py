"""API tokens can be listed and revoked (`dossier token list|revoke`, the account page), show
their last use, and recording that use never fails a request, even with the database locked."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text, update

from crm.cli import main
from crm.db import Database
from crm.models import ApiToken, utcnow
from crm.passwords import token_digest
from crm.services.users import create_token
from crm.settings import Settings
from tests.conftest import World, login, post_form
from tests.web.conftest import flashes
from tests.web.conftest import text as page_text


def dossier(settings: Settings, *args: str) -> Result:
    env = {"DOSSIER_HOME": str(settings.home), "DATABASE_URL": settings.database_url}
    return CliRunner().invoke(main, list(args), env=env)


def me(client: FlaskClient, token: str) -> int:
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code


def last_use(database: Database, token: str) -> dt.datetime | None:
    with database.session(write=False) as s:
        return s.scalar(
            select(ApiToken.last_used_at).where(ApiToken.token_hash == token_digest(token))
        )


def test_list_and_revoke_through_the_cli(
    settings: Settings, database: Database, world: World, client: FlaskClient
) -> None:
    created = dossier(settings, "token", "create", "jana@firma.cz", "--label", "Outlook")
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    other = dossier(settings, "token", "create", "petr@firma.cz", "--label", "Skript")
    listed = dossier(settings, "token", "list", "jana@firma.cz")
    assert listed.exit_code == 0, listed.output
    (line,) = listed.stdout.splitlines()  # only Jana's, not Petr's
    token_id, created_at, used, label = line.split("\t")
    assert used == "last used never" and label == "Outlook"
    assert created_at.startswith("created " + utcnow().date().isoformat())
    assert token not in listed.output

    assert me(client, token) == 200
    used_line = dossier(settings, "token", "list", "JANA@firma.cz").stdout
    assert re.search(r"last used \d{4}-\d\d-\d\dT", used_line)

    revoked = dossier(settings, "token", "revoke", token_id)
    assert revoked.exit_code == 0, revoked.output
    assert f"API token {token_id} of jana@firma.cz revoked" in revoked.output
    assert me(client, token) == 401  # at once
    assert dossier(settings, "token", "list", "jana@firma.cz").stdout == ""
    assert me(client, other.stdout.strip().splitlines()[-1]) == 200  # Petr's still works


def test_cli_mistakes_are_clear_errors(
    settings: Settings, database: Database, world: World
) -> None:
    for args, message in [
        (("token", "revoke", "999999"), "no API token 999999"),
        (("token", "revoke", "99999999999999999999"), "no API token"),
        (("token", "list", "nikdo@firma.cz"), "no user nikdo@firma.cz"),
    ]:
        result = dossier(settings, *args)
        assert result.exit_code != 0 and message in result.output, result.output
    for bad in ("0", "abc", "-3"):
        result = dossier(settings, "token", "revoke", bad)
        assert result.exit_code == 2 and "Traceback" not in result.output


def test_the_account_page_lists_and_revokes_own_tokens(
    app: Flask, database: Database, world: World
) -> None:
    with database.session() as s:
        outlook = create_token(s, world.sales_a.email, "Outlook")
        create_token(s, world.sales_a.email, "Thunderbird")
        colleagues = create_token(s, world.sales_a2.email, "Petrův skript")
    browser = app.test_client()
    assert me(browser, outlook) == 200
    login(browser, world.sales_a)
    page = page_text(browser.get("/account").get_data(as_text=True))
    assert "API tokens" in page
    date = r"\d+ \w+ \d{4}, \d\d:\d\d"
    assert re.search(rf"Thunderbird {date} never Revoke", page)  # label, created, last use
    assert re.search(rf"Outlook {date} {date} Revoke", page)
    assert "Petrův" not in page and outlook not in page
    with database.session(write=False) as s:
        ids = {t.label: t.id for t in s.scalars(select(ApiToken).order_by(ApiToken.id))}
    done = post_form(browser, f"/account/tokens/{ids['Outlook']}/revoke", {}, follow_redirects=True)
    assert "The API token “Outlook” has been revoked." in flashes(done.text)
    assert me(browser, outlook) == 401
    assert "Outlook" not in page_text(browser.get("/account").get_data(as_text=True))
    # someone else's token is not found, and keeps working
    assert (
        post_form(browser, f"/account/tokens/{ids['Petrův skript']}/revoke", {}).status_code == 404
    )
    assert me(browser, colleagues) == 200
    assert post_form(browser, "/account/tokens/99999999999999/revoke", {}).status_code == 404


def test_last_use_is_written_at_most_once_a_minute(
    client: FlaskClient, database: Database, world: World
) -> None:
    with database.session() as s:
        token = create_token(s, world.sales_a.email, "Outlook")
    assert last_use(database, token) is None
    assert me(client, token) == 200
    first = last_use(database, token)
    assert first is not None
    assert me(client, token) == 200
    assert last_use(database, token) == first  # a second later: no write
    earlier = utcnow() - dt.timedelta(minutes=2)
    with database.session() as s:
        s.execute(update(ApiToken).values(last_used_at=earlier))
    assert me(client, token) == 200
    later = last_use(database, token)
    assert later is not None and later > earlier + dt.timedelta(minutes=1)


@contextmanager
def locked(database: Database, settings: Settings, token: str) -> Iterator[None]:
    """Another process holds the lock the last-use write needs: SQLite's write lock, or on
    PostgreSQL the token's row (released by the server after 5 s if anything hangs)."""
    if settings.is_sqlite:
        holder = sqlite3.connect(settings.sqlite_path, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            yield
        finally:
            holder.rollback()
            holder.close()
        return
    with database.engine.connect() as conn:
        conn.execute(text("SET idle_in_transaction_session_timeout = '5s'"))
        conn.execute(
            select(ApiToken.id).where(ApiToken.token_hash == token_digest(token)).with_for_update()
        )
        yield
        conn.rollback()


def test_a_locked_database_does_not_fail_a_request(
    client: FlaskClient, database: Database, settings: Settings, world: World
) -> None:
    with database.session() as s:
        token = create_token(s, world.sales_a.email, "Outlook")
    with locked(database, settings, token):
        assert me(client, token) == 200
        assert (
            client.get("/api/v1/partners", headers={"Authorization": f"Bearer {token}"}).status_code
            == 200
        )
    assert last_use(database, token) is None  # skipped, not waited for
    assert me(client, token) == 200
    assert last_use(database, token) is not None  # and written once the lock is free
