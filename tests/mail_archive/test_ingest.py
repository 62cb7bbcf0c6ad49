"""ingest(): dedupe, raw bytes kept, parsing of Czech/Slovak/Polish mail, defects, filing."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from crm.blobs import BlobStore
from crm.db import Database
from mail_archive.filing import RuleFiler
from mail_archive.ingest import Archive, IngestResult
from mail_archive.models import Attachment, Message, MessageLink, MessageSource
from tests.conftest import World, corpora_dir, count
from tests.mail_archive.conftest import Dossier, Ingest, imap_source, upload_source
from tests.mailfactory import make_mail


def message(db: Database, message_id: int) -> Message:
    with db.session(write=False) as s:
        m = s.get(Message, message_id)
        assert m is not None
        _ = (m.attachments, m.links, m.sources)
        s.expunge_all()
        return m


def test_mail_from_a_known_person_files_itself_and_keeps_its_bytes(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    raw = make_mail(subject="Nabídka na halu", body="Dobrý den, posílám nabídku.")
    result = ingest(raw, imap_source(world.sales_a.id, 1))
    assert result.status == "archived" and result.message_id
    m = message(database, result.message_id)
    assert m.subject == "Nabídka na halu"
    assert m.from_addr == "jan.novak@stavby-pribram.cz" and m.from_name == "Jan Novák"
    assert m.direction == "in"
    assert m.sent_at == dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)
    assert "posílám nabídku" in m.body_text
    assert {(link.target, link.how) for link in m.links} == {
        (f"person:{dossier.person_id}", "address"),
        (f"partner:{dossier.partner_id}", "address"),
    }
    assert BlobStore(database.settings.blob_dir).get(m.sha256) == raw


def test_the_same_message_from_two_mailboxes_is_stored_once_with_both_sources(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    raw = make_mail(message_id="same@stavby-pribram.cz")
    first = ingest(raw, imap_source(world.sales_a.id, 1))
    again = ingest(raw, imap_source(world.sales_a.id, 1))  # the same copy re-read
    other_box = ingest(raw, imap_source(world.sales_a2.id, 7, folder="Archiv"))
    # the received copy differs by a Received header: same Message-ID, sender and date
    received = b"Received: from mx.firma.cz by imap.firma.cz; Mon, 2 Nov 2026 10:31:00 +0100\r\n"
    third = ingest(received + raw, imap_source(world.manager_a.id, 3))
    assert first.status == "archived"
    assert again.duplicate and other_box.duplicate and third.duplicate
    assert first.message_id == again.message_id == other_box.message_id == third.message_id
    assert count(database, Message) == 1
    assert count(database, MessageSource) == 3


def test_without_message_id_the_content_hash_dedupes(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    raw = b"\r\n".join(
        line for line in make_mail().split(b"\n") if not line.startswith(b"Message-ID")
    )
    a = ingest(raw, upload_source(world.sales_a.id, "a"))
    b = ingest(raw, upload_source(world.sales_a.id, "b"))
    assert a.status == "archived" and b.duplicate and a.message_id == b.message_id
    assert count(database, Message) == 1


def test_private_mail_from_an_automatic_source_is_not_archived(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    raw = make_mail(sender=("Máma", "mama@seznam.cz"), subject="Nedělní oběd")
    result = ingest(raw, imap_source(world.sales_a.id, 1))
    assert result.status == "skipped" and result.message_id is None
    assert count(database, Message) == 0
    assert not any(BlobStore(database.settings.blob_dir).root.rglob("*"))


def test_unmatched_mail_from_an_explicit_channel_waits_in_triage(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    raw = make_mail(sender=("Neznámý", "info@nekdo-novy.cz"))
    result = ingest(raw, upload_source(world.sales_a.id, "x"))
    assert result.status == "triaged"
    m = message(database, result.message_id or 0)
    assert m.status == "triage" and m.owner_id == world.sales_a.id and not m.links


def test_czech_slovak_polish_charsets_and_rfc2231_names(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    cases = [
        (
            "windows-1250",
            "Cenová nabídka č. 12 – Příbram",
            "Příliš žluťoučký kůň úpěl ďábelské ódy",
        ),
        ("iso-8859-2", "Ponuka pre Žilinu: ľadové ťavy", "Ďakujeme, pošleme zmluvu v piatok."),
        ("utf-8", "Zamówienie: łódź, gęś, źrebię", "Zażółć gęślą jaźń – dziękujemy."),
    ]
    for uid, (charset, subject, body) in enumerate(cases, start=1):
        raw = make_mail(
            subject=subject,
            body=body,
            charset=charset,
            sender=(
                "Ján Šťastný" if charset == "iso-8859-2" else "Jan Novák",
                "jan.novak@stavby-pribram.cz",
            ),
            attachments=[
                (
                    "Nabídka č. 12.docx",
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    b"PK\x03\x04 docx",
                ),
                ("Zamówienie łódź.pdf", "application/pdf", b"%PDF-1.4 "),
            ],
        )
        assert charset.encode() in raw.lower()
        result = ingest(raw, imap_source(world.sales_a.id, uid))
        m = message(database, result.message_id or 0)
        assert m.subject == subject, charset
        assert body in m.body_text, charset
        assert [a.filename for a in m.attachments] == ["Nabídka č. 12.docx", "Zamówienie łódź.pdf"]
        assert m.has_attachments and not m.defects, (charset, m.defects)
    assert message(database, 2).from_name == "Ján Šťastný"


def test_attachments_are_blobs_with_safe_names(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    raw = make_mail(
        attachments=[
            ("../../etc/passwd", "application/octet-stream", b"root:x:0:0"),
            ("..\\..\\win.ini", "application/octet-stream", b"[fonts]"),
            (".hidden", "application/octet-stream", b"x"),
        ]
    )
    result = ingest(raw, imap_source(world.sales_a.id, 1))
    m = message(database, result.message_id or 0)
    names = [a.filename for a in m.attachments]
    assert names == ["passwd", "win.ini", "hidden"]
    blobs = BlobStore(database.settings.blob_dir)
    for a in m.attachments:
        path = blobs.path(a.sha256)
        assert path.resolve().is_relative_to(blobs.root.resolve())
    assert blobs.get(m.attachments[0].sha256) == b"root:x:0:0"


def test_a_malformed_message_is_archived_with_its_defects(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    raw = (
        b"From: =?DEFAULT_CHARSET?Q?Jan_Nov=E1k?= <jan.novak@stavby-pribram.cz>\r\n"
        b"To: undisclosed-recipients:;\r\n"
        b"Subject: Faktura \xe8. 7 \xfe\r\n"
        b"Date: 31 Feb 2026 25:61:00 +9999\r\n"
        b"Content-Type: multipart/mixed\r\n"
        b"\r\n"
        b"no boundary at all\r\n"
    )
    result = ingest(raw, upload_source(world.sales_a.id, "bad"))
    assert result.stored
    m = message(database, result.message_id or 0)
    assert m.sent_at is None and any("Date" in d for d in m.defects)
    assert m.subject.startswith("Faktura")
    assert m.from_addr == "jan.novak@stavby-pribram.cz"
    assert BlobStore(database.settings.blob_dir).get(m.sha256) == raw


def test_unknown_charsets_fall_back_instead_of_failing(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    for uid, charset in enumerate(["DEFAULT_CHARSET", "x-mac-cyrillic", "unknown-8bit"], 1):
        raw = (
            b"From: jan.novak@stavby-pribram.cz\r\nTo: jana@firma.cz\r\nSubject: Test\r\n"
            b"Message-ID: <cs-"
            + str(uid).encode()
            + b"@x>\r\nDate: Mon, 2 Nov 2026 09:30:00 +0100\r\n"
            b"Content-Type: text/plain; charset="
            + charset.encode()
            + b"\r\n\r\n"
            + "Dobrý den, posílám fakturu.".encode()
        )
        result = ingest(raw, imap_source(world.sales_a.id, uid))
        m = message(database, result.message_id or 0)
        assert "fakturu" in m.body_text, charset


def test_a_forwarded_message_is_an_attachment_and_searchable(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    inner = make_mail(subject="Původní poptávka", body="Poptáváme 40 palet cihel.")
    outer = (
        b"From: Jan Novak <jan.novak@stavby-pribram.cz>\r\nTo: jana@firma.cz\r\n"
        b"Subject: Fwd: poptavka\r\nMessage-ID: <fwd-1@x>\r\n"
        b"Date: Mon, 2 Nov 2026 09:30:00 +0100\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
        b"--XX\r\nContent-Type: text/plain\r\n\r\nPreposilam.\r\n"
        b"--XX\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--XX--\r\n"
    )
    result = ingest(outer, imap_source(world.sales_a.id, 1))
    m = message(database, result.message_id or 0)
    (forwarded,) = m.attachments
    assert forwarded.content_type == "message/rfc822" and forwarded.origin == "rfc822"
    assert forwarded.filename == "Původní poptávka.eml"
    assert "40 palet cihel" in forwarded.text  # searchable
    assert "Preposilam" in m.body_text


def test_html_mail_is_stored_sanitized_and_as_text(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    html = (
        '<p onclick="steal()">Dobrý den,<script>alert(1)</script></p>'
        '<img src="https://tracker.example/pixel.gif"><a href="javascript:alert(2)">klikni</a>'
        '<div style="width: expression(alert(3))">nabídka v příloze</div>'
    )
    result = ingest(make_mail(html=html, body="Dobrý den"), imap_source(world.sales_a.id, 1))
    m = message(database, result.message_id or 0)
    for bad in ("script", "onclick", "tracker.example", "javascript", "expression"):
        assert bad not in m.body_html
    assert "nabídka v příloze" in m.body_html and m.remote_blocked == 1


def test_a_sent_copy_is_outgoing_and_files_by_its_recipient(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    raw = make_mail(
        sender=("Jana Nováková", "jana@firma.cz"),
        to=[("Jan Novák", "jan.novak@stavby-pribram.cz")],
    )
    result = ingest(raw, imap_source(world.sales_a.id, 1, folder="Sent"))
    m = message(database, result.message_id or 0)
    assert m.direction == "out"
    assert f"person:{dossier.person_id}" in {link.target for link in m.links}


def test_removing_the_last_link_sends_the_message_to_triage_and_rules_do_not_relink(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    from mail_archive import service

    raw = make_mail(sender=("Info", "info@stavby-pribram.cz"))  # by domain only
    result = ingest(raw, imap_source(world.sales_a.id, 1))
    with database.session() as s:
        m = service.load_message(s, world.sales_a, result.message_id or 0)
        (link,) = m.active_links
        service.remove_link(s, world.sales_a, m, link.id)
        assert m.status == "triage"
    again = ingest(raw, imap_source(world.sales_a2.id, 9))
    assert again.duplicate and again.links == []
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(MessageLink)) == 1
        assert s.scalar(select(Attachment.id)) is None


def test_winmail_dat_is_unpacked_into_its_files(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    tnef = corpora_dir() / "tnef" / "mimekit" / "attachments.tnef"
    if not tnef.exists():
        pytest.skip(f"corpus file {tnef} is absent")
    raw = make_mail(attachments=[("winmail.dat", "application/ms-tnef", tnef.read_bytes())])
    result = ingest(raw, imap_source(world.sales_a.id, 1))
    m = message(database, result.message_id or 0)
    assert m.attachments and all(a.origin == "tnef" for a in m.attachments)
    assert "winmail.dat" not in [a.filename for a in m.attachments]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_workers_storing_the_same_message_at_once_make_one_message(
    database: Database, world: World, dossier: Dossier
) -> None:
    """Two mailboxes synced in parallel (PostgreSQL) hold the same message: the second insert
    waits for the first transaction and then finds the message there, without an error."""
    raw = make_mail(subject="Objednávka č. 5", message_id="race-1@stavby-pribram.cz")
    blobs = BlobStore(database.settings.blob_dir)
    second: list[IngestResult] = []

    def other_worker() -> None:
        with database.session() as s:
            archive = Archive(s, blobs, RuleFiler())
            second.append(archive.ingest(raw, imap_source(world.sales_a2.id, 7, folder="Archiv")))

    with database.session() as s:
        first = Archive(s, blobs, RuleFiler()).ingest(raw, imap_source(world.sales_a.id, 1))
        worker = threading.Thread(target=other_worker)
        worker.start()
        worker.join(timeout=1.0)
        assert worker.is_alive(), "the second insert should wait for the first transaction"
    worker.join(timeout=20)
    assert first.status == "archived"
    assert second and second[0].status == "duplicate"
    assert second[0].message_id == first.message_id
    assert count(database, Message) == 1
    assert count(database, MessageSource) == 2
    assert {(lk.record_type, lk.how) for lk in message(database, first.message_id or 0).links} == {
        ("person", "address"),
        ("partner", "address"),
    }
