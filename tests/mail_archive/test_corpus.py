"""Every message of the shared corpus (12,767 real mails written by others): none raises, each
is stored, and its raw bytes come back byte-identical. Runs on SQLite only: the same code path
on PostgreSQL is covered by the rest of the suite, and this test is about the parser."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm.blobs import BlobStore
from crm.db import Database
from mail_archive.filing import RuleFiler
from mail_archive.ingest import Archive, Source
from mail_archive.models import Message, MessageSource
from tests.conftest import World, corpora_dir


def corpus_files() -> list[Path]:
    root = corpora_dir() / "mail"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


def test_every_corpus_message_is_archived_and_comes_back_byte_identical(
    backend: str, database: Database, world: World
) -> None:
    if backend != "sqlite":
        pytest.skip("the corpus runs once, on SQLite")
    files = corpus_files()
    if not files:
        pytest.skip(f"the mail corpus is absent ({corpora_dir() / 'mail'})")
    blobs = BlobStore(database.settings.blob_dir)
    for start in range(0, len(files), 500):
        with database.session() as s:
            archive = Archive(s, blobs, RuleFiler())
            for path in files[start : start + 500]:
                raw = path.read_bytes()
                result = archive.ingest(
                    raw,
                    Source(kind="file", key=f"file:{path}", user_id=world.admin.id, explicit=True),
                )
                assert result.message_id is not None, path
    with database.session() as s:
        copies = {k: v for k, v in s.execute(select(MessageSource.key, MessageSource.sha256))}
        messages = s.scalar(select(func.count()).select_from(Message))
    assert messages and messages <= len(files)
    for path in files:  # every copy's bytes come back exactly as they were
        raw = path.read_bytes()
        assert blobs.get(copies[f"file:{path}"]) == raw, path
    with database.session() as s:
        with_text = s.scalar(
            select(func.count()).select_from(Message).where(Message.body_text != "")
        )
        dated = s.scalar(
            select(func.count()).select_from(Message).where(Message.sent_at.is_not(None))
        )
    assert with_text and with_text > 0.9 * messages
    assert dated and dated > 0.9 * messages
