"""Every date and time in the viewer's own time zone, and the user's details that set it."""

from __future__ import annotations

import datetime as dt

from flask.testing import FlaskClient
from sqlalchemy import select

from connector.accounts import AccountInput, add_account
from crm.blobs import BlobStore
from crm.db import Database
from crm.models import ApiToken, User
from crm.services.users import create_token
from mail_archive.filing import RuleFiler
from mail_archive.ingest import Archive, Source
from tests.conftest import World, login, post_form
from tests.mailfactory import make_mail
from tests.web.conftest import flashes, text

# 13:05 UTC on a winter day: 14:05 in Prague, 08:05 in New York, 13:05 in London.
MOMENT = dt.datetime(2026, 1, 15, 13, 5, tzinfo=dt.UTC)


def set_zone(database: Database, user: User, zone: str) -> None:
    with database.session() as s:
        stored = s.get(User, user.id)
        assert stored is not None
        stored.time_zone = zone


def test_the_user_sets_their_details_on_the_account_page(
    client: FlaskClient, world: World, database: Database
) -> None:
    login(client, world.sales_a)
    assert 'value="Europe/Prague"' in client.get("/account").get_data(as_text=True)
    bad = post_form(
        client,
        "/account/profile",
        {"time_zone": "Europe/Brno", "phone": "volejte", "job_title": "x"},
    )
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert "is not a time zone" in page and "is not a phone number" in page
    assert 'value="Europe/Brno"' in page  # what was typed is kept
    saved = post_form(
        client,
        "/account/profile",
        {
            "time_zone": "America/New_York",
            "phone": "+420 731 555 111",
            "job_title": "obchodní zástupkyně",
            "signature": "Jana Nováková\nDossier Trade s.r.o.",
        },
    )
    assert saved.status_code == 302
    assert "Your details have been saved." in flashes(client.get("/account").get_data(as_text=True))
    with database.session() as s:
        user = s.get(User, world.sales_a.id)
        assert user is not None
        assert (user.time_zone, user.phone, user.job_title) == (
            "America/New_York",
            "+420 731 555 111",
            "obchodní zástupkyně",
        )
        assert user.signature == "Jana Nováková\nDossier Trade s.r.o."


def test_the_admin_edits_them_on_the_user_page(
    client: FlaskClient, world: World, database: Database
) -> None:
    login(client, world.admin)
    url = f"/admin/users/{world.sales_b.id}"
    form = {
        "name": "Zofia Wójcik",
        "role": "sales",
        "language": "en",
        "active": "1",
        "group_ids": str(world.sales_b.group_ids[0]),
    }
    bad = post_form(client, url, {**form, "time_zone": "Mars/Olympus", "name": "Zofia W."})
    assert bad.status_code == 422 and "is not a time zone" in bad.get_data(as_text=True)
    with database.session() as s:
        user = s.get(User, world.sales_b.id)
        assert user is not None and user.name == "Zofia Wójcik"  # nothing of the bad save kept
    ok = post_form(client, url, {**form, "time_zone": "Europe/Warsaw", "job_title": "handlowiec"})
    assert ok.status_code == 302
    with database.session() as s:
        user = s.get(User, world.sales_b.id)
        assert user is not None and (user.time_zone, user.job_title) == (
            "Europe/Warsaw",
            "handlowiec",
        )


def test_times_are_shown_in_the_viewers_zone(
    client: FlaskClient, world: World, database: Database
) -> None:
    with database.session() as s:
        create_token(s, world.sales_a.email, "tests")
        token = s.scalars(select(ApiToken)).one()
        token.created_at = MOMENT
    login(client, world.sales_a)
    assert "15 Jan 2026, 14:05" in text(client.get("/account").get_data(as_text=True))
    set_zone(database, world.sales_a, "America/New_York")
    shown = text(client.get("/account").get_data(as_text=True))
    assert "15 Jan 2026, 08:05" in shown and "14:05" not in shown


def test_the_reply_quote_header_is_in_the_viewers_zone(
    client: FlaskClient, world: World, database: Database
) -> None:
    """The header above the quoted text says the time the message page shows, not UTC."""
    with database.session() as s:
        archive = Archive(s, BlobStore(database.settings.blob_dir), RuleFiler())
        result = archive.ingest(
            make_mail(subject="Nabídka haly", date=MOMENT),
            Source(kind="upload", key="u1", user_id=world.sales_a.id, explicit=True),
        )
        message_id = result.message_id
        # Only a sending account opens the form; nothing is sent, so no server is contacted.
        add_account(
            s,
            database.settings,
            AccountInput(
                name="jana",
                host="127.0.0.1",
                port=993,
                security="tls",
                username="jana",
                user_email=world.sales_a.email,
                password="unused",
                smtp_host="127.0.0.1",
                smtp_port=587,
                smtp_security="starttls",
            ),
        )
    login(client, world.sales_a)
    compose = text(client.get(f"/mail/compose?reply_to={message_id}").get_data(as_text=True))
    assert "15 Jan 2026, 14:05 Jan Novák:" in compose
    assert "13:05" not in compose
    message = text(client.get(f"/mail/{message_id}").get_data(as_text=True))
    assert "14:05" in message  # the message page says the same time
    set_zone(database, world.sales_a, "Europe/London")
    compose = text(client.get(f"/mail/compose?reply_to={message_id}").get_data(as_text=True))
    assert "15 Jan 2026, 13:05 Jan Novák:" in compose
