"""Raw RFC 822 bytes -> ParsedMessage, never trusting a header to be well formed.

The standard library parses (``policy.default``); every header read goes through ``_header``,
which falls back to the raw value when the header classes raise (some headers raise IndexError);
address headers are read from their raw text by mail_archive.addresses (linear, and a decoded
display name never becomes an address); text parts are decoded with a charset fallback chain,
since ``get_content`` raises LookupError for charsets such as DEFAULT_CHARSET, x-mac-cyrillic or
unknown-8bit. What could not be read is recorded in ``defects``; nothing raises.

Hostile mail is bounded, never fatal: a MIME structure nested deeper than the parser can follow
keeps its outer headers; more addresses than ``MAX_ADDRESSES`` are left in the raw bytes; an
over-long subject or display name is shortened; MIME parameters (type, file name) are unfolded
and cleaned. Each such message says so in ``defects`` and, when part of it was not read, in
``incomplete``. Every text field fits the column it is stored in (mail_archive.models).
Protocol objects (email.message.Message) stay inside this module.
"""

from __future__ import annotations

import binascii
import codecs
import datetime as dt
import email.header
import email.quoprimime
import email.utils
import functools
import mimetypes
import re
import unicodedata
from dataclasses import dataclass, field
from email import policy
from email.errors import MessageError
from email.headerregistry import BaseHeader
from email.message import Message
from email.parser import BytesParser
from email.policy import Compat32, EmailPolicy

from mail_archive.addresses import RawMailbox, addr_spec, address_list, display_name, unfold
from mail_archive.html import html_to_text
from mail_archive.tnef import unpack_tnef

HEADER_ERRORS = (AttributeError, IndexError, LookupError, ValueError, TypeError, MessageError)
MAX_DEPTH = 20
UTF8_BOM = b"\xef\xbb\xbf"
MAX_TEXT = 2_000_000  # characters of body text kept for search and display
MAX_SUBJECT = 1000  # characters of the subject shown and stored (the raw message keeps it all)
MAX_NAME = 300  # characters of a display name (Message.from_name is String(300))
MAX_MSGID = 500  # Message.internet_id, in_reply_to and thread_key are String(500)
MAX_ADDRESSES_PER_HEADER = 2000
MAX_ADDRESSES = 5000  # From, To, Cc and Reply-To together
# A header value longer than this is parsed from its beginning only: the header classes, the
# MIME parameter parser and RFC 2047 decoding all slow down more than linearly on huge values,
# and no real Subject, Content-Type or file name comes close.
MAX_HEADER_CHARS = 16384
MAX_RAW_SUBJECT = 8 * MAX_SUBJECT  # raw characters read for the subject (encoded words expand)
MAX_RAW_NAME = 2000  # raw characters read for a display name or a file name
CHARSET_ALIASES = {
    "x-mac-cyrillic": "mac_cyrillic",
    "x-mac-ce": "mac_latin2",
    "ks_c_5601-1987": "cp949",
    "windows-874": "cp874",
    "x-gbk": "gbk",
    "gb2312": "gb18030",
    "iso-8859-8-i": "iso-8859-8",
    "x-sjis": "shift_jis",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
}
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([qQbB])\?([^?\s]*)\?=")
_MSGID_RE = re.compile(r"<([^<>\s\x00-\x1f\x7f]+)>")
_MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
_SURROGATES = re.compile("[\udc80-\udcff]")
_TAG_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')


class _ArchivePolicy(EmailPolicy):
    """``policy.default`` whose header objects are built once per distinct header value.

    The parser and every reader ask for the same Content-Type, From or To again and again (per
    part, per message, and across a mailbox where the same senders and recipients recur); the
    header classes are immutable, so one parsed object serves every ask. Long values (a To of a
    thousand recipients) are parsed each time rather than kept. A header whose parsing raises
    is not cached and raises again, as with policy.default."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        if hasattr(value, "name"):
            return value
        value = value[:MAX_HEADER_CHARS]
        if len(value) > CACHED_HEADER_CHARS:
            return super().header_fetch_parse(name, value)  # type: ignore[no-any-return]
        return _parsed_header(self, name, value)


CACHED_HEADER_CHARS = 1000


@functools.lru_cache(maxsize=8192)
def _parsed_header(fetch_policy: EmailPolicy, name: str, value: str) -> BaseHeader:
    return EmailPolicy.header_fetch_parse(fetch_policy, name, value)  # type: ignore[no-any-return]


class _ParameterPolicy(Compat32):
    """compat32 for reading MIME parameters (raw values, no header objects), each header value
    read from its first MAX_HEADER_CHARS characters."""

    def header_fetch_parse(  # type: ignore[override]
        self, name: str, value: str
    ) -> str | email.header.Header:
        return super().header_fetch_parse(name, value[:MAX_HEADER_CHARS])


_policy = _ArchivePolicy()
_parameter_policy = _ParameterPolicy()
_parser = BytesParser(policy=_policy)


@dataclass(frozen=True)
class Address:
    name: str
    addr: str  # lower-case

    @property
    def domain(self) -> str:
        return self.addr.rpartition("@")[2]

    def as_pair(self) -> list[str]:
        return [self.name, self.addr]


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes
    inline: bool = False
    content_id: str = ""
    origin: str = "mime"  # mime | tnef | rfc822
    text: str = ""


@dataclass
class ParsedMessage:
    internet_id: str = ""
    subject: str = ""
    from_: Address | None = None
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    reply_to: list[Address] = field(default_factory=list)
    sent_at: dt.datetime | None = None
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    body_text: str = ""
    body_html: str = ""  # as received: sanitize before display
    attachments: list[ParsedAttachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    auto: bool = False
    # Part of the message could not be read (too deep, too many addresses, not parseable): the
    # raw bytes keep it, and it is never taken for private mail and left out.
    incomplete: bool = False

    @property
    def thread_key(self) -> str:
        """The thread's root Message-ID as far as this message knows it."""
        if self.references:
            return self.references[0]
        return self.in_reply_to or self.internet_id

    @property
    def all_addresses(self) -> list[Address]:
        seen: dict[str, Address] = {}
        for a in [*([self.from_] if self.from_ else []), *self.to, *self.cc, *self.reply_to]:
            seen.setdefault(a.addr, a)
        return list(seen.values())

    def searchable_text(self) -> str:
        """Headers and body as text: what a nested message contributes to search."""
        people = ", ".join(a.name or a.addr for a in self.all_addresses)
        parts = [self.subject, people, self.body_text]
        parts += [a.text for a in self.attachments if a.text]
        return "\n".join(p for p in parts if p)


def parse(raw: bytes) -> ParsedMessage:
    """Parse ``raw``; a message that cannot be read at all still yields a ParsedMessage whose
    defects say why."""
    bom = raw.startswith(UTF8_BOM)  # a .eml saved by a Windows editor
    data = raw[len(UTF8_BOM) :] if bom else raw
    try:
        msg = _parser.parsebytes(data)
    except RecursionError:
        # The feed parser follows nested multiparts by recursion: a message nested a thousand
        # levels deep exhausts the stack. Its headers are still read; its parts stay in the raw.
        parsed = _headers_only(data)
    except HEADER_ERRORS as exc:
        return ParsedMessage(
            defects=[f"unparseable message: {type(exc).__name__}"], incomplete=True
        )
    else:
        parsed = _from_message(msg, depth=0)
    if bom:
        parsed.defects.insert(0, "byte order mark before the headers")
    return parsed


def _headers_only(data: bytes) -> ParsedMessage:
    try:
        msg = _parser.parsebytes(data, headersonly=True)
    except (*HEADER_ERRORS, RecursionError) as exc:
        return ParsedMessage(
            defects=[f"unparseable message: {type(exc).__name__}"], incomplete=True
        )
    out = ParsedMessage()
    _read_headers(msg, out)
    out.defects.append(_TOO_DEEP)
    out.incomplete = True
    return out


_TOO_DEEP = "MIME structure too deep: the parts below are kept only in the raw message"


def _read_headers(msg: Message, out: ParsedMessage) -> None:
    defects = out.defects
    out.internet_id = _first_msgid(_raw_header(msg, "message-id"))
    out.subject = _one_line(_header(msg, "subject", defects))
    if len(out.subject) > MAX_SUBJECT:
        defects.append(f"subject longer than {MAX_SUBJECT} characters (shortened)")
        out.subject = out.subject[:MAX_SUBJECT]
    room = MAX_ADDRESSES
    senders = _addresses(msg, "from", out, room)
    out.from_ = senders[0] if senders else None
    room -= len(senders)
    out.to = _addresses(msg, "to", out, room)
    room -= len(out.to)
    out.cc = _addresses(msg, "cc", out, room)
    room -= len(out.cc)
    out.reply_to = _addresses(msg, "reply-to", out, room)
    out.sent_at = _date(msg, defects)
    out.in_reply_to = _first_msgid(_raw_header(msg, "in-reply-to"))
    out.references = [
        r[:MAX_MSGID] for r in _MSGID_RE.findall(clean_text(_raw_header(msg, "references")))[:100]
    ]
    if out.in_reply_to and out.in_reply_to not in out.references:
        out.references.append(out.in_reply_to)
    out.auto = _is_automatic(msg, out)


def _from_message(msg: Message, depth: int) -> ParsedMessage:
    out = ParsedMessage()
    defects = out.defects
    _read_headers(msg, out)
    try:
        _walk(msg, out, depth, in_alternative=False)
    except RecursionError:
        defects.append(_TOO_DEEP)
        out.incomplete = True
    for d in getattr(msg, "defects", []):
        defects.append(type(d).__name__)
    if not out.body_text and out.body_html:
        out.body_text = html_to_text(out.body_html)
    out.body_text = out.body_text[:MAX_TEXT]
    out.defects = list(dict.fromkeys(defects))  # unique, in order
    return out


# -- headers ---------------------------------------------------------------------------------


def _header(msg: Message, name: str, defects: list[str]) -> str:
    raw = _raw_header(msg, name)
    if len(raw) > MAX_RAW_SUBJECT:
        defects.append(f"{name} header longer than {MAX_RAW_SUBJECT} characters (shortened)")
        return _decode_raw(_undo_surrogates(raw)[:MAX_RAW_SUBJECT])
    if _SURROGATES.search(raw):
        # 8-bit bytes without RFC 2047 (old Outlook in windows-1250): the header classes would
        # turn each into U+FFFD; decode them ourselves.
        return _decode_raw(raw)
    try:
        value = msg.get(name)
        return "" if value is None else clean_text(str(value))
    except HEADER_ERRORS:
        defects.append(f"unreadable {name} header")
    return _decode_raw(raw)


def _raw_header(msg: Message, name: str) -> str:
    for key, value in msg.raw_items():
        if key.lower() == name:
            return str(value)
    return ""


def _decode_raw(raw: str) -> str:
    """An RFC 2047 header value decoded by hand, in one pass: 8-bit text around the encoded
    words read as UTF-8 (else windows-1250), adjacent encoded words of one charset decoded
    together (Outlook splits a character between two), each charset with a fallback. Callers
    bound the length, as for every header value."""
    raw = _undo_surrogates(raw)
    text: list[str] = []
    pending: list[bytes] = []  # adjacent encoded words' bytes, all in ``charset``
    charset = ""
    pos = 0
    for word in _ENCODED_WORD.finditer(raw):
        between = raw[pos : word.start()]
        word_charset = word.group(1).partition("*")[0].lower()  # RFC 2231 §5: a language
        if pending and (between.strip() or word_charset != charset):
            text.append(decode_bytes(b"".join(pending), charset)[0])
            pending = []
        if not pending:  # RFC 2047 §6.2: white space between adjacent encoded words goes
            text.append(between)
        pending.append(_word_bytes(word.group(2), word.group(3)))
        charset, pos = word_charset, word.end()
    if pending:
        text.append(decode_bytes(b"".join(pending), charset)[0])
    text.append(raw[pos:])
    return clean_text("".join(text))


def _word_bytes(encoding: str, payload: str) -> bytes:
    if encoding in "bB":
        try:
            return binascii.a2b_base64(payload + "===")  # missing padding is common
        except (binascii.Error, ValueError):  # ValueError: 8-bit bytes inside the word
            return payload.encode("ascii", "replace")
    return email.quoprimime.header_decode(payload).encode("latin-1", "replace")


def _addresses(msg: Message, name: str, out: ParsedMessage, room: int) -> list[Address]:
    """The addresses of header ``name``, at most ``MAX_ADDRESSES_PER_HEADER`` and ``room``;
    the rest are counted, noted and left in the raw message."""
    raw = _raw_header(msg, name)
    if not raw:
        return []
    limit = max(0, min(MAX_ADDRESSES_PER_HEADER, room))
    found: list[Address] = []
    left_out = 0
    for box in address_list(unfold(raw)):
        if box.blank:
            continue
        if len(found) >= limit:
            left_out += 1
            continue
        address = _address(box, name, out.defects)
        if address is not None:
            found.append(address)
    if left_out:
        out.incomplete = True
        out.defects.append(
            f"too many addresses: {left_out} in the {name} header not read "
            "(the raw message keeps them)"
        )
    return found


def _address(box: RawMailbox, header: str, defects: list[str]) -> Address | None:
    addr = addr_spec(_undo_surrogates(box.raw_address))
    if not addr:
        defects.append(f"unreadable address in the {header} header")
        return None
    raw_name = box.raw_name
    # 8-bit bytes read first, so that the cut never splits a character
    name = _decode_raw(_undo_surrogates(raw_name)[:MAX_RAW_NAME]) if raw_name.strip() else ""
    name = display_name(name)
    if len(name) > MAX_NAME:
        defects.append(f"display name in the {header} header longer than {MAX_NAME} characters")
        name = name[:MAX_NAME]
    return Address(name, addr)


def _date(msg: Message, defects: list[str]) -> dt.datetime | None:
    raw = ""
    try:
        header = msg.get("date")
        if header is None:
            defects.append("no Date header")
            return None
        value = getattr(header, "datetime", None)
        raw = str(header)
    except HEADER_ERRORS:
        value = None
        raw = _raw_header(msg, "date")
    if value is None:
        try:
            value = email.utils.parsedate_to_datetime(raw) if raw else None
        except (TypeError, ValueError, IndexError):
            value = None
    if value is None:
        defects.append(f"invalid Date header: {raw[:80]!r}")
        return None
    if value.tzinfo is None:
        defects.append("Date header without time zone (taken as UTC)")
        value = value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        defects.append(f"invalid Date header: {raw[:80]!r}")
        return None


def _first_msgid(value: str) -> str:
    """The first ``<id>`` of a header (or a bare id): printable, one line, at most 500
    characters, so that it can be written back into a reply's headers as it is."""
    value = clean_text(value)
    found = _MSGID_RE.search(value)
    if found:
        return found.group(1)[:MAX_MSGID]
    value = value.strip()
    return value[:MAX_MSGID] if value and not any(c.isspace() for c in value) else ""


def _is_automatic(msg: Message, parsed: ParsedMessage) -> bool:
    """Auto-replies, bounces and delivery reports: they never create links by themselves."""
    auto_submitted = _raw_header(msg, "auto-submitted").strip().lower()
    if auto_submitted and auto_submitted != "no":
        return True
    for name in ("x-auto-response-suppress", "x-autoreply", "x-autorespond"):
        if _raw_header(msg, name):
            return True
    if _raw_header(msg, "precedence").strip().lower() in ("auto_reply", "junk"):
        return True
    if _raw_header(msg, "return-path").strip() == "<>":
        return True
    try:
        ctype = msg.get_content_type()
    except HEADER_ERRORS:
        ctype = ""
    if ctype == "multipart/report":
        return True
    sender = parsed.from_.addr.partition("@")[0] if parsed.from_ else ""
    return sender in ("mailer-daemon", "postmaster")


# -- body and attachments ---------------------------------------------------------------------


def _walk(part: Message, out: ParsedMessage, depth: int, *, in_alternative: bool) -> None:
    if depth > MAX_DEPTH:
        out.defects.append(_TOO_DEEP)
        out.incomplete = True
        return
    # The structure is parsed with policy.default; MIME parameters are read through compat32,
    # which returns raw values instead of building header objects (several times faster on
    # bulk ingest); RFC 2231 names are decoded by it, RFC 2047 names by _decode_raw below.
    part.policy = _parameter_policy
    ctype = _content_type(part, out.defects)
    if ctype == "message/rfc822" or (
        ctype.startswith("message/") and part.is_multipart() and ctype != "message/partial"
    ):
        _nested_message(part, out, depth)
        return
    if part.is_multipart():
        payload = part.get_payload()
        if not isinstance(payload, list):
            return
        alternative = ctype == "multipart/alternative"
        for sub in payload:
            if isinstance(sub, Message):
                _walk(sub, out, depth + 1, in_alternative=alternative)
            for d in getattr(sub, "defects", []):
                out.defects.append(type(d).__name__)
        return
    disposition, filename = _disposition(part, out.defects)
    is_body = disposition != "attachment" and not filename
    if is_body and ctype == "text/plain":
        text = _text_of(part, out.defects)
        if not out.body_text:
            out.body_text = text
        elif not in_alternative:
            out.body_text += "\n\n" + text
        return
    if is_body and ctype == "text/html":
        html = _text_of(part, out.defects)
        if not out.body_html:
            out.body_html = html
        elif not in_alternative:
            out.body_html += "<hr>" + html
        return
    data = _payload_bytes(part, out.defects)
    is_tnef = ctype == "application/ms-tnef" or filename.lower() == "winmail.dat"
    if is_tnef and _unpack_tnef(data, out):
        return
    raw_cid = _one_line(clean_text(_raw_header(part, "content-id")))
    content_id = _first_msgid(raw_cid) or raw_cid.strip("<> ")
    attachment = ParsedAttachment(
        filename=safe_filename(filename, ctype, len(out.attachments) + 1),
        content_type=ctype,
        data=data,
        inline=disposition == "inline" or (disposition is None and bool(content_id)),
        content_id=content_id[:255],
    )
    if ctype.startswith("text/"):
        text = decode_bytes(data, _charset(part))[0]
        attachment.text = html_to_text(text) if ctype == "text/html" else text[:MAX_TEXT]
    out.attachments.append(attachment)


def _nested_message(part: Message, out: ParsedMessage, depth: int) -> None:
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    disposition, filename = _disposition(part, out.defects)
    data = b""
    if isinstance(inner, Message):
        try:
            data = inner.as_bytes(policy=policy.SMTP.clone(linesep="\r\n", max_line_length=0))
        except (*HEADER_ERRORS, UnicodeError, RecursionError):
            try:
                data = inner.as_string(policy=policy.compat32).encode("utf-8", "surrogateescape")
            except (*HEADER_ERRORS, UnicodeError, RecursionError):
                out.defects.append("unreadable attached message")
        nested = _from_message(inner, depth + 1)
    else:
        data = _payload_bytes(part, out.defects)
        nested = parse(data) if depth < MAX_DEPTH else ParsedMessage()
    if nested.incomplete:
        out.incomplete = True
        out.defects.append(
            _TOO_DEEP if _TOO_DEEP in nested.defects else "attached message not fully read"
        )
    name = filename or (nested.subject[:150] + ".eml" if nested.subject else "")
    out.attachments.append(
        ParsedAttachment(
            filename=safe_filename(name, "message/rfc822", len(out.attachments) + 1),
            content_type="message/rfc822",
            data=data,
            inline=disposition == "inline",
            origin="rfc822",
            text=nested.searchable_text()[:MAX_TEXT],
        )
    )


def _unpack_tnef(data: bytes, out: ParsedMessage) -> bool:
    contents = unpack_tnef(data)
    if contents.error:
        out.defects.append(f"winmail.dat not readable: {contents.error}")
        return False
    for f in contents.attachments:
        guessed = mimetypes.guess_type(f.name)[0] or "application/octet-stream"
        out.attachments.append(
            ParsedAttachment(
                filename=safe_filename(f.name, guessed, len(out.attachments) + 1),
                content_type=guessed,
                data=f.data,
                origin="tnef",
            )
        )
    if not out.body_html and contents.body_html:
        out.body_html = clean_text(contents.body_html)  # no NUL: PostgreSQL refuses it
    if not out.body_text and contents.body_text:
        out.body_text = clean_text(contents.body_text)
    return True


def _content_type(part: Message, defects: list[str]) -> str:
    """The part's type as a clean ``type/subtype`` token: a type folded onto a second line
    ("application/\\r\\n pdf") is unfolded, one that is still not a type is taken for
    application/octet-stream, so that what is stored can always be sent back as a header."""
    try:
        ctype = part.get_content_type()
    except HEADER_ERRORS:
        defects.append("unreadable Content-Type")
        return "application/octet-stream"
    ctype = "".join(_CONTROLS.sub("", ctype).split()).lower()
    if not _MIME_TYPE.fullmatch(ctype):
        defects.append("unreadable Content-Type")
        return "application/octet-stream"
    return ctype


def _disposition(part: Message, defects: list[str]) -> tuple[str | None, str]:
    try:
        disposition = part.get_content_disposition()
    except HEADER_ERRORS:
        disposition = None
        defects.append("unreadable Content-Disposition")
    try:
        filename = part.get_filename() or ""
    except HEADER_ERRORS:
        filename = ""
        defects.append("unreadable attachment name")
    if not isinstance(filename, str):
        filename = str(filename)
    filename = unfold(filename).replace("\t", " ")  # a name folded onto a second line
    if "=?" in filename:  # RFC 2047 inside a parameter: wrong, and what Outlook writes
        return disposition, _decode_raw(_undo_surrogates(filename)[:MAX_RAW_NAME])
    if "\ufffd" in filename:  # raw 8-bit bytes, which the parameter parser replaced
        filename = _raw_filename(part) or filename
    return disposition, clean_text(filename)


_RAW_PARAMS = {
    name: re.compile(rf'(?i)(?:^|;)\s*{name}\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))')
    for name in ("filename", "name")
}


def _raw_filename(part: Message) -> str:
    """An attachment's name written in raw 8-bit bytes (no RFC 2231 or 2047), read from the
    header as it came: UTF-8, else windows-1250, as for other headers (``_undo_surrogates``).
    "" when the header has no such name."""
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        found = _RAW_PARAMS[param].search(unfold(_raw_header(part, header)))
        if found and _SURROGATES.search(found.group(0)):
            value = found.group(1) if found.group(1) is not None else found.group(2)
            return _undo_surrogates(re.sub(r"\\(.)", r"\1", value))[:MAX_RAW_NAME]
    return ""


def _payload_bytes(part: Message, defects: list[str]) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except (*HEADER_ERRORS, UnicodeError):
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    if isinstance(raw, str):
        defects.append("undecodable part payload kept as is")
        return raw.encode("utf-8", "surrogateescape")
    return b""


def _charset(part: Message) -> str | None:
    try:
        charset = part.get_content_charset()
    except HEADER_ERRORS:
        return None
    return "".join(unfold(charset).split()) if charset else charset


def _text_of(part: Message, defects: list[str]) -> str:
    text, problem = decode_bytes(_payload_bytes(part, defects), _charset(part))
    if problem:
        defects.append(problem)
    return text


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, str]:
    """Text of ``data`` in ``charset``, else UTF-8, else windows-1250 (the usual undeclared
    charset of Czech, Slovak and Polish mail); the second value names a fallback taken."""
    problem = ""
    name = (charset or "").strip().strip('"').lower()
    name = CHARSET_ALIASES.get(name, name)
    if name:
        try:
            codecs.lookup(name)
        except LookupError:
            problem = f"unknown charset {charset!r}"
            name = ""
    if name:
        try:
            return clean_text(data.decode(name)), problem
        except UnicodeDecodeError:
            problem = f"text not valid {charset}"
        except (LookupError, ValueError):  # codecs that refuse to decode (e.g. utf-7 oddities)
            problem = f"unknown charset {charset!r}"
    try:
        return clean_text(data.decode("utf-8")), problem
    except UnicodeDecodeError:
        pass
    return clean_text(data.decode(name or "cp1250", "replace")), problem or "undeclared charset"


def clean_text(value: str) -> str:
    """Text safe for every database: no NUL or other control bytes, no lone surrogates (8-bit
    header bytes come back from the parser as surrogate escapes: decode them as UTF-8 or
    windows-1250)."""
    value = _undo_surrogates(value)
    if value.isascii():
        return _TAG_CHARS.sub("", value)
    value = value.encode("utf-8", "replace").decode("utf-8")
    return _TAG_CHARS.sub("", value)


def _undo_surrogates(value: str) -> str:
    """8-bit bytes the parser kept as surrogate escapes, read as UTF-8, else windows-1250."""
    if _SURROGATES.search(value):
        raw = value.encode("utf-8", "surrogateescape")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("cp1250", "replace")
    return value


def _one_line(value: str) -> str:
    return " ".join(value.split())


def safe_filename(name: str, content_type: str, position: int) -> str:
    """A name that is a plain file name: no folders, no control characters, not hidden, at most
    200 characters; a name made up from the type when the part has none."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("_", name).strip().lstrip(".").strip()
    if not name:
        ext = (
            ".eml"
            if content_type == "message/rfc822"
            else mimetypes.guess_extension(content_type) or ".bin"
        )
        name = f"attachment-{position}{ext}"
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else name[:200]
    return name
