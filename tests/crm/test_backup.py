"""`dossier backup FILE` / `dossier restore FILE`: the whole data directory round-trips, a backup
taken while others write is a consistent snapshot, and unsafe or foreign archives are refused
before anything is touched."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import os
import sqlite3
import tarfile
import threading
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import MetaData, select

from crm.backup import backup, restore
from crm.bootstrap import initialize
from crm.cli import main
from crm.db import Database, alembic_config
from crm.errors import BadFile
from crm.models import Partner
from crm.services.activities import activities
from crm.services.codebooks import add_custom_field
from crm.services.deals import deals
from crm.services.partners import partners
from crm.services.persons import persons
from crm.services.users import create_user, find_user
from crm.settings import Settings
from tests.conftest import require_or_skip

Snapshot = dict[str, list[tuple[Any, ...]]]
_names = itertools.count()


def snapshot(db: Database) -> Snapshot:
    """Every row of every table, the Alembic table included."""
    metadata = MetaData()
    with db.engine.connect() as conn:
        metadata.reflect(bind=conn)
        return {
            # (column, value) pairs: a table migrated on one backend may order its columns
            # otherwise than the same table made on the other
            table.name: sorted(
                (tuple(sorted(row._mapping.items())) for row in conn.execute(select(table))),
                key=repr,
            )
            for table in metadata.sorted_tables
        }


def comparable(snap: Snapshot) -> Snapshot:
    """Datetimes as naive UTC, so SQLite's and PostgreSQL's rows compare."""

    def value(v: Any) -> Any:
        if isinstance(v, dt.datetime) and v.tzinfo is not None:
            return v.astimezone(dt.UTC).replace(tzinfo=None)
        return v

    return {
        name: sorted((tuple((k, value(v)) for k, v in row) for row in rows), key=repr)
        for name, rows in snap.items()
    }


def files(settings: Settings) -> dict[str, bytes]:
    out = {}
    for root in (settings.blob_dir, settings.index_dir):
        for path in sorted(root.rglob("*")):
            if path.is_file():
                out[str(path.relative_to(settings.home))] = path.read_bytes()
    return out


def populate(db: Database, settings: Settings) -> None:
    """Users, partners with diacritics, persons, deals, activities, custom values, files."""
    with db.session() as s:
        admin = create_user(s, "admin@firma.cz", "Alena Adminová", "admin", ["Vedení"], "heslo123")
        jana = create_user(s, "jana@firma.cz", "Jana Nováková", "sales", ["Tým A"], "heslo123")
        add_custom_field(
            s,
            admin,
            {
                "record_type": "partner",
                "key": "employees",
                "label": "Zaměstnanci",
                "field_type": "number",
            },
        )
        stavby = partners.create(
            s,
            jana,
            {
                "name": "Stavby Příbram s.r.o.",
                "company_id": "25123891",
                "emails": "obchod@stavby-pribram.cz",
                "domains": "stavby-pribram.cz",
                "custom": {"employees": 120},
                "note": "Žluťoučký kůň úpěl ďábelské ódy.\nDruhý řádek",
                "category": "A",
                "kind": "Customer",
            },
        )
        senica = partners.create(
            s, jana, {"name": "Poľnohospodárske družstvo Senica", "country": "SK"}
        )
        partners.create(
            s, admin, {"name": "Kowalski Sp. z o.o. – Łódź", "country": "PL", "private": True}
        )
        persons.create(
            s,
            jana,
            {
                "partner_id": stavby.id,
                "name": "Jiří Šťastný",
                "birthday": "1975-04-23",
                "emails": "jiri@stavby-pribram.cz",
            },
        )
        deal = deals.create(
            s,
            jana,
            {
                "title": "Hala Příbram",
                "partner_id": stavby.id,
                "value": "1 250 000,50",
                "currency": "EUR",
                "expected_close": "2026-12-31",
            },
        )
        deals.create(s, jana, {"title": "Sklad obilí", "partner_id": senica.id, "value": "0.01"})
        activities.create(
            s,
            jana,
            {"kind": "call", "title": "Zavolat ohledně nabídky", "deal_id": deal.id, "done": True},
        )
        activities.create(
            s, jana, {"kind": "task", "title": "Poslat smlouvu", "due_date": "2026-12-01"}
        )
    (settings.blob_dir / "3f" / "a1").mkdir(parents=True, exist_ok=True)
    (settings.blob_dir / "3f" / "a1" / "3fa1c0ffee").write_bytes(bytes(range(256)) * 10)
    (settings.blob_dir / "3f" / "a1" / "3fa1beef").write_bytes("Dobrý den, příloha".encode())
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    (settings.index_dir / "MAIN_1.toc").write_bytes(b"\x00index toc\x01")
    (settings.index_dir / "MAIN_abc.seg").write_bytes(os.urandom(2048))
    settings.secret_key_file.write_text("secret-from-before\n")
    settings.mail_key_file.write_text("mail-key-from-before\n")


@pytest.fixture
def fresh(settings: Settings, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """An empty data directory (and an empty database) of the same kind as ``settings``."""
    home = tmp_path / "fresh" / "home"
    if settings.is_sqlite:
        return Settings(home=home, secret_key="test-secret")
    return Settings(home=home, database_url=empty_pg_database(request), secret_key="test-secret")


def empty_pg_database(request: pytest.FixtureRequest) -> str:
    server = request.getfixturevalue("pg_server")
    if server is None:
        require_or_skip("PostgreSQL is not available: install Debian's postgresql")
    name = f"fresh{os.getpid()}_{next(_names)}"
    server.admin_sql(f"CREATE DATABASE {name}")
    return str(server.url(name))


def test_round_trip_replaces_altered_data_exactly(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    populate(database, settings)
    before, before_files = snapshot(database), files(settings)
    archive = tmp_path / "zaloha.tar.gz"
    summary = backup(settings, archive)
    assert f"Backup written to {archive}" in summary
    assert "partners 3" in summary and "persons 1" in summary and "deals 2" in summary
    assert "2 in blobs, 2 in index, the secret key" in summary
    assert archive.stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob(".dossier-backup-*"))  # no leftovers beside the archive

    with database.session() as s:
        admin = find_user(s, "admin@firma.cz")
        assert admin is not None
        stavby = partners.by_company_id(s, admin, "25123891")
        assert stavby is not None
        partners.update(s, admin, stavby.id, {"name": "Přejmenováno", "emails": []})
        partners.create(s, admin, {"name": "Nový po záloze"})
        s.delete(s.scalars(select(Partner).where(Partner.country == "PL")).one())
    (settings.blob_dir / "3f" / "a1" / "3fa1beef").unlink()
    (settings.blob_dir / "new-after-backup").write_bytes(b"x")
    (settings.index_dir / "MAIN_1.toc").write_bytes(b"changed")
    settings.secret_key_file.write_text("secret-after\n")
    settings.mail_key_file.write_text("mail-key-after\n")
    assert snapshot(database) != before

    summary = restore(settings, archive)
    assert "partners 3" in summary
    # The database object opened before the restore - a running server - sees the backup.
    assert snapshot(database) == before
    assert files(settings) == before_files
    assert settings.secret_key_file.read_text() == "secret-from-before\n"
    assert settings.mail_key_file.read_text() == "mail-key-from-before\n"  # stored passwords
    assert not [p for p in settings.home.parent.iterdir() if p.name.startswith(".")]
    # New rows get fresh ids after the restore (PostgreSQL sequences were reset).
    with database.session() as s:
        admin = find_user(s, "admin@firma.cz")
        assert admin is not None
        created = partners.create(s, admin, {"name": "Po obnově"})
        assert created.id > max(dict(row)["id"] for row in before["partners"])


def test_manifest_lists_what_the_archive_holds(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    populate(database, settings)
    archive = tmp_path / "b.tar.gz"
    backup(settings, archive)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest_file = tar.extractfile("manifest.json")
        assert manifest_file is not None
        manifest = json.load(manifest_file)
    assert manifest["format"] == "dossier-backup" and manifest["version"] == 1
    assert manifest["database"]["kind"] == ("sqlite" if settings.is_sqlite else "postgresql")
    heads = ScriptDirectory.from_config(alembic_config(database)).get_heads()
    assert manifest["database"]["schema_revisions"] == sorted(heads)
    assert len(heads) == 3  # crm, mail_archive and connector each have a chain
    assert manifest["database"]["tables"]["partners"] == 3
    assert manifest["database"]["tables"]["activities"] == 2
    assert manifest["files"] == {"blobs": 2, "index": 2}
    assert "blobs/3f/a1/3fa1c0ffee" in names and "secret_key" in names
    if settings.is_sqlite:
        assert "database/dossier.db" in names
    else:
        assert "database/partners.jsonl" in names


def test_backup_while_another_thread_writes_is_a_consistent_snapshot(
    settings: Settings, database: Database, fresh: Settings, tmp_path: Path
) -> None:
    populate(database, settings)
    with database.session() as s:
        writer_user = find_user(s, "jana@firma.cz")
    assert writer_user is not None
    stop = threading.Event()
    written: list[str] = []
    errors: list[BaseException] = []

    def write() -> None:
        db = Database(settings)
        try:
            for i in itertools.count():
                if stop.is_set():
                    return
                name = f"Souběžná firma {i:05d}"
                with db.session() as s:
                    partners.create(s, writer_user, {"name": name, "note": "ř" * 2000})
                written.append(name)
        except BaseException as exc:  # reported by the test below
            errors.append(exc)
        finally:
            db.dispose()

    thread = threading.Thread(target=write)
    thread.start()
    try:
        while len(written) < 30 and thread.is_alive():
            stop.wait(0.01)
        archive = tmp_path / "during.tar.gz"
        backup(settings, archive)
        during = len(written)
        while len(written) < during + 30 and thread.is_alive():
            stop.wait(0.01)
    finally:
        stop.set()
        thread.join(60)
    assert not errors, errors
    assert len(written) >= during + 30

    if settings.is_sqlite:
        with tarfile.open(archive) as tar:
            tar.extract("database/dossier.db", tmp_path / "x", filter="data")
        copy = sqlite3.connect(tmp_path / "x" / "database" / "dossier.db")
        try:
            assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            copy.close()

    restore(fresh, archive)
    restored_db = Database(fresh)
    try:
        with restored_db.session() as s:
            names = s.scalars(
                select(Partner.name).where(Partner.name.like("Souběžná%")).order_by(Partner.id)
            ).all()
    finally:
        restored_db.dispose()
    assert len(names) >= 30
    assert list(names) == written[: len(names)]  # a prefix of the writes, no gaps


def _archive_with(tmp_path: Path, settings: Settings, extra: tarfile.TarInfo) -> Path:
    """A real backup of ``settings`` with one more member."""
    good = tmp_path / "good.tar.gz"
    backup(settings, good)
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(good) as src, tarfile.open(bad, "w:gz") as out:
        out.addfile(extra, io.BytesIO(b"pwned\n") if extra.isreg() else None)
        for member in src.getmembers():
            out.addfile(member, src.extractfile(member) if member.isreg() else None)
    return bad


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "hardlink", "device", "foreign"])
def test_unsafe_archives_are_refused_and_nothing_is_touched(
    settings: Settings, database: Database, tmp_path: Path, kind: str
) -> None:
    populate(database, settings)
    outside = tmp_path / "evil"
    member = tarfile.TarInfo(
        {
            "dotdot": "blobs/../../../evil",
            "absolute": str(outside),
            "symlink": "blobs/link",
            "hardlink": "blobs/hard",
            "device": "blobs/dev",
            "foreign": "etc/passwd",
        }[kind]
    )
    member.size = 6
    if kind == "symlink":
        member.type, member.linkname, member.size = tarfile.SYMTYPE, str(outside), 0
    elif kind == "hardlink":
        member.type, member.linkname, member.size = tarfile.LNKTYPE, "secret_key", 0
    elif kind == "device":
        member.type, member.devmajor, member.devminor, member.size = tarfile.CHRTYPE, 1, 3, 0
    bad = _archive_with(tmp_path, settings, member)
    before, before_files = snapshot(database), files(settings)
    with pytest.raises(BadFile) as err:
        restore(settings, bad)
    assert f"the member “{member.name}”" in err.value.message
    assert not outside.exists() and not (settings.home.parent.parent / "evil").exists()
    assert snapshot(database) == before and files(settings) == before_files
    assert not [p for p in settings.home.parent.iterdir() if p.name.startswith(".")]


def test_foreign_and_damaged_files_are_refused(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    populate(database, settings)
    before = snapshot(database)
    text = tmp_path / "notes.txt"
    text.write_text("toto není záloha\n")
    png = tmp_path / "image.tar.gz"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(500))
    for path in (text, png):
        with pytest.raises(BadFile, match=r"is not a Dossier backup \(not a tar.gz archive\)"):
            restore(settings, path)
    no_manifest = tmp_path / "plain.tar.gz"
    with tarfile.open(no_manifest, "w:gz") as tar:
        info = tarfile.TarInfo("blobs/x")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(BadFile, match=r"has no manifest\.json"):
        restore(settings, no_manifest)
    good = tmp_path / "good.tar.gz"
    backup(settings, good)
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(BadFile):
        restore(settings, truncated)
    with pytest.raises(BadFile, match="unpacks to more than"):
        restore(settings, good, max_bytes=10_000)
    assert snapshot(database) == before
    # The command line says the same, without a traceback.
    result = CliRunner().invoke(
        main,
        ["restore", str(text)],
        env={"DOSSIER_HOME": str(settings.home), "DATABASE_URL": settings.database_url},
    )
    assert result.exit_code == 1
    assert "Error: notes.txt is not a Dossier backup (not a tar.gz archive)" in result.output


def test_restore_into_a_fresh_data_directory(
    settings: Settings, database: Database, fresh: Settings, tmp_path: Path
) -> None:
    populate(database, settings)
    before, before_files = snapshot(database), files(settings)
    archive = tmp_path / "zaloha.tar.gz"
    env = {"DOSSIER_HOME": str(settings.home), "DATABASE_URL": settings.database_url}
    result = CliRunner().invoke(main, ["backup", str(archive)], env=env)
    assert result.exit_code == 0, result.output
    assert not fresh.home.exists()
    env = {"DOSSIER_HOME": str(fresh.home), "DATABASE_URL": fresh.database_url}
    result = CliRunner().invoke(main, ["restore", str(archive)], env=env)
    assert result.exit_code == 0, result.output
    assert "Restored" in result.output and "partners 3" in result.output
    restored = Database(fresh)
    try:
        assert snapshot(restored) == before
        # Ids continue after the restored rows (PostgreSQL: the sequences were reset).
        with restored.session() as s:
            jana = find_user(s, "jana@firma.cz")
            assert jana is not None
            partner = partners.create(s, jana, {"name": "Po obnově"})
            deal = deals.create(s, jana, {"title": "Nový obchod", "partner_id": partner.id})
            activities.create(s, jana, {"kind": "note", "title": "Poznámka", "deal_id": deal.id})
            create_user(s, "novy@firma.cz", "Nový Uživatel", "sales", ["Tým A"])
        assert partner.id == max(dict(row)["id"] for row in before["partners"]) + 1
    finally:
        restored.dispose()
    assert files(fresh) == before_files
    assert fresh.secret_key_file.read_text() == "secret-from-before\n"
    assert fresh.mail_key_file.read_text() == "mail-key-from-before\n"


def test_a_damaged_database_in_the_archive_is_refused_and_nothing_changes(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    populate(database, settings)
    good = tmp_path / "good.tar.gz"
    backup(settings, good)
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(good) as src, tarfile.open(bad, "w:gz") as out:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isreg() else None  # type: ignore[union-attr]
            if member.name == "database/dossier.db":
                assert data is not None
                data = data[:4096] + os.urandom(len(data) - 4096)  # header kept, pages garbage
            elif member.name == "database/partners.jsonl":
                assert data is not None
                data = b"".join(data.splitlines(keepends=True)[:-1])  # the last row is lost
            if data is not None:
                member.size = len(data)
            out.addfile(member, io.BytesIO(data) if data is not None else None)
    with database.session() as s:
        admin = find_user(s, "admin@firma.cz")
        assert admin is not None
        partners.create(s, admin, {"name": "Po záloze"})
    before, before_files = snapshot(database), files(settings)
    with pytest.raises(BadFile):
        restore(settings, bad)
    assert snapshot(database) == before and files(settings) == before_files


def test_a_backup_moves_between_sqlite_and_this_backend(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    """SQLite -> this backend and this backend -> SQLite (PostgreSQL: the way to move a home)."""
    source = Settings(home=tmp_path / "lite-source", secret_key="test-secret")
    source_db = initialize(source)
    try:
        populate(source_db, source)
        expected = comparable(snapshot(source_db))
    finally:
        source_db.dispose()
    archive = tmp_path / "lite.tar.gz"
    backup(source, archive)
    restore(settings, archive)
    assert comparable(snapshot(database)) == expected
    assert files(settings) == files(source)

    back = tmp_path / "back.tar.gz"
    backup(settings, back)
    target = Settings(home=tmp_path / "lite-target", secret_key="test-secret")
    restore(target, back)
    target_db = Database(target)
    try:
        assert comparable(snapshot(target_db)) == expected
    finally:
        target_db.dispose()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # SQLite backups hold a file
def test_a_damaged_value_in_a_row_dump_is_refused(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    populate(database, settings)
    good = tmp_path / "good.tar.gz"
    backup(settings, good)
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(good) as src, tarfile.open(bad, "w:gz") as out:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isreg() else None  # type: ignore[union-attr]
            if member.name == "database/deals.jsonl":
                assert data is not None
                rows = [json.loads(line) for line in data.splitlines()]
                rows[0]["expected_close"] = "31. 12. 2026"
                data = "".join(json.dumps(row) + "\n" for row in rows).encode()
                member.size = len(data)
            out.addfile(member, io.BytesIO(data) if data is not None else None)
    before = snapshot(database)
    with pytest.raises(BadFile, match="the backup's table deals has a damaged value"):
        restore(settings, bad)
    assert snapshot(database) == before
