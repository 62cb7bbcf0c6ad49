"""Hostile mail through the real ingest into SQLite and PostgreSQL: MIME nested a thousand levels
deep, 100,000 recipients, forged display names, folded MIME parameters, over-long headers. Each
is archived with its raw bytes intact and its defects noted, fits every column, and is never
taken for private mail because part of it could not be read."""

from __future__ import annotations

import unicodedata

import pytest

from crm.blobs import BlobStore
from crm.db import Database
from mail_archive.parse import (
    MAX_ADDRESSES,
    MAX_ADDRESSES_PER_HEADER,
    MAX_NAME,
    MAX_SUBJECT,
    parse,
)
from tests.conftest import World
from tests.hostile_mail import (
    FORGED_FROM,
    FORGED_FROM_VARIANTS,
    PDF,
    folded_attachment,
    headers,
    many_recipients,
    nested_multipart,
    nested_rfc822,
    plain,
)
from tests.mail_archive.conftest import Dossier, Ingest, imap_source, upload_source
from tests.mail_archive.test_ingest import message

STRANGER = "Neznámý odesílatel <info@novy-zakaznik.cz>"  # matches no partner, person or domain
NESTED = {"multipart": nested_multipart, "rfc822": nested_rfc822}


def blob(database: Database, sha: str) -> bytes:
    return BlobStore(database.settings.blob_dir).get(sha)


def shown(text: str) -> bool:
    """Text that prints on one line as it reads: no control, format or separator characters."""
    return not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text)


# -- 9: nesting ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(NESTED))
def test_mime_nested_a_thousand_levels_keeps_its_headers_and_is_not_skipped_as_private(
    database: Database, world: World, dossier: Dossier, ingest: Ingest, kind: str
) -> None:
    raw = NESTED[kind](1000, sender=STRANGER, subject="Hluboká zpráva")
    result = ingest(raw, imap_source(world.sales_a.id, 1))  # an automatic source: INBOX
    # nothing matched, but the message was not read whole: kept in its owner's triage
    assert result.status == "triaged" and result.message_id
    m = message(database, result.message_id)
    assert m.subject == "Hluboká zpráva"
    assert (m.from_name, m.from_addr) == ("Neznámý odesílatel", "info@novy-zakaznik.cz")
    assert m.to_addrs == [["Jana Nováková", "jana@firma.cz"]]
    assert m.internet_id == "hostile@stavby-pribram.cz" and m.sent_at is not None
    assert any("too deep" in d for d in m.defects)
    assert m.status == "triage" and m.owner_id == world.sales_a.id
    assert blob(database, m.sha256) == raw


def test_deep_mime_from_a_known_person_still_files_by_its_headers(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    raw = nested_multipart(1000)  # from Jan Novák of Stavby Příbram
    result = ingest(raw, imap_source(world.sales_a.id, 1))
    assert result.status == "archived" and result.message_id
    m = message(database, result.message_id)
    assert f"partner:{dossier.partner_id}" in {link.target for link in m.links}


def test_private_mail_read_whole_is_still_left_out(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    shallow = nested_multipart(3, sender="Máma <mama@seznam.cz>")
    result = ingest(shallow, imap_source(world.sales_a.id, 1))
    assert result.status == "skipped" and result.message_id is None


# -- 4: recipients -------------------------------------------------------------------------------


def test_a_hundred_thousand_recipients_are_archived_with_the_rest_noted_and_the_raw_intact(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    raw = many_recipients(100_000)
    result = ingest(raw, upload_source(world.sales_a.id, "many"))
    assert result.message_id
    m = message(database, result.message_id)
    assert len(m.to_addrs) == MAX_ADDRESSES_PER_HEADER
    assert m.to_addrs[0] == ["Příjemce 0", "prijemce0@odberatel.example"]
    assert m.to_addrs[-1][1] == f"prijemce{MAX_ADDRESSES_PER_HEADER - 1}@odberatel.example"
    left = 100_000 - MAX_ADDRESSES_PER_HEADER
    assert f"too many addresses: {left} in the to header not read" in " ".join(m.defects)
    assert blob(database, m.sha256) == raw
    # filed by its sender as usual
    assert f"partner:{dossier.partner_id}" in {link.target for link in m.links}


def test_all_address_headers_together_keep_at_most_the_total_cap() -> None:
    people = ", ".join(f"p{i}@odberatel.example" for i in range(3000))
    raw = plain(to=people, extra=f"Cc: {people}\r\nReply-To: {people}\r\n")
    parsed = parse(raw)
    assert len(parsed.to) == len(parsed.cc) == MAX_ADDRESSES_PER_HEADER
    assert 1 + len(parsed.to) + len(parsed.cc) + len(parsed.reply_to) == MAX_ADDRESSES
    assert parsed.incomplete
    assert sum("too many addresses" in d for d in parsed.defects) == 3


def test_a_partner_beyond_the_recipient_cap_is_kept_in_triage_not_skipped(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    raw = many_recipients(
        10_000, known={9_000: "Jan Novák <jan.novak@stavby-pribram.cz>"}, sender=STRANGER
    )
    result = ingest(raw, imap_source(world.sales_a.id, 1))
    assert result.status == "triaged" and result.message_id
    assert blob(database, message(database, result.message_id).sha256) == raw


def test_address_lists_keep_quotes_comments_groups_and_brackets_apart() -> None:
    to = (
        '"Novák, Jan" <jan.novak@stavby-pribram.cz>, Tým A: jana@firma.cz, '
        "petr@firma.cz (Petr, Dvořák);, <@relay.example:zofia@firma.pl>, "
        '"a\\"b, c" <q@firma.cz>, undisclosed-recipients:;, '
        "=?utf-8?q?Kate=C5=99ina_Mal=C3=A1?= <katerina@firma.cz>"
    )
    parsed = parse(plain(to=to))
    assert [(a.name, a.addr) for a in parsed.to] == [
        ("Novák, Jan", "jan.novak@stavby-pribram.cz"),
        ("", "jana@firma.cz"),
        ("Petr, Dvořák", "petr@firma.cz"),
        ("", "zofia@firma.pl"),
        ('a"b, c', "q@firma.cz"),
        ("Kateřina Malá", "katerina@firma.cz"),
    ]


# -- 12: forged display names --------------------------------------------------------------------


@pytest.mark.parametrize("sender", FORGED_FROM_VARIANTS)
def test_a_decoded_display_name_never_becomes_an_address_or_a_header(sender: str) -> None:
    parsed = parse(plain(sender=sender))
    assert parsed.from_ is not None and parsed.from_.addr == "boss@alpha.example"
    assert shown(parsed.from_.name)
    assert [a.addr for a in parsed.all_addresses] == ["boss@alpha.example", "jana@firma.cz"]


def test_forged_recipients_keep_only_the_real_addresses() -> None:
    to = (
        "=?utf-8?q?x=40y.z?= <jana@firma.cz>, =?utf-8?q?a=40b.c=2C_d=40e.f?=, "
        "=?utf-8?q?x?=@firma.cz, =?utf-8?q?Evil=0D=0ABcc=3A_x=40y.z?= <petr@firma.cz>"
    )
    parsed = parse(plain(to=to, extra=f"Cc: {to}\r\nReply-To: {FORGED_FROM}\r\n"))
    for found in (parsed.to, parsed.cc):
        # the encoded word stays as written: it is not decoded into x@firma.cz
        assert [a.addr for a in found] == [
            "jana@firma.cz",
            "=?utf-8?q?x?=@firma.cz",
            "petr@firma.cz",
        ]
        assert all(shown(a.name) for a in found)
    assert [a.addr for a in parsed.reply_to] == ["boss@alpha.example"]


def test_a_forged_sender_is_stored_with_the_real_address_and_no_injected_recipient(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    raw = plain(sender=FORGED_FROM)
    result = ingest(raw, upload_source(world.sales_a.id, "forged"))
    assert result.message_id
    m = message(database, result.message_id)
    assert (m.from_name, m.from_addr) == ("Evil Bcc: x@y.z", "boss@alpha.example")
    assert m.to_addrs == [["Jana Nováková", "jana@firma.cz"]] and m.cc_addrs == []


def test_control_and_bidi_characters_leave_display_names() -> None:
    name = "=?utf-8?q?Jan=00_Nov=C3=A1k=E2=80=AEfdp.exe=C2=85=E2=80=A8=1B[31m?="
    parsed = parse(plain(sender=f"{name} <jan.novak@stavby-pribram.cz>"))
    assert parsed.from_ is not None and parsed.from_.name == "Jan Novák fdp.exe [31m"


# -- 11: folded MIME parameters ------------------------------------------------------------------


def test_a_folded_content_type_and_file_name_are_stored_unfolded(
    database: Database, world: World, dossier: Dossier, ingest: Ingest
) -> None:
    raw = folded_attachment()
    result = ingest(raw, upload_source(world.sales_a.id, "folded"))
    assert result.message_id
    m = message(database, result.message_id)
    assert [(a.filename, a.content_type) for a in m.attachments] == [
        ("nabidka 2026.pdf", "application/pdf"),
        ("cenik.pdf", "application/pdf"),
    ]
    assert all(blob(database, a.sha256) == PDF for a in m.attachments)


def test_a_content_type_that_is_no_type_is_taken_for_octet_stream() -> None:
    raw = headers(extra='Content-Type: multipart/mixed; boundary="B"\r\n') + (
        b"\r\n--B\r\nContent-Type: text/plain\r\n\r\ntext\r\n"
        b"--B\r\nContent-Type: application/p\xc3\xa9f<script>; name=a.bin\r\n"
        b"Content-Disposition: attachment\r\n\r\ndata\r\n--B--\r\n"
    )
    parsed = parse(raw)
    assert [a.content_type for a in parsed.attachments] == ["application/octet-stream"]
    assert "unreadable Content-Type" in parsed.defects


# -- 14: over-long and odd header values fit their columns ---------------------------------------


def test_over_long_and_odd_headers_are_shortened_to_fit_and_the_raw_kept(
    database: Database, world: World, ingest: Ingest
) -> None:
    subject = "Nabídka " * 1000  # 8,000 characters
    name = "Jan " + "Novák" * 400  # 2,004 characters
    long_id = "x" * 700 + "@stavby-pribram.cz"
    raw = (
        headers(
            sender=f'"{name}" <jan.novak@stavby-pribram.cz>',
            to=f'"{name}" <jana@firma.cz>',
            subject=subject,
            message_id=long_id,
            extra=f"In-Reply-To: <{long_id}>\r\nReferences: <{long_id}> <a\x01b@x>\r\n",
        )
        + b"Content-Type: text/plain\r\n\r\ntext\r\n"
    )
    folder = "CRM/" + "Složka" * 100  # a 604-character folder name on the mail server
    result = ingest(raw, imap_source(world.sales_a.id, 1, folder=folder, explicit=True))
    assert result.message_id
    m = message(database, result.message_id)
    assert m.subject == subject.strip()[:MAX_SUBJECT]
    assert m.from_name == name[:MAX_NAME] and m.to_addrs[0][0] == name[:MAX_NAME]
    assert len(m.internet_id) == len(m.in_reply_to) == len(m.thread_key) == 500
    assert m.references == [long_id[:500], "ab@x"]
    assert m.sources[0].folder == folder[:500]
    assert f"subject longer than {MAX_SUBJECT} characters (shortened)" in m.defects
    assert any(f"longer than {MAX_NAME} characters" in d for d in m.defects)
    assert blob(database, m.sha256) == raw


def test_nul_and_8bit_bytes_in_message_ids_are_stored_on_every_database(
    database: Database, world: World, ingest: Ingest
) -> None:
    raw = (
        b"From: jan.novak@stavby-pribram.cz\r\nTo: jana@firma.cz\r\nSubject: x\r\n"
        b"Message-ID: <nab\x00\xc3\xadzka@stavby-pribram.cz>\r\n"
        b"In-Reply-To: <p\xf8edchozi@stavby-pribram.cz>\r\n\r\ntext\r\n"
    )
    result = ingest(raw, upload_source(world.sales_a.id, "ids"))
    assert result.message_id
    m = message(database, result.message_id)
    assert m.internet_id == "nabízka@stavby-pribram.cz"
    assert m.in_reply_to == "předchozi@stavby-pribram.cz"
    assert blob(database, m.sha256) == raw


def test_a_huge_content_type_header_is_read_from_its_beginning() -> None:
    params = "; ".join(f"p{i}=v{i}" for i in range(200_000))
    raw = (
        headers(extra=f"Content-Type: text/plain; charset=utf-8; {params}\r\n")
        + b"\r\nDobry den\r\n"
    )
    parsed = parse(raw)
    assert parsed.body_text.strip() == "Dobry den"
    assert parsed.subject == "Nabídka"


HUGE = 1_000_000
HUGE_HEADERS = {  # a megabyte each, of what makes a parser slow down more than linearly
    "subject of broken encoded words": b"Subject: " + b"=?a?q?_" * (HUGE // 7),
    "to of spaces": b"To: " + b" " * HUGE + b"jana@firma.cz",
    "display name of broken encoded words": b"To: "
    + b"=?a?q?_" * (HUGE // 7)
    + b" <jana@firma.cz>",
    "to of spaced dots": b"To: jana" + b" . " * (HUGE // 3) + b"@firma.cz",
    "unclosed comment": b"To: jana@firma.cz (" + b"(" * HUGE,
}


@pytest.mark.parametrize("header", sorted(HUGE_HEADERS))
def test_a_megabyte_header_is_read_from_its_beginning(header: str) -> None:
    raw = b"From: jan.novak@stavby-pribram.cz\r\n" + HUGE_HEADERS[header] + b"\r\n\r\ntext\r\n"
    parsed = parse(raw)
    assert parsed.from_ is not None and parsed.body_text.strip() == "text"
    assert len(parsed.subject) <= MAX_SUBJECT
    assert all(len(a.name) <= MAX_NAME and shown(a.name) for a in parsed.all_addresses)
    assert parsed.defects


def test_html_nested_a_hundred_thousand_levels_is_sanitized_and_made_text(
    database: Database, world: World, ingest: Ingest
) -> None:
    html = "<div>" * 100_000 + "<script>x()</script>Dobrý den" + "</div>" * 100_000
    raw = headers() + b"Content-Type: text/html; charset=utf-8\r\n\r\n" + html.encode()
    result = ingest(raw, upload_source(world.sales_a.id, "deep-html"))
    assert result.message_id
    m = message(database, result.message_id)
    assert "Dobrý den" in m.body_text and "<script" not in m.body_html
    assert m.body_html.count("<div>") == 512  # as deep as a browser's parser nests


def test_8bit_text_next_to_encoded_words_is_stored_readable_on_every_database(
    database: Database, world: World, ingest: Ingest
) -> None:
    raw = (
        "From: Jiří =?utf-8?q?Nov=C3=A1k?= <jan.novak@stavby-pribram.cz>\r\n"
        "To: jana@firma.cz\r\nSubject: Příbram =?utf-8?q?Ji=C5?= =?utf-8?q?=99=C3=AD?=\r\n"
        "Message-ID: <mixed@x>\r\n\r\ntext\r\n"
    ).encode()
    result = ingest(raw, upload_source(world.sales_a.id, "mixed"))
    assert result.message_id
    m = message(database, result.message_id)
    assert (m.subject, m.from_name) == ("Příbram Jiří", "Jiří Novák")


def test_8bit_bytes_inside_a_base64_encoded_word_are_archived_not_raised(
    database: Database, world: World, ingest: Ingest
) -> None:
    """A "B" encoded word holding raw 8-bit bytes (base64 has none) made the parser raise,
    which stopped the whole sync; it is archived with the word kept as text."""
    raw = (
        "From: =?utf-8?b?SmFu\u00e9?= <jan.novak@stavby-pribram.cz>\r\n"
        "To: jana@firma.cz\r\nSubject: =?utf-8?b?TmFiw61ka2E\u00e1?=\r\n"
        "Message-ID: <b64-8bit@x>\r\n\r\ntext\r\n"
    ).encode()
    result = ingest(raw, upload_source(world.sales_a.id, "b64-8bit"))
    assert result.message_id
    m = message(database, result.message_id)
    assert m.from_addr == "jan.novak@stavby-pribram.cz"
    assert m.subject and m.from_name
