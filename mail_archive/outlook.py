"""Outlook .msg files ([MS-OXMSG]: MAPI properties in an OLE2 compound file) -> RFC 822 bytes.

Outlook users save mail by dragging it out of Outlook, which writes a .msg file. The archive keeps
RFC 822 (the raw download, the parser, threads, search and every mail program read it), so a .msg
is converted once, on its way in, by ``convert``: the headers Outlook kept (the transport headers
of received mail verbatim, else From, Sender, To, Cc, Bcc, Date, Subject, Message-ID, In-Reply-To
and References from the MAPI properties), the plain and HTML bodies, the attachments with their
names and content ids, and attached Outlook items as message/rfc822 parts (converted the same way).

The original .msg is kept as the converted message's last attachment (application/vnd.ms-outlook,
named after the subject as Outlook names a dragged message): it becomes an attachment blob like
any other, downloadable from the message, and nothing Outlook stored is lost when the conversion
cannot carry a property over. The conversion is a pure function of the .msg bytes (MIME
boundaries derive from their sha256), so the same .msg filed twice gives the same bytes and the
archive dedupes it as it dedupes any mail.

Strings: a Unicode .msg stores UTF-16; an older one stores 8-bit strings in the code page named
by PR_MESSAGE_CODEPAGE, else PR_INTERNET_CPID, else the one of its locale (PR_MESSAGE_LOCALE_ID);
each string is decoded by itself, trying those, then UTF-8, then windows-1250, so one bad
property never makes the rest unreadable. What cannot be carried over is returned in ``notes``.

Bad input: a file that is not an OLE2 compound file, or one that is but holds no Outlook item,
raises ``NotOutlookItem``; a damaged one, an Outlook item that is no e-mail (a calendar item,
task, note or contact) or an empty one raises ``Refused`` with a reason a user understands.
extract_msg objects stay inside this module.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import hashlib
import io
import logging
import mimetypes
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.header import Header
from email.message import MIMEPart
from email.utils import format_datetime, formataddr
from typing import Any, TypeVar

import extract_msg
from extract_msg.enums import ErrorBehavior, RecipientType
from extract_msg.exceptions import ExMsgBaseException

from crm.text import N_
from mail_archive.html import html_to_text
from mail_archive.parse import MAX_DEPTH, clean_text, decode_bytes, safe_filename

__all__ = ["OLE2_SIGNATURE", "Converted", "NotOutlookItem", "Refused", "convert", "is_ole2"]

OLE2_SIGNATURE = bytes.fromhex("D0CF11E0A1B11AE1")
MIN_OLE2_SIZE = 1536  # a header sector and one more: anything shorter is cut off
MAX_NESTED = min(MAX_DEPTH, 10)  # attached Outlook items inside attached items
OUTLOOK_TYPE = "application/vnd.ms-outlook"

DAMAGED = N_(
    "This Outlook file is damaged and cannot be read. Save the message from Outlook again "
    "and use the new file."
)
EMPTY_ITEM = N_(
    "This Outlook message is empty: it has no sender, recipient, subject, text or attachment."
)
# Outlook items that are no e-mail, by message class (PR_MESSAGE_CLASS, [MS-OXCMSG] 2.2.1.3):
# a prefix, then either the end or a dot. Meeting requests, task requests, posts and delivery
# reports are mail and are archived.
NOT_MAIL_CLASSES = {
    "ipm.appointment": N_(
        "This Outlook file is a calendar item, not an e-mail; only e-mails can be filed."
    ),
    "ipm.task": N_("This Outlook file is a task, not an e-mail; only e-mails can be filed."),
    "ipm.stickynote": N_("This Outlook file is a note, not an e-mail; only e-mails can be filed."),
    "ipm.contact": N_("This Outlook file is a contact, not an e-mail; only e-mails can be filed."),
    "ipm.distlist": N_("This Outlook file is a contact, not an e-mail; only e-mails can be filed."),
    "ipm.activity": N_(
        "This Outlook file is a journal entry, not an e-mail; only e-mails can be filed."
    ),
}
# The ANSI code page of a Windows locale (LCID), for an 8-bit .msg that names no code page.
LOCALE_CODE_PAGES = {
    1029: 1250,  # Czech
    1051: 1250,  # Slovak
    1045: 1250,  # Polish
    1038: 1250,  # Hungarian
    1060: 1250,  # Slovenian
    1050: 1250,  # Croatian
    1048: 1250,  # Romanian
    1052: 1250,  # Albanian
    1049: 1251,  # Russian
    1058: 1251,  # Ukrainian
    1059: 1251,  # Belarusian
    1026: 1251,  # Bulgarian
    3098: 1251,  # Serbian (Cyrillic)
    1071: 1251,  # Macedonian
    1032: 1253,  # Greek
    1055: 1254,  # Turkish
    1037: 1255,  # Hebrew
    1025: 1256,  # Arabic
    1061: 1257,  # Estonian
    1062: 1257,  # Latvian
    1063: 1257,  # Lithuanian
    1066: 1258,  # Vietnamese
    1054: 874,  # Thai
    1041: 932,  # Japanese
    2052: 936,  # Chinese (PRC)
    1042: 949,  # Korean
    1028: 950,  # Chinese (Taiwan)
    3076: 950,  # Chinese (Hong Kong)
}
# Code pages that say nothing about 8-bit strings (PR_INTERNET_CPID of plain-ASCII mail).
_UNTELLING_CODE_PAGES = {20127}
_CODE_PAGE_NAMES = {65001: "utf-8", 20127: "ascii", 28591: "cp1252", 20866: "koi8-r"}
# MAPI property tags ([MS-OXPROPS]).
PR_MESSAGE_CLASS = "001A"
PR_SUBJECT = "0037"
PR_CLIENT_SUBMIT_TIME = "00390040"
PR_SENT_REPRESENTING_NAME = "0042"
PR_SENT_REPRESENTING_ADDRTYPE = "0064"
PR_SENT_REPRESENTING_EMAIL_ADDRESS = "0065"
PR_TRANSPORT_MESSAGE_HEADERS = "007D"
PR_SENDER_NAME = "0C1A"
PR_SENDER_ADDRTYPE = "0C1E"
PR_SENDER_EMAIL_ADDRESS = "0C1F"
PR_MESSAGE_DELIVERY_TIME = "0E060040"
PR_BODY = "1000"
PR_HTML = "1013"
PR_INTERNET_MESSAGE_ID = "1035"
PR_INTERNET_REFERENCES = "1039"
PR_IN_REPLY_TO_ID = "1042"
PR_DISPLAY_NAME = "3001"
PR_SMTP_ADDRESS = "39FE"
PR_EMAIL_ADDRESS = "3003"
PR_ADDRTYPE = "3002"
PR_ATTACH_FILENAME = "3704"
PR_ATTACH_LONG_FILENAME = "3707"
PR_ATTACH_MIME_TAG = "370E"
PR_ATTACH_CONTENT_ID = "3712"
PR_INTERNET_CPID = "3FDE0003"
PR_MESSAGE_LOCALE_ID = "3FF10003"
PR_MESSAGE_CODEPAGE = "3FFD0003"
PR_SENDER_SMTP_ADDRESS = "5D01"
PR_SENT_REPRESENTING_SMTP_ADDRESS = "5D02"
# Headers that describe the original MIME body, which the conversion builds anew.
_BODY_HEADERS = re.compile(r"(?i)content-|mime-version$")
_HEADER_FIELD = re.compile(r"([!-9;-~]+)[ \t]*:(.*)")
_MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}")
_CID_CHARS = re.compile(r"[^!-~]|[<>]")
_HTML_CHARSET = re.compile(rb"""(?i)<meta[^>]+charset\s*=\s*["']?\s*([a-z0-9_.:-]+)""")
_LATEST_DATE = dt.datetime(4000, 1, 1, tzinfo=dt.UTC)  # MAPI writes 4501-01-01 for "none"
# Every part is written 7-bit (quoted-printable or base64) so that no line of content can be
# taken for a boundary, whose "=_" no such line contains.
_POLICY = policy.SMTP.clone(cte_type="7bit")
_ERROR_BEHAVIOR = (
    ErrorBehavior.ATTACH_SUPPRESS_ALL
    | ErrorBehavior.RTFDE
    | ErrorBehavior.STANDARDS_VIOLATION
    | ErrorBehavior.NAMED_NAME_STREAM
)
# extract_msg logs every oddity of a file, tracebacks included, at WARNING and ERROR: what matters
# to the archive is returned in ``notes`` instead, and a hostile file must not flood the log.
for _name in ("extract_msg", "RTFDE", "olefile"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)

# What reading a file may raise: extract_msg's own errors, olefile's, plain ones from deep inside
# (a stream shorter than its header says, a recursion in the RTF, a code page Python does not
# know), and compressed_rtf's bare Exception for a bad checksum. A file is data: whatever reading
# it raises becomes a note (``_guarded``) or a refusal, never an error that stops the filing.
_LIBRARY_ERRORS = (Exception,)
_T = TypeVar("_T")


class NotOutlookItem(Exception):
    """The bytes are no OLE2 file, or an OLE2 file (a Word or Excel document) that holds no
    Outlook item."""


class Refused(Exception):
    """An Outlook file that cannot be archived; ``reason`` (marked for translation) says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Converted:
    raw: bytes  # RFC 822, the original .msg attached last
    notes: list[str] = field(default_factory=list)  # what could not be carried over


def is_ole2(data: bytes) -> bool:
    """An OLE2 compound file (an Outlook .msg, or a Word, Excel or other Office file of old)."""
    return data.startswith(OLE2_SIGNATURE)


def convert(data: bytes) -> Converted:
    """The .msg ``data`` as RFC 822 bytes with the original attached. Raises NotOutlookItem or
    Refused; never anything else on bad input."""
    if not is_ole2(data):
        raise NotOutlookItem("no OLE2 signature")
    if len(data) < MIN_OLE2_SIZE:
        raise Refused(DAMAGED)
    digest = hashlib.sha256(data).hexdigest()
    notes: list[str] = []
    msg = _open(data)
    try:
        if _empty(msg):
            raise Refused(EMPTY_ITEM)
        subject = _guarded(lambda: _item_subject(msg), notes, "subject") or ""
        raw = _mime(msg, _Boundaries(digest[:24]), notes, depth=0, original=(data, subject))
    except Refused:
        raise
    except _LIBRARY_ERRORS as exc:  # a stream the file's directory names but cannot deliver
        raise Refused(DAMAGED) from exc
    finally:
        _close(msg)
    return Converted(raw, list(dict.fromkeys(notes)))


# -- opening ---------------------------------------------------------------------------------


def _open(data: bytes) -> Any:
    """The Outlook item in ``data`` as an extract_msg Message (whatever its class, every item
    has a subject, a body, recipients and attachments), after refusing what is no e-mail."""
    try:
        probe = extract_msg.MSGFile(  # type: ignore[no-untyped-call]
            io.BytesIO(data), errorBehavior=_ERROR_BEHAVIOR
        )
    except _LIBRARY_ERRORS as exc:
        if _no_outlook_storage(exc):
            raise NotOutlookItem(str(exc)) from exc
        raise Refused(DAMAGED) from exc
    try:
        if not probe.exists("__properties_version1.0"):
            raise NotOutlookItem("no MAPI property stream")
        message_class = (_text(probe, PR_MESSAGE_CLASS, ("ascii",)) or "").strip().lower()
        if not message_class:
            raise NotOutlookItem("no message class")
        for prefix, reason in NOT_MAIL_CLASSES.items():
            if message_class == prefix or message_class.startswith(prefix + "."):
                raise Refused(reason)
        unicode = _guarded(lambda: bool(probe.areStringsUnicode), [], "")
    except (NotOutlookItem, Refused):
        raise
    except _LIBRARY_ERRORS as exc:
        raise Refused(DAMAGED) from exc
    finally:
        _close(probe)
    options: dict[str, Any] = {"errorBehavior": _ERROR_BEHAVIOR}
    if not unicode:
        # extract_msg decodes 8-bit strings in one code page and fails on the first byte that
        # does not fit; latin-1 never fails, and every string read here is decoded by _text.
        options["overrideEncoding"] = "latin-1"
    try:
        return extract_msg.Message(io.BytesIO(data), **options)  # type: ignore[no-untyped-call]
    except _LIBRARY_ERRORS as exc:
        raise Refused(DAMAGED) from exc


def _no_outlook_storage(exc: BaseException) -> bool:
    return isinstance(exc, ExMsgBaseException) and "property stream" in str(exc)


def _close(item: Any) -> None:
    # A file that failed halfway may have nothing left to close; its bytes are in memory.
    with contextlib.suppress(*_LIBRARY_ERRORS):
        item.close()


def _guarded(read: Callable[[], _T], notes: list[str], what: str) -> _T | None:
    """``read()``, or None when the library cannot read that part of the file (noted)."""
    try:
        return read()
    except _LIBRARY_ERRORS as exc:
        if what:
            notes.append(f"Outlook file: {what} not readable ({type(exc).__name__})")
        return None


# -- properties ------------------------------------------------------------------------------


def _code_pages(item: Any) -> tuple[str, ...]:
    """The code pages the item's 8-bit strings may be in, most likely first, as Python codec
    names: the message's own, its internet code page, its locale's; then UTF-8."""
    found = []
    for tag in (PR_MESSAGE_CODEPAGE, PR_INTERNET_CPID):
        value = item.getPropertyVal(tag)
        if isinstance(value, int) and value not in _UNTELLING_CODE_PAGES:
            found.append(_codec(value))
    locale = item.getPropertyVal(PR_MESSAGE_LOCALE_ID)
    if isinstance(locale, int) and locale in LOCALE_CODE_PAGES:
        found.append(f"cp{LOCALE_CODE_PAGES[locale]}")
    found.append("utf-8")
    return tuple(dict.fromkeys(name for name in found if name))


def _codec(code_page: int) -> str:
    if code_page in _CODE_PAGE_NAMES:
        return _CODE_PAGE_NAMES[code_page]
    for name in (f"cp{code_page}", f"iso8859-{code_page - 28590}"):
        try:
            return codecs.lookup(name).name
        except LookupError:
            continue
    return ""


def _text(item: Any, prop: str, code_pages: tuple[str, ...]) -> str | None:
    """A string property of a message, recipient or attachment: UTF-16 (type 001F), else 8-bit
    (001E) in the first of ``code_pages`` that decodes it (else windows-1250, the usual code
    page of Czech, Slovak and Polish Windows, with replacement characters); no NUL or other
    control characters."""
    raw = item.getStream(f"__substg1.0_{prop}001F")
    if raw is not None:
        return clean_text(raw.decode("utf-16-le", "replace"))
    raw = item.getStream(f"__substg1.0_{prop}001E")
    if raw is None:
        return None
    for name in code_pages:
        try:
            return clean_text(raw.decode(name))
        except UnicodeDecodeError:
            continue
    return clean_text(raw.decode("cp1250", "replace"))


def _line(value: str | None) -> str:
    return " ".join((value or "").split())


def _item_subject(msg: Any) -> str:
    return _line(_text(msg, PR_SUBJECT, _code_pages(msg)))


def _empty(msg: Any) -> bool:
    """No subject, text, sender, recipient or attachment: nothing worth filing (a blank item)."""
    code_pages = _code_pages(msg)
    sender = _guarded(lambda: _sender(msg, code_pages), [], "") or ("", "")
    recipients = _guarded(lambda: _recipients(msg, code_pages), [], "") or {}
    html = _guarded(lambda: _html_body(msg, code_pages), [], "") or ""
    return not (
        _item_subject(msg)
        or (_guarded(lambda: _plain_body(msg, code_pages), [], "") or "").strip()
        or html_to_text(html).strip()
        or any(sender)
        or any(recipients.values())
        or _text(msg, PR_TRANSPORT_MESSAGE_HEADERS, code_pages)
        or _guarded(lambda: msg.attachments, [], "")
    )


def _date(item: Any) -> dt.datetime | None:
    for tag in (PR_CLIENT_SUBMIT_TIME, PR_MESSAGE_DELIVERY_TIME):
        value = item.getPropertyVal(tag)
        if isinstance(value, dt.datetime) and value.year > 1601:
            value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
            if value < _LATEST_DATE:
                return value
    return None


def _smtp(address: str | None) -> str:
    """An internet address, or "" for an Exchange-internal one (/O=ORG/OU=.../CN=...)."""
    address = _line(address)
    if "@" not in address or "/" in address.partition("@")[0] or " " in address:
        return ""
    return address


def _mailbox(name: str | None, address: str) -> str:
    """``Name <addr>`` with the name RFC 2047-encoded when not ASCII; a name without an internet
    address is kept as ``Name <>`` (the parser notes the address it could not read)."""
    name = _line(name)
    if name == address:
        name = ""
    if not name and not address:
        return ""
    return formataddr((name, address), charset="utf-8")


def _sender(msg: Any, code_pages: tuple[str, ...]) -> tuple[str, str]:
    """(From, Sender): who the mail is from (PR_SENT_REPRESENTING_*) and, when another person
    sent it on their behalf, who sent it (PR_SENDER_*)."""
    representing = _mailbox(
        _text(msg, PR_SENT_REPRESENTING_NAME, code_pages),
        _smtp(_text(msg, PR_SENT_REPRESENTING_SMTP_ADDRESS, code_pages))
        or _smtp_of_type(msg, PR_SENT_REPRESENTING_ADDRTYPE, PR_SENT_REPRESENTING_EMAIL_ADDRESS),
    )
    sender = _mailbox(
        _text(msg, PR_SENDER_NAME, code_pages),
        _smtp(_text(msg, PR_SENDER_SMTP_ADDRESS, code_pages))
        or _smtp_of_type(msg, PR_SENDER_ADDRTYPE, PR_SENDER_EMAIL_ADDRESS),
    )
    if not representing:
        return sender, ""
    return representing, sender if sender and sender != representing else ""


def _smtp_of_type(item: Any, type_prop: str, address_prop: str) -> str:
    code_pages = _code_pages(item)
    if _line(_text(item, type_prop, code_pages)).upper() != "SMTP":
        return ""
    return _smtp(_text(item, address_prop, code_pages))


def _recipients(msg: Any, code_pages: tuple[str, ...]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {"To": [], "Cc": [], "Bcc": []}
    header = {RecipientType.TO: "To", RecipientType.CC: "Cc", RecipientType.BCC: "Bcc"}
    for recipient in msg.recipients:
        kind = header.get(recipient.type)
        if kind is None:
            continue
        address = _smtp(_text(recipient, PR_SMTP_ADDRESS, code_pages))
        if not address and _line(_text(recipient, PR_ADDRTYPE, code_pages)).upper() == "SMTP":
            address = _smtp(_text(recipient, PR_EMAIL_ADDRESS, code_pages))
        mailbox = _mailbox(_text(recipient, PR_DISPLAY_NAME, code_pages), address)
        if mailbox:
            found[kind].append(mailbox)
    return found


# -- headers ---------------------------------------------------------------------------------


def _headers(msg: Any, notes: list[str]) -> list[str]:
    """The header fields, each one folded line ending in CRLF: the transport headers Outlook
    kept from the mail as received, then what they lack from the MAPI properties."""
    code_pages = _code_pages(msg)
    fields = _transport_headers(_text(msg, PR_TRANSPORT_MESSAGE_HEADERS, code_pages) or "")
    have = {f.partition(":")[0].strip().lower() for f in fields}

    def add(name: str, value: str, *, addresses: bool = False) -> None:
        if value and name.lower() not in have:
            fields.append(f"{name}: {value}\r\n" if addresses else _unstructured(name, value))

    sender, on_behalf = _guarded(lambda: _sender(msg, code_pages), notes, "sender") or ("", "")
    add("From", sender, addresses=True)
    add("Sender", on_behalf, addresses=True)
    recipients = _guarded(lambda: _recipients(msg, code_pages), notes, "recipients") or {}
    for kind, boxes in recipients.items():
        add(kind, ",\r\n ".join(boxes), addresses=True)
    date = _date(msg)
    add("Date", format_datetime(date.astimezone(dt.UTC)) if date else "")
    add("Subject", _line(_text(msg, PR_SUBJECT, code_pages)))
    add("Message-ID", _line(_text(msg, PR_INTERNET_MESSAGE_ID, code_pages)))
    add("In-Reply-To", _line(_text(msg, PR_IN_REPLY_TO_ID, code_pages)))
    add("References", _line(_text(msg, PR_INTERNET_REFERENCES, code_pages)))
    return fields


def _transport_headers(text: str) -> list[str]:
    """The header fields of PR_TRANSPORT_MESSAGE_HEADERS as received (each with its folded
    lines), without those describing the body, which is built anew."""
    text = text.removeprefix("Microsoft Mail Internet Headers Version 2.0").lstrip("\r\n")
    fields: list[list[str]] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line.strip():
            if fields:
                break  # the end of the header block
            continue
        if line[0] in " \t" and fields:
            fields[-1].append(line)
            continue
        found = _HEADER_FIELD.match(line)
        if found is None:
            continue  # not a header line: no field to attach it to
        fields.append([line])
    kept = []
    for lines in fields:
        name = lines[0].partition(":")[0].strip()
        if _BODY_HEADERS.match(name):
            continue
        kept.append("".join(clean_text(line).rstrip() + "\r\n" for line in lines))
    return kept


def _unstructured(name: str, value: str) -> str:
    """One folded header field; RFC 2047 encoded words for what is not ASCII."""
    encoded = Header(value, "utf-8" if not value.isascii() else "us-ascii", header_name=name)
    return f"{name}: {encoded.encode(linesep=chr(13) + chr(10))}\r\n"


# -- body and attachments --------------------------------------------------------------------


class _Boundaries:
    """MIME boundaries that follow from the .msg bytes, so the same file converts to the same
    bytes."""

    def __init__(self, seed: str) -> None:
        self.seed = seed
        self.count = 0

    def next(self) -> str:
        self.count += 1
        return f"----=_Dossier_{self.seed}_{self.count}"


def _mime(
    msg: Any,
    boundaries: _Boundaries,
    notes: list[str],
    *,
    depth: int,
    original: tuple[bytes, str] | None = None,
) -> bytes:
    headers = _headers(msg, notes)
    root = _body(msg, boundaries, notes, depth)
    if original is not None:
        data, subject = original
        part = MIMEPart(policy=_POLICY)
        name = safe_filename((subject[:150] or "message") + ".msg", OUTLOOK_TYPE, 1)
        part.set_content(
            data, "application", "vnd.ms-outlook", disposition="attachment", filename=name
        )
        root = _mixed(root, [part], boundaries)
    head = "".join(headers) + "MIME-Version: 1.0\r\n"
    return head.encode("utf-8") + root.as_bytes(policy=_POLICY)


def _body(msg: Any, boundaries: _Boundaries, notes: list[str], depth: int) -> MIMEPart:
    code_pages = _code_pages(msg)
    text = _guarded(lambda: _plain_body(msg, code_pages), notes, "plain text body") or ""
    html = _guarded(lambda: _html_body(msg, code_pages), notes, "HTML body") or ""
    texts: list[MIMEPart] = []
    if text or not html:
        texts.append(_text_part(text, "plain"))
    if html:
        texts.append(_text_part(html, "html"))
    body = texts[0]
    if len(texts) > 1:
        body = _multipart("alternative", texts, boundaries)
    attached = _guarded(lambda: list(msg.attachments), notes, "attachments") or []
    inline: list[MIMEPart] = []
    files: list[MIMEPart] = []
    for position, attachment in enumerate(attached, start=1):
        part = _attachment(attachment, position, code_pages, html, boundaries, notes, depth)
        if part is not None:
            (inline if part.get_content_disposition() == "inline" else files).append(part)
    if inline:
        body = _multipart("related", [body, *inline], boundaries)
    return _mixed(body, files, boundaries) if files else body


def _mixed(body: MIMEPart, files: list[MIMEPart], boundaries: _Boundaries) -> MIMEPart:
    if body.get_content_type() == "multipart/mixed":
        for part in files:
            body.attach(part)
        return body
    return _multipart("mixed", [body, *files], boundaries)


def _multipart(subtype: str, parts: list[MIMEPart], boundaries: _Boundaries) -> MIMEPart:
    container = MIMEPart(policy=_POLICY)
    container["Content-Type"] = f"multipart/{subtype}"
    container.set_boundary(boundaries.next())
    for part in parts:
        container.attach(part)
    return container


def _text_part(text: str, subtype: str) -> MIMEPart:
    part = MIMEPart(policy=_POLICY)
    part.set_content(text, subtype, charset="utf-8", cte="quoted-printable")
    return part


def _plain_body(msg: Any, code_pages: tuple[str, ...]) -> str:
    body = _text(msg, PR_BODY, code_pages)
    if body is None:  # only an RTF body: its plain text, when extract_msg can take it out
        body = msg.body
    return clean_text(body or "")


def _html_body(msg: Any, code_pages: tuple[str, ...]) -> str:
    """PR_HTML: binary in the message's internet code page (or its <meta> charset), or an 8-bit
    or UTF-16 string; else HTML encapsulated in the RTF body."""
    data = msg.getStream(f"__substg1.0_{PR_HTML}0102")
    if data is None:
        text = _text(msg, PR_HTML, code_pages)
        if text is not None:
            return text
        deencapsulated = msg.deencapsulatedRtf
        if deencapsulated is None or deencapsulated.content_type != "html":
            return ""
        data = deencapsulated.html
        if isinstance(data, str):
            return clean_text(data)
    cpid = msg.getPropertyVal(PR_INTERNET_CPID)
    charset = _codec(cpid) if isinstance(cpid, int) else ""
    meta = _HTML_CHARSET.search(data[:4096])
    if meta and (not charset or charset == "ascii"):
        charset = meta.group(1).decode("ascii")
    return decode_bytes(bytes(data), charset)[0]


def _attachment(
    attachment: Any,
    position: int,
    code_pages: tuple[str, ...],
    html: str,
    boundaries: _Boundaries,
    notes: list[str],
    depth: int,
) -> MIMEPart | None:
    name = _line(
        _text(attachment, PR_ATTACH_LONG_FILENAME, code_pages)
        or _text(attachment, PR_ATTACH_FILENAME, code_pages)
        or _text(attachment, PR_DISPLAY_NAME, code_pages)
    )
    data = _guarded(lambda: attachment.data, notes, f"attachment {position}")
    if isinstance(data, extract_msg.MSGFile):
        # An attached Outlook item: named as Outlook shows it (PR_DISPLAY_NAME), else by subject.
        if depth + 1 > MAX_NESTED:
            notes.append(f"Outlook file: attached item {position} nested too deep")
            return None
        inner = _guarded(
            lambda: _mime(data, boundaries, notes, depth=depth + 1),
            notes,
            f"attached Outlook item {position}",
        )
        if inner is None:
            return None
        name = _line(
            _text(attachment, PR_DISPLAY_NAME, code_pages)
            or _text(data, PR_SUBJECT, _code_pages(data))
        )
        return _message_part(inner, name[:150], position)
    if not isinstance(data, bytes):
        kind = type(attachment).__name__
        notes.append(
            f"Outlook file: attachment {position} ({name or kind}) is no file and was not "
            "converted; the attached .msg keeps it"
        )
        return None
    content_type = _line(_text(attachment, PR_ATTACH_MIME_TAG, code_pages)).lower()
    if not _MIME_TYPE.fullmatch(content_type):
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if content_type == "message/rfc822" and _looks_like_mail(data):
        return _message_part(data, name.removesuffix(".eml"), position)
    if content_type.startswith(("multipart/", "message/")):
        content_type = "application/octet-stream"  # bytes, not a structure to be parsed again
    cid = _CID_CHARS.sub("", _text(attachment, PR_ATTACH_CONTENT_ID, code_pages) or "")[:250]
    hidden = bool(_guarded(lambda: attachment.hidden, [], ""))
    inline = bool(cid) and (hidden or f"cid:{cid}" in html)
    maintype, _, subtype = content_type.partition("/")
    part = MIMEPart(policy=_POLICY)
    part.set_content(
        data,
        maintype,
        subtype,
        disposition="inline" if inline else "attachment",
        filename=safe_filename(name, content_type, position),
        cid=f"<{cid}>" if cid else None,
    )
    return part


def _message_part(raw: bytes, name: str, position: int) -> MIMEPart:
    """A message/rfc822 part holding ``raw`` as it is (RFC 822 already, not parsed again)."""
    name = name.removesuffix(".msg").removesuffix(".MSG") or f"message-{position}"
    part = MIMEPart(policy=_POLICY)
    part["Content-Type"] = "message/rfc822"
    part["Content-Disposition"] = "attachment"
    part.set_param(
        "filename",
        safe_filename(name + ".eml", "message/rfc822", position),
        header="Content-Disposition",
    )
    part.set_payload(raw.decode("ascii", "surrogateescape"))
    return part


def _looks_like_mail(data: bytes) -> bool:
    first = data.lstrip()[:1000].split(b"\n", 1)[0].decode("ascii", "replace")
    return _HEADER_FIELD.match(first) is not None
