"""The web UI's answers to a request it cannot carry out: a readable page in the app's layout
that says what happened and what to do, never a generic 500, and nothing half-saved.

Too many files or too large a form (413), the database locked by another writer (503 with
Retry-After), the disk full (507, a real tiny tmpfs over the blob folder), a NUL character in
a form or query; and a hand-edited ``?timeline=`` on the partner page.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from crm.db import Database
from crm.models import Partner
from crm.services.partners import partners
from crm.settings import Settings
from mail_archive.models import Message
from tests.api.test_error_statuses import SHORT_WAIT, big_mail, tiny_disk, write_lock_held
from tests.conftest import World, count, login, post_form
from web.app import MAX_FORM_PARTS


def in_layout(html: str) -> bool:
    """The page is the app's own (its layout, a way back), not werkzeug's bare error text."""
    return "<main" in html and "<h1>" in html and "Back to Dossier" in html


def test_uploading_too_many_files_gets_a_page_that_names_the_limit(
    client: FlaskClient, world: World, database: Database
) -> None:
    login(client, world.sales_a)
    files = [(io.BytesIO(b"Subject: x\r\n\r\nx"), f"mail-{i}.eml") for i in range(MAX_FORM_PARTS)]
    response = post_form(
        client, "/mail/upload", {"files": files}, content_type="multipart/form-data"
    )
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert in_layout(html) and "Upload too large" in html
    assert f"{MAX_FORM_PARTS} files" in html and "25 MB" in html
    assert count(database, Message) == 0


def test_too_large_an_import_file_gets_the_same_page(client: FlaskClient, world: World) -> None:
    login(client, world.admin)
    body = b"--b\r\nContent-Disposition: form-data; name=file; filename=p.csv\r\n\r\n"
    response = client.post(
        "/partners/import",
        data=body + b"x" * (26 * 1024 * 1024) + b"\r\n--b--\r\n",
        content_type="multipart/form-data; boundary=b",
    )
    assert response.status_code == 413
    assert "Upload too large" in response.get_data(as_text=True)


@pytest.fixture
def impatient_client(settings: Settings, database: Database) -> Iterator[FlaskClient]:
    """A client of an app whose sessions wait only SHORT_WAIT for a lock."""
    from web import create_app

    impatient = Database(settings, busy_timeout=SHORT_WAIT)
    app: Flask = create_app(settings, impatient)
    app.config["TESTING"] = True
    yield app.test_client()
    impatient.dispose()


def test_saving_while_the_database_is_locked_says_so_and_saves_nothing(
    impatient_client: FlaskClient, world: World, settings: Settings, database: Database
) -> None:
    login(impatient_client, world.sales_a)
    with write_lock_held(settings):
        response = post_form(impatient_client, "/partners/new", {"name": "Mlékárna Tábor"})
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    html = response.get_data(as_text=True)
    assert in_layout(html) and "The database is busy, try again in a moment" in html
    assert count(database, Partner) == 0
    again = post_form(impatient_client, "/partners/new", {"name": "Mlékárna Tábor"})
    assert again.status_code == 302 and count(database, Partner) == 1


def test_uploading_to_a_full_disk_says_so_and_files_nothing(
    client: FlaskClient, world: World, settings: Settings, database: Database
) -> None:
    login(client, world.sales_a)
    with tiny_disk(settings.blob_dir):
        response = post_form(
            client,
            "/mail/upload",
            {"files": [(io.BytesIO(big_mail("Plný disk")), "nabidka.eml")]},
            content_type="multipart/form-data",
        )
    assert response.status_code == 507
    html = response.get_data(as_text=True)
    assert in_layout(html) and "The disk is full" in html
    assert count(database, Message) == 0


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/partners/new", {"name": "Stavby", "emails": "jan\x00@stavby.cz"}),
        ("/partners/new", {"name": "Stavby\x00Příbram"}),
    ],
)
def test_a_nul_character_in_a_form_is_refused_on_every_database(
    client: FlaskClient, world: World, database: Database, url: str, data: dict[str, str]
) -> None:
    login(client, world.sales_a)
    response = post_form(client, url, data)
    assert response.status_code == 422
    assert "NUL" in response.get_data(as_text=True)
    assert count(database, Partner) == 0


def test_a_nul_character_in_a_list_filter_is_refused(client: FlaskClient, world: World) -> None:
    login(client, world.sales_a)
    for url in ("/partners/?q=Stavby%00", "/deals/?q=%00", "/mail/?q=%00"):
        response = client.get(url)
        assert response.status_code == 422, url
        assert in_layout(response.get_data(as_text=True))


@pytest.mark.parametrize(
    "timeline", ["-5", "0", "abc", "99999999999999999999", "1e9", "²", "1000000", ""]
)
def test_a_hand_edited_timeline_length_gives_a_normal_page(
    client: FlaskClient, world: World, database: Database, timeline: str
) -> None:
    with database.session() as s:
        partner_id = partners.create(s, world.sales_a, {"name": "Stavby Příbram"}).id
    login(client, world.sales_a)
    response = client.get(f"/partners/{partner_id}", query_string={"timeline": timeline})
    assert response.status_code == 200
    assert "Stavby Příbram" in response.get_data(as_text=True)
