"""The demo mail's attachments, made with the standard library: an offer as a PDF (Czech, Slovak
and Polish letters in a WinAnsi font with Differences), a 'photo' of a damaged delivery as a PNG,
a price list as the CSV a Czech Excel saves."""

from __future__ import annotations

import datetime as dt
import random
import re
import struct
import unicodedata
import zlib
from collections.abc import Sequence

from crm.demo import RATE
from mail_archive.demo.texts import CATALOG, LANG

_GLYPHS = {
    "–": "endash",
    "—": "emdash",
    "„": "quotedblbase",
    "“": "quotedblleft",
    "”": "quotedblright",
    "€": "Euro",
    "×": "multiply",
    "°": "degree",
    "§": "section",
}
_ACCENTS = {
    "ACUTE": "acute",
    "CARON": "caron",
    "RING ABOVE": "ring",
    "DIAERESIS": "dieresis",
    "CIRCUMFLEX": "circumflex",
    "OGONEK": "ogonek",
    "DOT ABOVE": "dotaccent",
    "STROKE": "slash",
}


def _glyph(char: str) -> str:
    """The PostScript glyph name of a character (Adobe Glyph List), e.g. ř -> rcaron."""
    if char in _GLYPHS:
        return _GLYPHS[char]
    found = re.fullmatch(r"LATIN (SMALL|CAPITAL) LETTER ([A-Z]) WITH (.+)", unicodedata.name(char))
    if found is None or found[3] not in _ACCENTS:
        raise ValueError(f"no glyph name for {char!r}")
    letter = found[2].lower() if found[1] == "SMALL" else found[2]
    return letter + _ACCENTS[found[3]]


def pdf_document(title: str, lines: Sequence[tuple[str, int, bool]], created: dt.datetime) -> bytes:
    """A one-page A4 PDF of ``lines`` (text, size, bold), written by hand: Helvetica with an
    encoding whose Differences name the Czech, Slovak and Polish letters it uses."""
    specials = sorted({c for text, _s, _b in lines for c in text if not " " <= c <= "~"})
    codes = {c: 128 + i for i, c in enumerate(specials)}
    if len(codes) > 128:
        raise ValueError("too many distinct characters for one font encoding")

    def encoded(text: str) -> str:
        return "<" + bytes(codes.get(c, ord(c)) for c in text).hex().upper() + ">"

    ops = ["0.6 w 50 768 m 545 768 l S"]
    y = 790
    for text, size, bold in lines:
        if text:
            font = "/F2" if bold else "/F1"
            ops.append(f"BT {font} {size} Tf 1 0 0 1 50 {y} Tm {encoded(text)} Tj ET")
        y -= size + 9 if text else 12
    content = "\n".join(ops).encode("ascii")
    differences = " ".join(f"/{_glyph(c)}" for c in specials)
    offset = created.utcoffset() or dt.timedelta(0)
    hours, minutes = divmod(int(offset.total_seconds()) // 60, 60)
    stamp = f"D:{created:%Y%m%d%H%M%S}+{hours:02d}'{minutes:02d}'"
    title_hex = "FEFF" + title.encode("utf-16-be").hex().upper()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 6 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding 7 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding 7 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Encoding /BaseEncoding /WinAnsiEncoding /Differences [128 %s] >>"
        % differences.encode("ascii"),
        f"<< /Title <{title_hex}> /Producer (Dossier demo) /CreationDate ({stamp}) >>".encode(
            "ascii"
        ),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\n" % (len(objects) + 1, len(objects))
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def png_photo(seed: int, width: int = 160, height: int = 120) -> bytes:
    """A small grey 'photo' of a cracked concrete edge: a valid PNG made with zlib."""
    rng = random.Random(seed)
    crack = [height // 3 + rng.randint(-4, 4)]
    for _ in range(width - 1):
        crack.append(max(5, min(height - 5, crack[-1] + rng.choice((-1, 0, 0, 1)))))
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            shade = 150 + (x + y) // 12 + rng.randint(-6, 6)
            if abs(y - crack[x]) <= (1 if x % 7 else 0):
                shade = 60
            elif y > crack[x] + 30:
                shade -= 25  # the shadow under the edge
            rows += bytes((shade, shade - 4, shade - 10))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def price_list_csv(country: str, valid_from: str) -> bytes:
    """The price list as Excel on a Czech Windows saves it: windows-1250, ';', CRLF."""
    header = {
        "CZ": "Kód;Název položky;Jednotka;Cena bez DPH (Kč);Platnost od",
        "SK": "Kód;Názov položky;Jednotka;Cena bez DPH (EUR);Platnosť od",
        "PL": "Kod;Nazwa;J.m.;Cena netto (PLN);Obowiązuje od",
    }[country]
    rows = [header]
    for code, unit, price, names in CATALOG:
        local_unit = LANG[country]["unit_pcs"] if unit == "pcs" else unit
        raised = price * 1.04 if code.startswith("OC-") else price  # steel went up 4 %
        value = f"{raised / RATE[country]:.2f}".replace(".", ",")
        rows.append(f"{code};{names[country]};{local_unit};{value};{valid_from}")
    return ("\r\n".join(rows) + "\r\n").encode("cp1250")
