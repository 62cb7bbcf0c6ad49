"""Hostile mail for the tests, as an attacker inside the company would send it: MIME nested a
thousand levels deep, a To of 100,000 recipients, a forged sender whose encoded display name
hides a line break and a Bcc, an attachment whose Content-Type is folded onto a second line,
over-long headers; and Tým B's order whose Message-ID, sender and date a forger of Tým A copies
(``team_b_order``). Each builder returns the raw bytes.

``write_lock_during_parse`` watches, without changing anything, whether SQLite's write lock is
held by someone at the moment ``mail_archive.parse.parse`` begins (the lock must be free then:
parsing a large message while holding it stalls every other user)."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from mail_archive import parse as parse_module
from tests.mailfactory import make_mail

DATE = "Mon, 2 Nov 2026 09:30:00 +0000"
TEAM_B_ORDER_ID = "zamowienie-77@mleko.pl"


def team_b_order(body: str) -> bytes:
    """Tým B's order with its secret price list; a forged copy keeps everything but ``body``."""
    return make_mail(
        subject="Zamówienie 77",
        sender=("Ewa Kowalska", "biuro@mleko.pl"),
        to=[("Zofia Wójcik", "zofia@firma.pl")],
        message_id=TEAM_B_ORDER_ID,
        body=body,
        attachments=[("cennik.pdf", "application/pdf", b"%PDF-1.4 tajny cennik")],
    )


PDF = b"%PDF-1.4\n% hostile test\n"
FORGED_FROM = "=?utf-8?q?Evil=0D=0ABcc=3A_x=40y.z?= <boss@alpha.example>"
# Other ways of making a decoded display name into an address or a header line.
FORGED_FROM_VARIANTS = [
    FORGED_FROM,
    '"=?utf-8?q?Evil=0D=0ABcc=3A_x=40y.z?=" <boss@alpha.example>',
    "=?utf-8?b?RXZpbA0KQmNjOiB4QHkueg==?= <boss@alpha.example>",
    "=?utf-8?q?x=40y.z?= <boss@alpha.example>",
    "=?utf-8?q?Evil_=3Cx=40y.z=3E=2C_x=40y.z?= <boss@alpha.example>",
    "=?utf-8?q?Evil=0ABcc=3A_x=40y.z?= <boss@alpha.example>",
    "=?utf-8?q?Evil=00=E2=80=AE=C2=85Bcc=3A_x=40y.z?= <boss@alpha.example>",
    "boss@alpha.example (=?utf-8?q?Evil=0D=0ABcc=3A_x=40y.z?=)",
]


def headers(
    *,
    sender: str = "Jan Novák <jan.novak@stavby-pribram.cz>",
    to: str = "Jana Nováková <jana@firma.cz>",
    subject: str = "Nabídka",
    message_id: str = "hostile@stavby-pribram.cz",
    extra: str = "",
) -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {DATE}\r\n"
        f"Message-ID: <{message_id}>\r\nMIME-Version: 1.0\r\n{extra}"
    ).encode()


def plain(body: str = "Dobrý den,\r\nposílám nabídku.\r\n", **kw: Any) -> bytes:
    return (
        headers(**kw)
        + b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + body.encode()
    )


def nested_multipart(depth: int, **kw: Any) -> bytes:
    """``depth`` multiparts inside each other, a text part at the bottom."""
    body = b"Content-Type: text/plain\r\n\r\nnejhlubsi text\r\n"
    for level in range(depth, 0, -1):
        b = f"hloubka{level}".encode()
        body = (
            b'Content-Type: multipart/mixed; boundary="'
            + b
            + b'"\r\n\r\n--'
            + b
            + b"\r\n"
            + body
            + b"\r\n--"
            + b
            + b"--\r\n"
        )
    return headers(**kw) + body


def nested_rfc822(depth: int, **kw: Any) -> bytes:
    """A message forwarded as an attachment, forwarded again, ``depth`` times."""
    inner = b"Subject: dno\r\nContent-Type: text/plain\r\n\r\nnejhlubsi text\r\n"
    for _level in range(depth):
        inner = b"Content-Type: message/rfc822\r\n\r\n" + inner
    return headers(**kw) + inner


def many_recipients(count: int, *, known: dict[int, str] | None = None, **kw: Any) -> bytes:
    """A To of ``count`` addresses; ``known``: position -> an address to put there."""
    known = known or {}
    to = ",\r\n ".join(
        known.get(i, f'"Příjemce {i}" <prijemce{i}@odberatel.example>') for i in range(count)
    )
    return plain(to=to, **kw)


def folded_attachment(**kw: Any) -> bytes:
    """A PDF whose Content-Type and file name were folded onto a second line."""
    return headers(extra='Content-Type: multipart/mixed; boundary="B"\r\n', **kw) + (
        b"\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nV priloze nabidka.\r\n"
        b'--B\r\nContent-Type: application/\r\n pdf; name="nabidka\r\n .pdf"\r\n'
        b'Content-Disposition: attachment; filename="nabidka\r\n\t2026.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        b"JVBERi0xLjQKJSBob3N0aWxlIHRlc3QK\r\n"
        b"--B\r\nContent-Type: application/pdf\x01\x7f;\r\n\tname=cenik.pdf\r\n"
        b"Content-Disposition: attachment; filename=cenik.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        b"JVBERi0xLjQKJSBob3N0aWxlIHRlc3QK\r\n--B--\r\n"
    )


@contextmanager
def write_lock_during_parse(db_path: str) -> Iterator[list[bool]]:
    """Each time ``parse`` begins in this thread: True if another connection could not take
    SQLite's write lock at that moment (someone holds it), else False."""
    held: list[bool] = []
    target = parse_module.parse.__code__

    def probe(frame: FrameType, event: str, _arg: object) -> None:
        if event != "call" or frame.f_code is not target:
            return
        other = sqlite3.connect(db_path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            held.append(False)
        except sqlite3.OperationalError:
            held.append(True)
        finally:
            other.close()

    previous = sys.getprofile()
    sys.setprofile(probe)
    try:
        yield held
    finally:
        sys.setprofile(previous)
