"""The filing rules and dedupe act on behalf of the source's user and reach only what that user
may see (issue 8, findings 1 and 2), through the channels of the connector: IMAP sync against a
real Dovecot and ``dossier file``. The rules themselves are tested in
tests/mail_archive/test_filing.py. Jana Nováková (Tým A) tries to merge into what Zofia Wójcik
(Tým B) keeps."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from connector.imap import ImapSync
from crm.cli import main
from crm.db import Database
from crm.settings import Settings
from mail_archive.models import Message, MessageLink, MessageSource
from tests.conftest import World, count
from tests.connector.conftest import add_imap
from tests.mail_archive.conftest import ORDER, ORDER_ID, Dossier, Hidden
from tests.mailfactory import make_mail
from tests.servers.dovecot import Dovecot
from tests.servers.fixtures import ImapUser


def test_a_forged_copy_synced_from_a_mailbox_is_a_message_of_its_own(
    database: Database,
    world: World,
    dossier: Dossier,
    hidden: Hidden,
    dovecot: Dovecot,
    imap_user: ImapUser,
) -> None:
    forged = make_mail(
        subject="Zamówienie 77",
        sender=("Ewa Kowalska", "ewa.kowalska@mleko.pl"),
        to=[("Zofia Wójcik", "zofia@firma.pl")],
        message_id=ORDER_ID,
        body="cokoli",
    )
    u = imap_user
    dovecot.create_folder(u.name, u.password, "CRM")
    dovecot.append(u.name, u.password, "CRM/Stavby Příbram s r o", forged)
    dovecot.append(u.name, u.password, "INBOX", forged)
    # the order as Jana could have it (a Bcc): Dovecot's copy ends its lines in CRLF, other
    # bytes, so a copy like any other, and nothing of hers matches it: left out
    dovecot.append(u.name, u.password, "INBOX", ORDER)
    report = ImapSync(database, add_imap(database, u, world.sales_a.email)).run()
    assert report.error == ""
    with database.session(write=False) as s:
        sources = s.scalars(
            select(MessageSource.user_id).where(MessageSource.message_id == hidden.order)
        ).all()
        assert sources == [world.sales_b.id]
        copies = s.scalars(select(Message).where(Message.internet_id == ORDER_ID)).all()
        assert len(copies) == 2
        mine = next(m for m in copies if m.id != hidden.order)
        assert mine.body_text.strip() == "cokoli"
        assert [link.target for link in mine.links] == [f"partner:{dossier.partner_id}"]
        order_links = s.scalars(
            select(MessageLink.target).where(MessageLink.message_id == hidden.order)
        ).all()
        assert f"partner:{dossier.partner_id}" not in order_links


def test_dossier_file_of_forged_and_same_copies_prints_nothing_of_the_hidden_message(
    database: Database,
    settings: Settings,
    world: World,
    dossier: Dossier,
    hidden: Hidden,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOSSIER_HOME", str(settings.home))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "same.eml").write_bytes(ORDER)
    (folder / "forged.eml").write_bytes(
        make_mail(
            subject="Zamówienie 77",
            sender=("Ewa Kowalska", "ewa.kowalska@mleko.pl"),
            to=[("Zofia Wójcik", "zofia@firma.pl")],
            message_id=ORDER_ID,
            body="cokoli",
        )
    )
    before = count(database, MessageSource)
    result = CliRunner().invoke(main, ["file", str(folder), "--user", world.sales_a.email])
    assert result.exit_code == 0, result.output
    # counts only: no id, link or partner of the hidden message
    assert result.output == "2 messages: archived 0, duplicates 1, triaged 1, refused 0\n"
    assert count(database, MessageSource) == before + 1  # the forged copy's, as its own message
    with database.session(write=False) as s:
        sources = s.scalars(
            select(MessageSource.user_id).where(MessageSource.message_id == hidden.order)
        ).all()
        assert sources == [world.sales_b.id]
