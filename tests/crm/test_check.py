"""``dossier check`` (issue 8, finding 14): every blob's hash, orphans left by a killed upload,
blobs that rows name but the store lacks; through the real CLI, on both databases."""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from crm.blobs import BlobStore
from crm.cli import main
from crm.db import Database
from crm.settings import Settings
from mail_archive.models import Attachment, Message
from tests.conftest import World
from tests.mailfactory import make_mail

HOURS_AGO = time.time() - 2 * 3600


@pytest.fixture
def cli(settings: Settings, world: World, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DOSSIER_HOME", str(settings.home))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    return CliRunner()


def run(cli: CliRunner, *args: str) -> Result:
    return cli.invoke(main, list(args), catch_exceptions=False)


def file_a_mail(cli: CliRunner, tmp_path: Path, world: World) -> None:
    eml = tmp_path / "nabidka.eml"
    eml.write_bytes(make_mail(attachments=[("nabidka.pdf", "application/pdf", b"%PDF-1.4 x")]))
    filed = run(cli, "file", str(eml), "--user", world.sales_a.email)
    assert filed.exit_code == 0, filed.output


def test_a_clean_store_passes(cli: CliRunner, tmp_path: Path, world: World) -> None:
    file_a_mail(cli, tmp_path, world)
    result = run(cli, "check")
    assert result.exit_code == 0, result.output
    assert "0 damaged, 0 missing, 0 orphans" in result.output
    assert re.search(r"^[2-9] blobs checked", result.output, re.M)


def test_orphans_damage_and_missing_blobs_are_found_and_orphans_removed(
    cli: CliRunner, settings: Settings, database: Database, tmp_path: Path, world: World
) -> None:
    file_a_mail(cli, tmp_path, world)
    store = BlobStore(settings.blob_dir)
    with database.session(write=False) as s:
        raw_sha = s.scalars(select(Message.sha256)).one()
        attachment_sha = s.scalars(select(Attachment.sha256)).one()
    # A killed upload: its blobs were written, its rows never committed.
    killed = store.batch().put(make_mail(subject="Nikdy neuloženo"))
    os.utime(store.path(killed), (HOURS_AGO, HOURS_AGO))
    leftover = store.path(killed).parent / ".tmp-abc123"
    leftover.write_bytes(b"half a message")
    os.utime(leftover, (HOURS_AGO, HOURS_AGO))
    in_progress = store.batch().put(b"an upload still running")  # young: kept
    store.path(raw_sha).write_bytes(b"bit rot")  # damaged
    store.path(attachment_sha).unlink()  # missing

    found = run(cli, "check")
    assert found.exit_code == 1
    assert f"damaged: {raw_sha}" in found.output
    assert f"missing: {attachment_sha} (named by message_attachments.sha256" in found.output
    assert f"orphan: {store.path(killed)}" in found.output
    assert f"orphan: {leftover}" in found.output
    assert in_progress not in found.output
    assert "--remove-orphans" in found.output
    assert store.path(killed).exists() and leftover.exists()  # nothing removed unasked

    fixed = run(cli, "check", "--remove-orphans")
    assert fixed.exit_code == 1  # the damaged and the missing blob remain
    assert f"removed: {store.path(killed)}" in fixed.output
    assert not store.path(killed).exists() and not leftover.exists()
    assert store.path(in_progress).exists()  # younger than --min-age
    assert store.path(raw_sha).exists()  # damaged but named: restore it, never delete it
    assert hashlib.sha256(store.path(raw_sha).read_bytes()).hexdigest() != raw_sha

    # Once the damaged and the missing blob are back (from a backup), all is well again.
    store.path(raw_sha).unlink()
    assert store.batch().put((tmp_path / "nabidka.eml").read_bytes()) == raw_sha
    assert store.batch().put(b"%PDF-1.4 x") == attachment_sha
    well = run(cli, "check")
    assert well.exit_code == 0, well.output
    assert "--min-age" in run(cli, "check", "--help").output


def test_writing_bytes_already_stored_keeps_an_old_orphan_alive(
    cli: CliRunner, settings: Settings, world: World
) -> None:
    """An upload that counts on an old orphan's bytes touches it: check leaves it be."""
    store = BlobStore(settings.blob_dir)
    sha = store.batch().put(b"old bytes")
    os.utime(store.path(sha), (HOURS_AGO, HOURS_AGO))
    store.batch().put(b"old bytes")  # a new upload of the same bytes, not yet committed
    result = run(cli, "check", "--remove-orphans")
    assert store.path(sha).exists()
    assert "1 younger than 60 minutes kept" in result.output
