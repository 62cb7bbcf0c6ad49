"""A database made by the main of before issue 9 (commit 3012a68: every table, mail's too, in
crm's chain, revision 0003) upgrades to today's per-package chains without losing a row.

The old tree comes from git (``git archive``) and makes its database and demo in a subprocess
that imports only the old code; today's code then upgrades it and serves it.
"""

from __future__ import annotations

import io
import itertools
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask.testing import FlaskClient
from sqlalchemy import select

from crm.backup import restore
from crm.bootstrap import initialize
from crm.db import Database, alembic_config
from crm.errors import Conflict
from crm.models import CodebookEntry
from crm.settings import Settings
from tests.conftest import REPO, login, require_or_skip

pytestmark = pytest.mark.slow

MAIN = "3012a68"  # today's main when issue 9 began
_names = itertools.count()

# Run by the old tree's Python path: its models, its migrations (0003 made the mail tables), its
# demo. The installed entry points name today's packages, so the old models are imported here
# directly instead of through them.
OLD_DEMO = """
import sys
from pathlib import Path

import crm.db

def load_models():
    import connector.models
    import mail_archive.models

crm.db.load_models = load_models

import connector.demo
import crm.backup
import crm.demo
import mail_archive.models
from crm.bootstrap import initialize
from crm.settings import Settings

old = Path(sys.argv[1]).resolve()
for module in (crm.db, crm.demo, connector.demo, mail_archive.models):
    assert Path(module.__file__).resolve().is_relative_to(old), module.__file__
db = initialize(Settings(home=Path(sys.argv[2]), database_url=sys.argv[3], secret_key="old"))
assert crm.demo.load_demo(db) is not None
assert connector.demo.load_demo_mail(db) > 0
db.dispose()
crm.backup.backup(db.settings, sys.argv[4])
"""

# Columns whose values must come through unchanged (other columns may be reshaped by today's
# migrations of crm's own tables).
KEPT = {
    "partners": ("id", "name", "private"),
    "deals": ("id", "title", "partner_id"),
    "messages": ("id", "sha256", "subject", "body_text", "status", "owner_id"),
    "message_sources": ("id", "message_id", "key", "sha256"),
    "message_attachments": ("id", "message_id", "sha256", "filename"),
    "message_links": ("id", "message_id", "partner_id", "person_id", "deal_id", "removed"),
    "mail_accounts": ("id", "name", "username"),
    "mail_folder_states": ("id", "account_id", "folder"),
}


@pytest.fixture(scope="module")
def old_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Today's main as it was, unpacked from git."""
    if not _has_commit():
        require_or_skip(f"the commit {MAIN} (today's main) is not in a git repository here")
    tree = tmp_path_factory.mktemp("main")
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", MAIN],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")
    return tree


def _has_commit() -> bool:
    try:
        found = subprocess.run(
            ["git", "-C", str(REPO), "cat-file", "-e", f"{MAIN}^{{commit}}"],
            capture_output=True,
            check=False,
        )
    except OSError:  # no git
        return False
    return found.returncode == 0


@pytest.fixture(scope="module")
def made_by_main() -> dict[str, tuple[Path, str]]:
    """The old code's data directory and database URL per backend, made once (the demo takes
    a while); each test works on a copy."""
    return {}


@pytest.fixture
def old_database(
    old_tree: Path,
    made_by_main: dict[str, tuple[Path, str]],
    backend: str,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Settings:
    """A data directory and database made and filled with the demo (and backed up) by the old
    code."""
    server = request.getfixturevalue("pg_server") if backend == "postgresql" else None
    if backend == "postgresql" and server is None:
        require_or_skip("PostgreSQL is not available: install Debian's postgresql")
    if backend not in made_by_main:
        made_by_main[backend] = make_with_main(old_tree, tmp_path_factory.mktemp("main"), server)
    original, url = made_by_main[backend]
    home = tmp_path / "home"
    shutil.copytree(original, home)
    shutil.copyfile(old_backup(original), old_backup(home))
    if server is not None:
        name = f"main{os.getpid()}_{next(_names)}"
        server.admin_sql(f"CREATE DATABASE {name} TEMPLATE {url.rsplit('/', 1)[1]}")
        url = str(server.url(name))
    return Settings(home=home, database_url=url, secret_key="old")


def make_with_main(old_tree: Path, folder: Path, server: Any) -> tuple[Path, str]:
    home = folder / "home"
    url = ""
    if server is not None:
        name = f"main{os.getpid()}_{next(_names)}"
        server.admin_sql(f"CREATE DATABASE {name}")
        url = str(server.url(name))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOSSIER_", "DATABASE_"))}
    env["PYTHONPATH"] = str(old_tree)
    done = subprocess.run(
        [sys.executable, "-c", OLD_DEMO, str(old_tree), str(home), url, str(old_backup(home))],
        cwd=old_tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return home, url


def old_backup(home: Path) -> Path:
    """Where the old code left its backup of the old database."""
    return home.parent / "main-backup.tar.gz"


def contents(db: Database) -> tuple[dict[str, int], dict[str, list[tuple[Any, ...]]], set[str]]:
    """Rows per table, the KEPT columns' values, and the Alembic revisions."""
    with db.engine.connect() as conn:
        metadata = sa.MetaData()
        metadata.reflect(bind=conn)
        counts = {
            name: int(conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
            for name, table in metadata.tables.items()
            if name != "alembic_version"
        }
        kept = {
            name: [
                tuple(row)
                for row in conn.execute(
                    sa.select(*(metadata.tables[name].c[c] for c in columns)).order_by(
                        metadata.tables[name].c.id
                    )
                )
            ]
            for name, columns in KEPT.items()
        }
        revisions = set(conn.scalars(sa.text("SELECT version_num FROM alembic_version")))
    return counts, kept, revisions


def test_a_database_of_main_upgrades_without_loss(old_database: Settings) -> None:
    db = Database(old_database)
    before, kept_before, revisions = contents(db)
    assert revisions == {"0005"}  # the old single chain
    assert before["messages"] > 10 and before["message_links"] > 0 and before["partners"] > 10
    db.dispose()

    db = initialize(old_database)  # `dossier init` of today: every package's chain
    try:
        after, kept_after, revisions = contents(db)
        script = ScriptDirectory.from_config(alembic_config(db))
        assert revisions == set(script.get_heads())  # a head per package's chain
        assert {name: after.get(name) for name in before} == before
        assert kept_after == kept_before
        db.upgrade()  # a second upgrade finds nothing to do
        assert contents(db)[0] == after
        with db.session(write=False) as s:  # the shipped codebook entries now speak Czech
            stage = s.scalars(
                select(CodebookEntry).where(CodebookEntry.label == "Offer sent")
            ).one()
            assert stage.label_in("cs") == "Nabídka odeslána"
        reads_a_partner_page_and_a_message(old_database, db)
    finally:
        db.dispose()


def reads_a_partner_page_and_a_message(settings: Settings, db: Database) -> None:
    """What a user notices: the upgraded archive still shows its mail on the partner's page."""
    from web import create_app

    with db.engine.connect() as conn:
        partner_id, name, message_id, subject = conn.execute(
            sa.text(
                "SELECT p.id, p.name, m.id, m.subject FROM message_links l"
                " JOIN partners p ON p.id = l.partner_id JOIN messages m ON m.id = l.message_id"
                " WHERE NOT l.removed AND NOT p.private AND m.subject <> ''"
                " ORDER BY m.sort_at DESC, m.id LIMIT 1"
            )
        ).one()
    app = create_app(settings, db)
    app.config["TESTING"] = True
    client: FlaskClient = app.test_client()
    login(client, "admin@demo.dossier.cz", "demo1234")
    page = client.get(f"/partners/{partner_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert name in html or name.replace("&", "&amp;") in html
    message = client.get(f"/mail/{message_id}")
    assert message.status_code == 200
    assert _escaped(subject) in message.get_data(as_text=True)


def _escaped(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def test_a_backup_made_by_main_restores(old_database: Settings, tmp_path: Path) -> None:
    """Its manifest names one revision (crm's 0005, whose schema held every table): into
    SQLite it restores and upgrades; a server database, already at today's heads, refuses it
    with the advice to restore it with the old version first, as for any older backup."""
    db = Database(old_database)
    before, kept_before, _ = contents(db)
    db.dispose()
    target = Settings(home=tmp_path / "restored", secret_key="new")
    if not old_database.is_sqlite:
        target = Settings(
            home=tmp_path / "restored", database_url=old_database.database_url, secret_key="new"
        )
        initialize(target).dispose()  # today's heads
        with pytest.raises(Conflict, match=r"schema \(0005\) differs"):
            restore(target, old_backup(old_database.home))
        return
    restore(target, old_backup(old_database.home))
    db = Database(target)
    try:
        after, kept_after, revisions = contents(db)
        assert revisions == set(ScriptDirectory.from_config(alembic_config(db)).get_heads())
        ephemeral = {"user_sessions", "login_failures"}
        assert {n: after[n] for n in before if n not in ephemeral} == {
            n: c for n, c in before.items() if n not in ephemeral
        }
        assert kept_after == kept_before
    finally:
        db.dispose()
