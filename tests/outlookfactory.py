"""Outlook .msg files written for the tests, the way [MS-OXMSG] lays them out: MAPI properties in
an OLE2 compound file (written with extract_msg's OleWriter), a property stream per object
(§2.4), variable-length values in ``__substg1.0_<tag>`` streams, recipients and attachments in
their own storages. Strings are UTF-16 in a Unicode file; in an older, 8-bit one they are in a
code page, named by PR_MESSAGE_CODEPAGE or only implied by the locale (PR_MESSAGE_LOCALE_ID),
as old Czech, Slovak and Polish Outlook wrote them."""

from __future__ import annotations

import datetime as dt
import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from extract_msg.ole_writer import OleWriter

from tests.mailfactory import make_mail

PT_LONG, PT_BOOLEAN, PT_SYSTIME = 0x0003, 0x000B, 0x0040
PT_STRING8, PT_UNICODE, PT_BINARY = 0x001E, 0x001F, 0x0102
STORE_UNICODE_OK = 0x40000
FILETIME_EPOCH = dt.datetime(1601, 1, 1, tzinfo=dt.UTC)
MAPI_TO, MAPI_CC = 1, 2


@dataclass
class OutlookMessage:
    subject: str = "Nabídka – hala Příbram"
    sender: tuple[str, str] = ("Jan Novák", "jan.novak@stavby-pribram.cz")
    to: Sequence[tuple[str, str]] = (("Jana Nováková", "jana@firma.cz"),)
    cc: Sequence[tuple[str, str]] = ()
    body: str = "Dobrý den,\r\nposílám nabídku na halu v Příbrami.\r\nS pozdravem Jan Novák\r\n"
    html: str | None = None  # PR_HTML, written in the internet code page (cpid)
    date: dt.datetime | None = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
    message_id: str | None = "<nabidka-1@stavby-pribram.cz>"
    message_class: str = "IPM.Note"
    # (name, mime type, data); data None: an attachment whose bytes Outlook did not keep
    attachments: Sequence[tuple[str, str, bytes | None]] = ()
    transport_headers: str | None = None
    unicode: bool = True
    code_page: int = 1250  # of the strings of an 8-bit file
    declare_code_page: bool = True  # PR_MESSAGE_CODEPAGE written (else only the locale tells)
    locale: int | None = None  # PR_MESSAGE_LOCALE_ID (1029 Czech, 1051 Slovak, 1045 Polish)
    cpid: int = 65001  # PR_INTERNET_CPID
    extra: dict[int, bytes] = field(default_factory=dict)  # more streams: tag -> bytes


class _Object:
    """One object's properties: fixed-size values in the property stream, the others in
    streams of their own."""

    def __init__(self, message: OutlookMessage) -> None:
        self.message = message
        self.fixed: list[bytes] = []
        self.streams: dict[str, bytes] = {}

    def string(self, prop: int, value: str | None) -> None:
        if value is None:
            return
        if self.message.unicode:
            data, kind = value.encode("utf-16-le"), PT_UNICODE
            size = len(data) + 2
        else:
            encoding = f"cp{self.message.code_page}"
            data, kind = value.encode(encoding), PT_STRING8
            size = len(data) + 1
        self._variable(prop, kind, data, size)

    def binary(self, prop: int, data: bytes) -> None:
        self._variable(prop, PT_BINARY, data, len(data))

    def long(self, prop: int, value: int) -> None:
        self._fixed(prop, PT_LONG, struct.pack("<I", value))

    def time(self, prop: int, value: dt.datetime) -> None:
        ticks = (value - FILETIME_EPOCH) // dt.timedelta(microseconds=1) * 10
        self._fixed(prop, PT_SYSTIME, struct.pack("<Q", ticks))

    def _fixed(self, prop: int, kind: int, value: bytes) -> None:
        self.fixed.append(struct.pack("<II", prop << 16 | kind, 6) + value.ljust(8, b"\0"))

    def _variable(self, prop: int, kind: int, data: bytes, size: int) -> None:
        tag = prop << 16 | kind
        self.fixed.append(struct.pack("<IIII", tag, 6, size, 0))
        self.streams[f"__substg1.0_{tag:08X}"] = data

    def write(self, ole: OleWriter, folder: str, header: bytes) -> None:
        prefix = f"{folder}/" if folder else ""
        ole.addEntry(f"{prefix}__properties_version1.0", data=header + b"".join(self.fixed))
        for name, data in self.streams.items():
            ole.addEntry(prefix + name, data=data)


def make_msg(message: OutlookMessage | None = None, **overrides: object) -> bytes:
    """The bytes of a .msg file as Outlook writes it when a message is dragged out."""
    m = message or OutlookMessage(**overrides)  # type: ignore[arg-type]
    ole = OleWriter()
    top = _Object(m)
    top.string(0x001A, m.message_class)
    top.string(0x0037, m.subject)
    top.string(0x0042, m.sender[0])
    top.string(0x0064, "SMTP")
    top.string(0x0065, m.sender[1])
    top.string(0x0C1A, m.sender[0])
    top.string(0x0C1E, "SMTP")
    top.string(0x0C1F, m.sender[1])
    top.string(0x1000, m.body)
    top.string(0x1035, m.message_id)
    top.string(0x007D, m.transport_headers)
    if m.html is not None:
        top.binary(0x1013, m.html.encode("utf-8" if m.cpid == 65001 else f"cp{m.cpid}"))
    if m.date is not None:
        top.time(0x0039, m.date)
        top.time(0x0E06, m.date)
    top.long(0x340D, STORE_UNICODE_OK if m.unicode else 0)
    top.long(0x3FDE, m.cpid)
    if not m.unicode and m.declare_code_page:
        top.long(0x3FFD, m.code_page)
    if m.locale is not None:
        top.long(0x3FF1, m.locale)
    for tag, data in m.extra.items():
        top.streams[f"__substg1.0_{tag:08X}"] = data
    recipients = [(MAPI_TO, r) for r in m.to] + [(MAPI_CC, r) for r in m.cc]
    attachments = list(m.attachments)
    # [MS-OXMSG] §2.4.1.1: reserved, next recipient id, next attachment id, the two counts
    counts = (len(recipients), len(attachments))
    header = struct.pack("<8xIIII8x", *counts, *counts)
    top.write(ole, "", header)
    ole.addEntry("__nameid_version1.0", storage=True)
    for stream in ("00020102", "00030102", "00040102"):
        ole.addEntry(f"__nameid_version1.0/__substg1.0_{stream}", data=b"")
    for n, (kind, (name, address)) in enumerate(recipients):
        recipient = _Object(m)
        recipient.long(0x0C15, kind)
        recipient.string(0x3001, name)
        recipient.string(0x3002, "SMTP")
        recipient.string(0x3003, address)
        recipient.string(0x39FE, address)
        folder = f"__recip_version1.0_#{n:08X}"
        ole.addEntry(folder, storage=True)
        recipient.write(ole, folder, b"\0" * 8)
    for n, (name, mime_type, data) in enumerate(attachments):
        attachment = _Object(m)
        attachment.long(0x3705, 1)  # ATTACH_BY_VALUE
        attachment.string(0x3707, name)
        attachment.string(0x3001, name)
        attachment.string(0x370E, mime_type)
        if data is not None:
            attachment.binary(0x3701, data)
        folder = f"__attach_version1.0_#{n:08X}"
        ole.addEntry(folder, storage=True)
        attachment.write(ole, folder, b"\0" * 8)
    out = io.BytesIO()
    ole.write(out)
    return out.getvalue()


def ole_file(streams: dict[str, bytes]) -> bytes:
    """An OLE2 compound file holding ``streams`` and nothing of Outlook: what a Word or Excel
    file of old looks like from outside."""
    ole = OleWriter()
    for name, data in streams.items():
        ole.addEntry(name, data=data)
    out = io.BytesIO()
    ole.write(out)
    return out.getvalue()


# An offer from Jan Novák of Stavby Příbram (the mail tests' dossier), with an HTML body, a Cc,
# a PDF, a note and a reply attached as .eml.
CZECH = OutlookMessage(
    subject="Nabídka – hala Příbram, 2. etapa",
    body="Dobrý den,\r\nv příloze posíláme nabídku na ocelovou halu.\r\nJan Novák\r\n",
    html="<p>Dobrý den,</p><p>v příloze posíláme <b>nabídku</b> na ocelovou halu.</p>",
    cc=[("Petr Dvořák", "petr@firma.cz")],
    attachments=[
        ("Nabídka č. 12.pdf", "application/pdf", b"%PDF-1.4\n% nabidka\n"),
        ("poznámky.txt", "text/plain", "Termín dodání: září".encode()),
        ("odpověď.eml", "message/rfc822", make_mail(subject="Re: Poptávka haly")),
    ],
)
