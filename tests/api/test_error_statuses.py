"""Input no database can store, a locked database and a full disk each get a clear answer
through the real API (never a 500), and nothing is half-written.

- JSON with a lone surrogate ("\\ud800", valid JSON but no Unicode text) or a NUL character
  (PostgreSQL's text refuses it), anywhere in the body or the query: 422 naming the field.
- Another connection holding the write lock longer than the session waits (SQLite's
  BEGIN IMMEDIATE, PostgreSQL's LOCK TABLE): 503 with Retry-After.
- The blob store's disk full (a real 64 KiB tmpfs mounted over the blob folder): 507.
- A body over the size limit: 413 in the API's JSON error shape.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from crm.db import Database
from crm.models import Partner
from crm.settings import Settings
from mail_archive.models import Message
from tests.api.conftest import Api, ApiFor
from tests.conftest import World, count, require_or_skip
from tests.mailfactory import make_mail

SHORT_WAIT = 0.3  # seconds the locked-out session waits before it gives up (the test's setting)


def send_json(api: Api, method: str, path: str, raw_json: str) -> Any:
    """A body sent exactly as written: json.dumps would escape a lone surrogate as \\ud800
    too, but a client may send it that way or as the raw escape; both are tried."""
    return api.raw(method, path, data=raw_json.encode("utf-8"), content_type="application/json")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"name": "Stavby \\ud800 s.r.o."}', "name"),
        ('{"name": "Stavby", "city": "\\udfff"}', "city"),
        ('{"name": "Stavby", "emails": ["jan\\ud83d@stavby.cz"]}', "emails.0"),
        ('{"name": "Stavby", "custom": {"poznamka": "\\ud800"}}', "custom.poznamka"),
        ('{"name": "Stavby", "emails": ["jan\\u0000@stavby.cz"]}', "emails.0"),
        ('{"name": "Stavby", "note": "a\\u0000b"}', "note"),
    ],
)
def test_text_no_database_can_store_is_refused_with_422(
    api: Api, database: Database, world: World, body: str, field: str
) -> None:
    before = count(database, Partner)
    response = send_json(api, "POST", "/api/v1/partners", body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert field in response.get_json()["error"]["fields"]
    assert count(database, Partner) == before


def test_a_lone_surrogate_in_a_change_or_a_link_is_refused(
    api: Api, partner_a: dict[str, Any], database: Database
) -> None:
    path = f"/api/v1/partners/{partner_a['id']}"
    assert send_json(api, "PATCH", path, '{"city": "\\ud800"}').status_code == 422
    assert api.get(path).get_json()["city"] == "Příbram"
    deal = api.post("/api/v1/deals", {"title": "Hala", "partner_id": partner_a["id"]}).get_json()
    close = f"/api/v1/deals/{deal['id']}/actions/close"
    response = send_json(api, "POST", close, '{"status": "won", "close_note": "\\ud800"}')
    assert response.status_code == 422
    assert api.get(f"/api/v1/deals/{deal['id']}").get_json()["status"] == "open"


def test_a_nul_character_in_a_query_parameter_is_refused(api: Api, world: World) -> None:
    for path in ("/api/v1/partners", "/api/v1/messages", "/api/v1/deals"):
        response = api.get(path, q="Stavby\x00")
        assert response.status_code == 422, (path, response.get_data(as_text=True))
        assert response.get_json()["error"]["fields"] == {"q": "contains a NUL character"}


@contextmanager
def write_lock_held(settings: Settings) -> Iterator[None]:
    """Another connection holds the lock a write needs, as a long import or the mail sync
    would, until the block ends."""
    if settings.is_sqlite:
        other = sqlite3.connect(settings.sqlite_path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.rollback()
            other.close()
        return
    engine = create_engine(settings.db_url)
    try:
        with engine.connect() as conn, conn.begin():
            conn.execute(text("LOCK TABLE partners IN ACCESS EXCLUSIVE MODE"))
            yield
    finally:
        engine.dispose()


@pytest.fixture
def impatient_api(settings: Settings, database: Database, world: World) -> Iterator[Api]:
    """The API of an app whose sessions wait only SHORT_WAIT for a lock (Jana's token)."""
    from crm.services.users import create_token
    from web import create_app

    with database.session() as s:
        token = create_token(s, world.sales_a.email, "tests")
    impatient = Database(settings, busy_timeout=SHORT_WAIT)
    app: Flask = create_app(settings, impatient)
    app.config["TESTING"] = True
    yield Api(app.test_client(), token)
    impatient.dispose()


def test_a_locked_database_answers_503_with_retry_after_and_writes_nothing(
    impatient_api: Api, settings: Settings, database: Database
) -> None:
    before = count(database, Partner)
    with write_lock_held(settings):
        response = impatient_api.post("/api/v1/partners", {"name": "Mlékárna Tábor"})
    assert response.status_code == 503, response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) >= 1
    assert response.get_json()["error"]["code"] == "busy"
    assert count(database, Partner) == before
    # the lock gone, the same request succeeds
    assert impatient_api.post("/api/v1/partners", {"name": "Mlékárna Tábor"}).status_code == 201
    assert count(database, Partner) == before + 1


@contextmanager
def tiny_disk(folder: Path, size: str = "64k") -> Iterator[None]:
    """A real, tiny file system (tmpfs) mounted over ``folder``: writing more fails ENOSPC."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        require_or_skip(f"cannot mount a tiny tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def big_mail(subject: str) -> bytes:
    attachment = ("nabidka.pdf", "application/pdf", b"%PDF-1.4\n" + bytes(range(256)) * 800)
    return make_mail(subject=subject, attachments=[attachment])


def test_a_full_disk_answers_507_and_files_nothing(
    api: Api, settings: Settings, database: Database, partner_a: dict[str, Any]
) -> None:
    with tiny_disk(settings.blob_dir):
        response = api.raw(
            "POST",
            "/api/v1/messages",
            data=big_mail("Nabídka na plný disk"),
            content_type="message/rfc822",
            query_string={"partner_id": partner_a["id"]},
        )
    assert response.status_code == 507, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "storage_full"
    assert count(database, Message) == 0


def test_a_body_over_the_limit_is_413_in_the_json_shape(api: Api, world: World) -> None:
    huge = json.dumps({"name": "x", "note": "y" * (26 * 1024 * 1024)})
    response = send_json(api, "POST", "/api/v1/partners", huge)
    assert response.status_code == 413
    assert "25 MB" in response.get_json()["error"]["message"]


def test_a_record_id_past_the_id_range_is_404_on_every_method(
    api_for: ApiFor, world: World
) -> None:
    api = api_for(world.sales_a)
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        response = api.raw(method, "/api/v1/partners/2147483648", json={})
        assert response.status_code == 404, method
    # a method the path does not have: 405 naming the ones it has (RFC 9110 §15.5.6)
    response = api.raw("POST", "/api/v1/partners/1", json={})
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "PATCH", "PUT", "DELETE"}
