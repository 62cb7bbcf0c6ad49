"""Hostile mail through a real IMAP sync (Dovecot) and a reply written from the CRM (aiosmtpd).

MIME nested a thousand levels deep in the INBOX is archived with its headers (in the owner's
triage, never skipped as private), and the folder's checkpoint passes it only once it is
committed: when storing it fails, the next pass reads it again. A forged sender and a folded
attachment type come in with the real address and a clean type; the sync parses before it takes
SQLite's write lock; a reply to the forged sender goes to the real address and no header can be
injected into it, whatever the subject holds."""

from __future__ import annotations

import io
from email import message_from_bytes
from email.policy import default
from typing import cast

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, text

from connector.imap import FolderReport, ImapCheckpoint, ImapSync
from connector.models import FolderState
from crm.db import Database
from mail_archive.models import Message
from tests.conftest import World, login, post_form
from tests.connector.conftest import add_imap
from tests.connector.test_imap import by_folder, messages
from tests.hostile_mail import (
    FORGED_FROM,
    folded_attachment,
    nested_multipart,
    plain,
    write_lock_during_parse,
)
from tests.mail_archive.conftest import Dossier
from tests.mail_archive.test_hostile_mime import STRANGER
from tests.mailfactory import make_mail
from tests.servers.dovecot import Dovecot
from tests.servers.fixtures import ImapUser
from tests.servers.smtp import smtp_server

DEEP_SUBJECT = "Hluboká zpráva"
REFUSE = {  # the database refuses to store the nested message, as a full disk would
    "sqlite": [
        "CREATE TRIGGER refuse_deep BEFORE INSERT ON messages "
        f"WHEN NEW.subject = '{DEEP_SUBJECT}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_deep() RETURNS trigger AS $$ BEGIN "
        f"IF NEW.subject = '{DEEP_SUBJECT}' THEN RAISE EXCEPTION 'refused'; END IF; "
        "RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_deep BEFORE INSERT ON messages "
        "FOR EACH ROW EXECUTE FUNCTION refuse_deep()",
    ],
}
ALLOW = {
    "sqlite": ["DROP TRIGGER refuse_deep"],
    "postgresql": ["DROP TRIGGER refuse_deep ON messages", "DROP FUNCTION refuse_deep()"],
}


def run_sql(database: Database, statements: list[str]) -> None:
    with database.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def inbox_checkpoint(database: Database) -> int:
    with database.session(write=False) as s:
        state = s.scalars(select(FolderState).where(FolderState.folder == "INBOX")).first()
        return ImapCheckpoint.decode(state.checkpoint).uid if state else 0


def test_deep_mime_in_the_inbox_is_archived_and_the_checkpoint_passes_it_only_once_stored(
    backend: str,
    database: Database,
    world: World,
    dossier: Dossier,
    dovecot: Dovecot,
    imap_user: ImapUser,
) -> None:
    u = imap_user
    deep = nested_multipart(1000, sender=STRANGER, subject=DEEP_SUBJECT)
    dovecot.append(u.name, u.password, "INBOX", deep)
    dovecot.append(u.name, u.password, "INBOX", make_mail(sender=("Máma", "mama@seznam.cz")))
    dovecot.append(u.name, u.password, "INBOX", make_mail(subject="Nabídka"))
    account_id = add_imap(database, u, world.sales_a.email)

    run_sql(database, REFUSE[backend])
    failed = ImapSync(database, account_id).run()
    assert failed.error  # the pass says it failed
    assert messages(database) == 0 and inbox_checkpoint(database) == 0  # nothing passed over

    run_sql(database, ALLOW[backend])
    report = ImapSync(database, account_id).run()
    assert report.error == ""
    inbox = cast(FolderReport, by_folder(report)["INBOX"])
    counts = (inbox.fetched, inbox.archived, inbox.triaged, inbox.skipped)
    assert counts == (3, 1, 1, 1)  # the deep one waits in triage; private mail stays out
    assert inbox_checkpoint(database) == 3
    with database.session(write=False) as s:
        m = s.scalars(select(Message).where(Message.subject == DEEP_SUBJECT)).one()
        assert m.from_addr == "info@novy-zakaznik.cz" and m.to_addrs == [
            ["Jana Nováková", "jana@firma.cz"]
        ]
        assert m.status == "triage" and m.owner_id == world.sales_a.id
        assert any("too deep" in d for d in m.defects)

    again = cast(FolderReport, by_folder(ImapSync(database, account_id).run())["INBOX"])
    assert again.fetched == 0 and messages(database) == 2


def test_a_forged_sender_and_a_folded_attachment_come_in_clean_through_the_sync(
    database: Database, world: World, dossier: Dossier, dovecot: Dovecot, imap_user: ImapUser
) -> None:
    u = imap_user
    dovecot.append(u.name, u.password, "CRM", plain(sender=FORGED_FROM, message_id="f@x"))
    dovecot.append(u.name, u.password, "INBOX", folded_attachment(message_id="a@x"))
    report = ImapSync(database, add_imap(database, u, world.sales_a.email)).run()
    assert report.error == ""
    with database.session(write=False) as s:
        forged = s.scalars(select(Message).where(Message.internet_id == "f@x")).one()
        attached = s.scalars(select(Message).where(Message.internet_id == "a@x")).one()
        assert (forged.from_name, forged.from_addr) == ("Evil Bcc: x@y.z", "boss@alpha.example")
        assert forged.to_addrs == [["Jana Nováková", "jana@firma.cz"]] and forged.cc_addrs == []
        assert [(a.filename, a.content_type) for a in attached.attachments] == [
            ("nabidka 2026.pdf", "application/pdf"),
            ("cenik.pdf", "application/pdf"),
        ]


@pytest.mark.parametrize("backend", ["sqlite"])  # the write lock that stalls everyone
def test_the_sync_parses_before_its_batch_takes_the_write_lock(
    database: Database, world: World, dossier: Dossier, dovecot: Dovecot, imap_user: ImapUser
) -> None:
    u = imap_user
    for i in range(3):
        dovecot.append(u.name, u.password, "INBOX", make_mail(message_id=f"lock-{i}@x"))
    account_id = add_imap(database, u, world.sales_a.email)
    with write_lock_during_parse(str(database.engine.url.database)) as held:
        report = ImapSync(database, account_id).run()
    assert report.error == ""
    assert cast(FolderReport, by_folder(report)["INBOX"]).archived == 3
    assert held == [False, False, False]


def test_a_reply_to_a_forged_sender_goes_to_the_real_address_with_no_injected_header(
    client: FlaskClient,
    database: Database,
    world: World,
    dossier: Dossier,
    imap_user: ImapUser,
) -> None:
    with smtp_server(imap_user.name, imap_user.password) as smtp:
        account_id = add_imap(database, imap_user, world.sales_a.email, "jana", smtp)
        login(client, world.sales_a)
        upload = post_form(
            client,
            "/mail/upload",
            {
                "partner_id": str(dossier.partner_id),
                "files": [
                    (
                        io.BytesIO(
                            plain(sender=FORGED_FROM, subject="Faktura", message_id="evil@x")
                        ),
                        "evil.eml",
                    )
                ],
            },
            content_type="multipart/form-data",
        )
        assert upload.status_code == 200
        with database.session(write=False) as s:
            original = s.scalars(select(Message).where(Message.internet_id == "evil@x")).one()
        form = client.get(f"/mail/compose?reply_to={original.id}").get_data(as_text=True)
        assert 'value="boss@alpha.example"' in form and "x@y.z&gt;" not in form
        sent = post_form(
            client,
            f"/mail/compose?reply_to={original.id}",
            {
                "account_id": account_id,
                "to": "boss@alpha.example",
                "subject": "Re: Faktura\r\nBcc: x@y.z\u2028Cc: x@y.z",
                "body": "Dobrý den",
            },
        )
        assert sent.status_code == 302, sent.get_data(as_text=True)
        (received,) = smtp.wait_for(1)
    assert list(received.rcpt_tos) == ["boss@alpha.example"]
    reply = message_from_bytes(received.raw, policy=default)
    assert reply["Bcc"] is None and reply["Cc"] is None
    assert reply["Subject"] == "Re: Faktura Bcc: x@y.z Cc: x@y.z"
    assert reply["In-Reply-To"] == "<evil@x>"
