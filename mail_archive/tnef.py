"""Unpacking of TNEF (``winmail.dat``, ``application/ms-tnef``) attachments with ``tnefparse``.

``unpack_tnef`` never raises on bad input: what is not TNEF, or is TNEF too broken to read, comes
back with ``error`` set and no attachments.

tnefparse trusts the counts written in the file (a 53-byte file can ask it for 200 million
property values and exhaust memory), and it strips trailing NUL bytes from binary attachment data
(truncating e.g. Word files). So the stream is first walked here, the way tnefparse will walk it:
implausible counts reject the file before tnefparse sees it, and the exact bytes of every
``PR_ATTACH_DATA_OBJ`` value are kept to replace tnefparse's stripped copy.

The RTF body (``PR_RTF_COMPRESSED``) is not decompressed (that needs the ``compressed_rtf``
package); it is returned still compressed in ``body_rtf_compressed``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from tnefparse import TNEF
from tnefparse.codepage import Codepage

__all__ = ["TnefContents", "TnefFile", "unpack_tnef"]


@dataclass
class TnefFile:
    """One attachment. ``embedded`` is set when it is an attached Outlook message (its ``data`` is
    then that message's own TNEF stream)."""

    name: str
    data: bytes
    embedded: TnefContents | None = None


@dataclass
class TnefContents:
    attachments: list[TnefFile] = field(default_factory=list)
    body_text: str | None = None
    body_html: str | None = None
    body_rtf_compressed: bytes | None = None
    error: str | None = None


# TNEF attribute ids and levels (MS-OXTNEF), as tnefparse uses them.
_SIGNATURE = 0x223E9F78
_LVL_ATTACHMENT = 0x02
_ATT_OEMCODEPAGE = 0x9007
_ATT_MAPIPROPS = 0x9003
_ATT_RECIPTABLE = 0x9004
_ATT_ATTACHMENT = 0x9005
_ATT_ATTACHRENDDATA = 0x9002
_PTYPE_CLASS = 0x1
_PTYPE_STRING = 0x7

# MAPI property ids and types.
_PR_ATTACH_DATA_OBJ = 0x3701
_PR_ATTACH_LONG_FILENAME = 0x3707
_PR_DISPLAY_NAME = 0x3001
_PR_INTERNET_CPID = 0x3FDE
_PT_SHORT, _PT_BOOLEAN = 0x0002, 0x000B
_PT_LONG, _PT_FLOAT, _PT_ERROR = 0x0003, 0x0004, 0x000A
_PT_8BYTE = (0x0005, 0x0006, 0x0007, 0x0014, 0x0040)
_PT_CLSID = 0x0048
_PT_STRING8, _PT_UNICODE, _PT_OBJECT, _PT_BINARY, _PT_UNSPECIFIED = 0x1E, 0x1F, 0x0D, 0x102, 0
_MV_FLAG = 0x1000
_NAMED_PROP_FLAG = 0x8000
_IMESSAGE_IID = b"\x07\x03\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"

_MAX_DEPTH = 16  # attached messages within attached messages
_u16 = struct.Struct("<H").unpack_from
_u32 = struct.Struct("<I").unpack_from

# What tnefparse (and the codecs it calls) raise on malformed input; nothing else is caught.
_PARSE_ERRORS = (
    ValueError,  # includes UnicodeDecodeError and tnefparse's "Wrong TNEF signature"
    LookupError,  # unknown code page; IndexError, KeyError
    struct.error,
    TypeError,  # bytes.decode(None) when a string comes before the OEM code page
    NameError,  # UnboundLocalError: an attachment attribute before any attachment began
    AttributeError,
    AssertionError,  # tnefparse's triples()
    ArithmeticError,
    RecursionError,
    MemoryError,
)


class _Malformed(Exception):
    pass


@dataclass
class _Scan:
    """What the pre-walk found: exact PR_ATTACH_DATA_OBJ values per attachment index, and the
    same for attached messages."""

    attach_data: dict[int, tuple[int, bytes]] = field(default_factory=dict)
    embedded: dict[int, _Scan] = field(default_factory=dict)


def _u32_checked(buf: bytes, offset: int) -> int:
    """A count of things that follow: each needs at least one byte, else the file is lying."""
    count: int = _u32(buf, offset)[0]
    if count > len(buf) - offset - 4:
        raise _Malformed(f"implausible count {count} at offset {offset}")
    return count


def _scan_props(
    buf: bytes, offset: int, codepage: str | None, depth: int, scan: _Scan | None, index: int
) -> int:
    """Walk one MAPI property block as tnefparse.mapi.decode_mapi does (stopping where it stops);
    return the offset where decode_mapi would end. Records PR_ATTACH_DATA_OBJ into ``scan``."""
    try:
        count = _u32_checked(buf, offset)
        offset += 4
        for _ in range(count):
            if offset >= len(buf):
                break
            ptype: int = _u16(buf, offset)[0]
            offset += 2
            pid: int = _u16(buf, offset)[0]
            offset += 2
            if pid >= _NAMED_PROP_FLAG:
                offset += 16
                kind: int = _u32(buf, offset)[0]
                offset += 4
                if kind == 0:
                    offset += 4
                else:
                    name_len: int = _u32(buf, offset)[0]
                    offset += 4
                    name_len += -name_len % 4
                    buf[offset : offset + name_len].decode("utf-16")
                    offset += name_len
            values: int | None = None
            if ptype & _MV_FLAG:
                ptype ^= _MV_FLAG
                values = _u32_checked(buf, offset)
                offset += 4
            for _ in range(values or 1):
                offset = _scan_value(buf, offset, ptype, pid, values, codepage, depth, scan, index)
            if (values or 1) % 2 and ptype in (_PT_SHORT, _PT_BOOLEAN):
                offset += 2
    except _Malformed:
        raise
    except (struct.error, ValueError, LookupError, TypeError):
        pass  # decode_mapi catches these and keeps what it read so far
    return offset


def _scan_value(
    buf: bytes,
    offset: int,
    ptype: int,
    pid: int,
    is_multi: int | None,
    codepage: str | None,
    depth: int,
    scan: _Scan | None,
    index: int,
) -> int:
    if ptype in (_PT_SHORT, _PT_BOOLEAN):
        return offset + 2
    if ptype in (_PT_LONG, _PT_FLOAT, _PT_ERROR):
        return offset + 4
    if ptype in _PT_8BYTE:
        return offset + 8
    if ptype == _PT_CLSID:
        return offset + 16
    if ptype not in (_PT_STRING8, _PT_UNICODE, _PT_OBJECT, _PT_BINARY, _PT_UNSPECIFIED):
        raise ValueError(f"unknown MAPI type {ptype:#06x}")  # decode_mapi stops here too
    if is_multi:
        n = 1
    else:
        n = _u32_checked(buf, offset)
        offset += 4
    items: list[bytes] = []
    for _ in range(n):
        length: int = _u32(buf, offset)[0]
        offset += 4
        item = buf[offset : offset + length]
        if ptype == _PT_UNICODE:
            item.decode("utf-16") if length % 2 == 0 else (item + b"\0").decode("utf-16")
        elif ptype == _PT_STRING8:
            item.decode(codepage)  # type: ignore[arg-type]  # None raises TypeError, as there
        items.append(item)
        offset += length + (-length % 4)
    if pid == _PR_ATTACH_DATA_OBJ and scan is not None and ptype != _PT_UNICODE:
        exact = b"".join(items)
        scan.attach_data[index] = (ptype, exact)
        stripped = b"".join(i.rstrip(b"\0") for i in items)  # what tnefparse recurses into
        if stripped.startswith(_IMESSAGE_IID):
            scan.embedded[index] = _scan(stripped[len(_IMESSAGE_IID) :], depth + 1)
    return offset


def _scan(data: bytes, depth: int = 0) -> _Scan:
    """Walk a TNEF stream as tnefparse.TNEF.__init__ does; raise _Malformed on counts that would
    make tnefparse loop or allocate without bound."""
    scan = _Scan()
    if depth > _MAX_DEPTH:
        raise _Malformed("attached messages nested too deep")
    if len(data) < 6 or _u32(data, 0)[0] != _SIGNATURE:
        return scan  # tnefparse raises its own error for this
    codepage: str | None = None
    index = -1
    offset = 6
    while offset + 12 < len(data):
        level = data[offset]
        name: int = _u16(data, offset + 1)[0]
        obj_type: int = _u16(data, offset + 3)[0]
        length = min(len(data) - offset, _u32(data, offset + 5)[0] + 11)
        payload = data[offset + 9 : offset + length - 2]
        offset += length
        if name == _ATT_ATTACHRENDDATA:
            index += 1
        if level == _LVL_ATTACHMENT:
            if name == _ATT_ATTACHMENT and index >= 0:
                _scan_props(payload, 0, codepage, depth, scan, index)
        elif name == _ATT_MAPIPROPS:
            _scan_props(payload, 0, codepage, depth, None, index)
        elif name == _ATT_OEMCODEPAGE:
            codepage = Codepage(_u32(payload, 0)[0]).codepage()
        elif name == _ATT_RECIPTABLE and obj_type not in (_PTYPE_CLASS, _PTYPE_STRING):
            rows = _u32_checked(payload, 0)
            row_offset = 4
            for _ in range(rows):
                row_offset = _scan_props(payload, row_offset, codepage, depth, None, index)
    return scan


def _text(value: Any, encoding: str | None) -> str | None:
    """A tnefparse string or bytes value as text (bytes decoded leniently)."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        try:
            value = bytes(value).decode(encoding or "cp1252", errors="replace")
        except LookupError:
            value = bytes(value).decode("cp1252", errors="replace")
    if not isinstance(value, str):
        return None
    return value.replace("\x00", "")


def _internet_codepage(tnef: Any) -> str | None:
    for prop in tnef.mapiprops:
        if prop.name == _PR_INTERNET_CPID and isinstance(prop.data, int):
            guess: str | None = Codepage(prop.data).best_guess()
            return guess
    return None


def _clean_name(name: str | None) -> str:
    if not name:
        return ""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in name if ch >= " " and ch != "\x7f").strip()


def _attachment_name(attachment: Any, codepage: str | None) -> str:
    by_id = {prop.name: prop for prop in attachment.mapi_attrs}
    candidates: list[Any] = []
    if _PR_ATTACH_LONG_FILENAME in by_id:
        candidates.append(by_id[_PR_ATTACH_LONG_FILENAME].data)
    candidates.append(attachment._name)  # PR_ATTACH_FILENAME or attAttachTitle
    if _PR_DISPLAY_NAME in by_id:
        candidates.append(by_id[_PR_DISPLAY_NAME].data)
    for candidate in candidates:
        name = _clean_name(_text(candidate, codepage))
        if name:
            return name
    return ""


def _convert(tnef: Any, scan: _Scan) -> TnefContents:
    codepage: str | None = tnef.codepage
    internet = _internet_codepage(tnef)
    contents = TnefContents(
        body_text=_text(tnef.body, internet or codepage) or None,
        body_html=_text(tnef.htmlbody, internet or codepage) or None,
        body_rtf_compressed=tnef._rtfbody or None,
    )
    for index, attachment in enumerate(tnef.attachments):
        data: bytes = attachment.data if isinstance(attachment.data, bytes) else b""
        embedded: TnefContents | None = None
        if hasattr(attachment, "embed"):
            embedded = _convert(attachment.embed, scan.embedded.get(index, _Scan()))
        elif index in scan.attach_data:
            ptype, exact = scan.attach_data[index]
            if exact.rstrip(b"\0") == data.rstrip(b"\0"):  # the pre-walk agrees with tnefparse
                data = exact[16:] if ptype == _PT_OBJECT else exact  # OLE: interface id, data
        name = _attachment_name(attachment, codepage) or f"attachment-{index + 1}"
        contents.attachments.append(TnefFile(name=name, data=data, embedded=embedded))
    return contents


def unpack_tnef(data: bytes) -> TnefContents:
    """The attachments and bodies of a TNEF stream; ``error`` says why when it cannot be read."""
    if len(data) < 6 or _u32(data, 0)[0] != _SIGNATURE:
        return TnefContents(error="not TNEF data (no TNEF signature)")
    try:
        scan = _scan(data)
        tnef = TNEF(data, do_checksum=False)
        return _convert(tnef, scan)
    except _Malformed as exc:
        return TnefContents(error=f"malformed TNEF data: {exc}")
    except _PARSE_ERRORS as exc:
        return TnefContents(error=f"unreadable TNEF data: {type(exc).__name__}: {exc}")
