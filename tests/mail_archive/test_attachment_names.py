"""Attachment names as mail programs really write them: raw 8-bit bytes in the parameter (no
RFC 2231 or 2047), in UTF-8 or in the Central European code pages. They read as the sender
meant ("objednávka.pdf"), never with replacement characters ("objedn�vka.pdf")."""

from __future__ import annotations

import pytest

from mail_archive.parse import parse


def mail_with_attachment(disposition: bytes, content_type: bytes = b"application/pdf") -> bytes:
    return (
        b"From: Jan Novak <jan@stavby.cz>\r\nTo: obchod@firma.cz\r\nSubject: Objednavka\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=BB\r\n\r\n"
        b"--BB\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nV priloze.\r\n"
        b"--BB\r\nContent-Type: " + content_type + b"\r\n"
        b"Content-Disposition: " + disposition + b"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQ=\r\n--BB--\r\n"
    )


@pytest.mark.parametrize(
    ("disposition", "name"),
    [
        ('attachment; filename="objednávka.pdf"'.encode(), "objednávka.pdf"),
        ('attachment; filename="objednávka.pdf"'.encode("cp1250"), "objednávka.pdf"),
        ('attachment; filename="Zamówienie_č.pdf"'.encode("cp1250"), "Zamówienie_č.pdf"),
        (
            'attachment; filename="Objednávka č. 12.pdf"'.encode("iso-8859-2"),
            "Objednávka č. 12.pdf",
        ),
        ("attachment; filename=ceník.xlsx".encode("cp1250"), "ceník.xlsx"),
        # RFC 2231, as the standard wants it: unchanged
        (b"attachment; filename*=utf-8''objedn%C3%A1vka.pdf", "objednávka.pdf"),
    ],
)
def test_a_raw_8bit_attachment_name_reads_as_written(disposition: bytes, name: str) -> None:
    (attachment,) = parse(mail_with_attachment(disposition)).attachments
    assert attachment.filename == name


def test_the_name_in_content_type_serves_when_the_disposition_has_none() -> None:
    raw = mail_with_attachment(
        b"attachment", content_type='application/pdf; name="smlouva_Šumava.pdf"'.encode("cp1250")
    )
    (attachment,) = parse(raw).attachments
    assert attachment.filename == "smlouva_Šumava.pdf"
