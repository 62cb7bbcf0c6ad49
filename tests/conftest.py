"""Shared fixtures: a fresh data directory and database per test, on SQLite and PostgreSQL.

``DOSSIER_TEST_DATABASES`` (default ``sqlite,postgresql``) picks the backends. A missing system
server skips its tests with the reason, or fails them under ``DOSSIER_REQUIRE_ALL=1`` (CI).
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from crm.bootstrap import initialize
from crm.db import Database
from crm.models import User
from crm.passwords import hash_password
from crm.services.users import create_user
from crm.settings import Settings
from tests.servers.postgres import PostgresServer, ServerMissing, postgres_server

REPO = Path(__file__).resolve().parent.parent
BACKENDS = [
    b for b in os.environ.get("DOSSIER_TEST_DATABASES", "sqlite,postgresql").split(",") if b
]
_counter = itertools.count()


def require_or_skip(reason: str) -> None:
    if os.environ.get("DOSSIER_REQUIRE_ALL") == "1":
        pytest.fail(f"DOSSIER_REQUIRE_ALL=1 but {reason}")
    pytest.skip(reason)


def corpora_dir() -> Path:
    return Path(os.environ.get("DOSSIER_CORPORA", REPO.parent / "shared" / "corpora"))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer | None]:
    try:
        with postgres_server() as server:
            yield server
    except ServerMissing as exc:
        yield None
        pg_server.missing = str(exc)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def pg_template(pg_server: PostgresServer | None) -> str | None:
    """A database migrated once; each test's database is a copy of it."""
    if pg_server is None:
        return None
    pg_server.admin_sql("CREATE DATABASE dossier_template")
    settings = Settings(home=Path("/nonexistent"), database_url=pg_server.url("dossier_template"))
    db = Database(settings)
    db.upgrade()
    db.dispose()
    return "dossier_template"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, seeded SQLite database made once; each test starts from a copy."""
    home = tmp_path_factory.mktemp("template")
    initialize(Settings(home=home, secret_key="test-secret")).dispose()
    return home / "dossier.db"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# Mail servers in tests are on loopback: a connection test needs no 10 s to fail.
TEST_MAIL_TIMEOUT = 3


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    home = tmp_path / "home"
    if backend == "sqlite":
        home.mkdir()
        shutil.copyfile(request.getfixturevalue("sqlite_template"), home / "dossier.db")
        return Settings(home=home, secret_key="test-secret", mail_timeout=TEST_MAIL_TIMEOUT)
    server: PostgresServer | None = request.getfixturevalue("pg_server")
    if server is None:
        require_or_skip("PostgreSQL is not available: install Debian's postgresql")
    assert server is not None
    template = request.getfixturevalue("pg_template")
    name = f"t{os.getpid()}_{next(_counter)}"
    server.admin_sql(f"CREATE DATABASE {name} TEMPLATE {template}")
    return Settings(
        home=home,
        database_url=server.url(name),
        secret_key="test-secret",
        mail_timeout=TEST_MAIL_TIMEOUT,
    )


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    db = initialize(settings)
    yield db
    db.dispose()


@dataclass
class World:
    """Two sales teams, A and B, and a user of every role."""

    admin: User
    manager_a: User
    sales_a: User
    sales_a2: User
    sales_b: User
    password: str = "correct horse 1"


@functools.cache
def world_password_hash() -> str:
    """scrypt is slow by design: hash the shared test password once per run."""
    return hash_password(World.password)


@pytest.fixture
def world(database: Database) -> World:
    with database.session() as s:
        users = World(
            admin=create_user(s, "admin@firma.cz", "Alena Adminová", "admin", ["Vedení"]),
            manager_a=create_user(s, "manager@firma.cz", "Marek Manažer", "manager", ["Tým A"]),
            sales_a=create_user(s, "jana@firma.cz", "Jana Nováková", "sales", ["Tým A"]),
            sales_a2=create_user(s, "petr@firma.cz", "Petr Dvořák", "sales", ["Tým A"]),
            sales_b=create_user(s, "zofia@firma.pl", "Zofia Wójcik", "sales", ["Tým B"]),
        )
        for user in vars(users).values():
            if isinstance(user, User):
                user.password_hash = world_password_hash()
    return users


@pytest.fixture
def app(settings: Settings, database: Database) -> Iterator[Flask]:
    from web import create_app

    flask_app = create_app(settings, database)
    flask_app.config["TESTING"] = True
    yield flask_app
    # A connection test the test started (adding a mail account) runs on in the background:
    # let it finish before its database goes, or its connection outlives the test.
    from connector.probe import EXTENSION

    probes = flask_app.extensions.get(EXTENSION)
    if probes is not None:
        probes.join(timeout=settings.mail_timeout + 5)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf_of(client: FlaskClient) -> str:
    with client.session_transaction() as sess:
        if "csrf" not in sess:
            sess["csrf"] = "test-csrf-token"
        return str(sess["csrf"])


def login(client: FlaskClient, user: User | str, password: str = World.password) -> None:
    email = user if isinstance(user, str) else user.email
    client.get("/login")
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_of(client)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def post_form(client: FlaskClient, url: str, data: dict[str, Any], **kwargs: Any) -> Any:
    """Submit a form as the browser would: with the page's CSRF token."""
    return client.post(url, data={**data, "csrf_token": csrf_of(client)}, **kwargs)


@pytest.fixture(scope="session", autouse=True)
def compiled_translations() -> None:
    """`make test` compiles the catalogs; this keeps a plain `pytest` run working too."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in (REPO / "web" / "translations").glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as src, mo.open("wb") as out:
                write_mo(out, read_po(src))


from tests.servers.fixtures import *  # noqa: E402, F403  (dovecot, imap_user, smtp_server)


def count(database: Database, model: type, *, trashed: bool = False) -> int:
    """Rows of a table, read outside any test transaction; of a table whose deleted records go
    to the trash (crm.trash), those not in it (with ``trashed``: those in it)."""
    query = select(func.count()).select_from(model)
    if hasattr(model, "deleted_at"):
        in_trash = model.deleted_at.is_not(None)  # type: ignore[attr-defined]
        query = query.where(in_trash if trashed else ~in_trash)
    with database.session(write=False) as s:
        return int(s.scalar(query) or 0)
