"""Importing partners from a CSV or XLSX file (``dossier import partners FILE``).

The file is recognised by its content, not its name: a zip (``PK\\x03\\x04``) must be an XLSX
workbook (first sheet, the values Excel saved), anything else must be CSV text in UTF-8 (with or
without BOM), UTF-16 with BOM (Excel's "Unicode text") or Windows-1250 (Czech Excel), separated
by ``;``, ``,`` or tab. The first non-empty row is the header; its columns are the API field
names (``name``, ``company_id``, ``custom.<key>``, ...) or the usual Czech, Slovak, Polish and
English headers (Název, IČO, DIČ, Ulice, Město, PSČ, Telefon, E-mail, Nazwa, NIP, ...), matched
without regard to case and accents.

Whole-file problems (not CSV/XLSX, too large, too many rows, an unknown or doubled column, no
name column) refuse the file before anything is written. After that every data row is imported
on its own, inside a SAVEPOINT, through ``PartnerService`` (the same validation and permission
rule as the web UI and the API): a partner the user can see with the row's company ID is updated
(only the row's non-empty cells), otherwise a partner is created. A company ID held by a partner
the user cannot see refuses the row saying only that the ID is taken (never whose it is). A bad
row is refused with its row number (as a spreadsheet shows it, the header being row 1) and the
reason; the good rows are kept. Rows are committed in batches, so a long import does not hold
the database for its whole run.

It may not: delete partners or clear a field (an empty cell leaves the value as it is), change
the group or salesperson of an existing partner, match a row without a company ID to an existing
partner (such a row always creates one), read old binary ``.xls`` files, or recalculate formulas.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import os
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Generator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from crm.db import Database
from crm.errors import (
    BadFile,
    Conflict,
    DossierError,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from crm.models import CodebookEntry, Partner, User
from crm.services.partners import partners
from crm.services.records import Duplicate, custom_fields_for
from crm.services.users import require_user
from crm.text import fold

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
MAX_XLSX_UNCOMPRESSED = 200 * 1024 * 1024
MAX_ZIP_MEMBERS = 10_000
BATCH_ROWS = 500

# Field name -> the headers (besides the field name itself) that mean it.
HEADERS: dict[str, tuple[str, ...]] = {
    "name": (
        "Název",
        "Názov",
        "Název firmy",
        "Firma",
        "Společnost",
        "Spoločnosť",
        "Obchodní název",
        "Obchodné meno",
        "Nazwa",
        "Nazwa firmy",
        "Company",
        "Partner",
    ),
    "kind": ("Druh", "Typ", "Rodzaj", "Type"),
    "region": ("Oblast",),
    "industry": ("Obor", "Odvětví", "Odvetvie", "Branża", "Sektor"),
    "status": ("Stav",),
    "category": ("Kategorie", "Kategória", "Kategoria"),
    "street": ("Ulice", "Ulica", "Ulice a číslo"),
    "city": ("Město", "Mesto", "Obec", "Miasto", "Miejscowość", "Town"),
    "postal_code": ("PSČ", "Kód pocztowy", "Kod pocztowy", "ZIP", "Postal code", "Postcode"),
    "country": ("Stát", "Země", "Krajina", "Kraj", "Państwo"),
    "phones": ("Telefon", "Telefony", "Tel.", "Mobil", "Phone"),
    "emails": ("E-mail", "Email", "E-maily", "Mail"),
    "web": ("WWW", "Webové stránky", "Strona WWW", "Website"),
    "company_id": ("IČO", "IČ", "REGON", "Company ID"),
    "vat_id": ("DIČ", "IČ DPH", "NIP", "VAT ID", "VAT"),
    "domains": ("Domény", "Doména", "Domeny", "Domains"),
    "note": ("Poznámka", "Poznámky", "Uwagi", "Notes"),
}
CODEBOOK_FIELDS = {"kind": "partner_kind", "region": "region", "industry": "industry"}

# Folded, alphanumeric-only country names -> ISO 3166 codes.
COUNTRIES: dict[str, str] = {
    **dict.fromkeys(
        ["cesko", "ceskarepublika", "cr", "czechia", "czechrepublic", "czech", "czechy"], "CZ"
    ),
    **dict.fromkeys(
        ["slovensko", "slovenskarepublika", "sr", "slovakia", "slovakrepublic", "slowacja"], "SK"
    ),
    **dict.fromkeys(["polsko", "polska", "poland", "rzeczpospolitapolska"], "PL"),
    **dict.fromkeys(["nemecko", "deutschland", "germany", "niemcy"], "DE"),
    **dict.fromkeys(["rakousko", "rakusko", "osterreich", "austria"], "AT"),
    **dict.fromkeys(["madarsko", "hungary", "magyarorszag", "wegry"], "HU"),
    **dict.fromkeys(["ukrajina", "ukraina", "ukraine"], "UA"),
}

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an old Excel 97-2003 (.xls) file; save it as .xlsx or CSV",
    ),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
)


@dataclass
class ImportReport:
    """What an import did, one line per data row, and the totals."""

    lines: list[str] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    refused: int = 0


@dataclass(frozen=True)
class SheetRow:
    """One row as the user sees it: its spreadsheet number and its cells as text."""

    number: int
    cells: tuple[str, ...]
    # Indexes of cells that were numbers in an XLSX (a company ID may have lost leading zeros).
    numeric: frozenset[int] = frozenset()

    def blank(self) -> bool:
        return not any(self.cells)


@dataclass(frozen=True)
class Sheet:
    header: SheetRow
    rows: list[SheetRow]


def _normal(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", fold(header))


def _alias_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for name, spellings in HEADERS.items():
        for spelling in (name, *spellings):
            key = _normal(spelling)
            assert table.get(key, name) == name, f"header {spelling} means two fields"
            table[key] = name
    return table


ALIASES = _alias_table()


def column_letter(index: int) -> str:
    """Spreadsheet column name of a 0-based index: 0 -> A, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


# -- reading the file ---------------------------------------------------------------------------


def read_sheet(data: bytes) -> Sheet:
    """The header and the non-empty data rows of a CSV or XLSX file given as bytes."""
    if not data:
        raise BadFile("the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise BadFile(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):  # a zip: must be an XLSX workbook
        rows: Generator[SheetRow, None, None] = _xlsx_rows(data)
    else:
        for magic, what in _MAGIC:
            if data.startswith(magic):
                raise BadFile(f"the file is {what}, not a CSV or XLSX table")
        rows = _csv_rows(_decode(data))
    header: SheetRow | None = None
    body: list[SheetRow] = []
    with closing(rows):  # an XLSX reader holds the workbook open until closed
        for row in rows:
            if row.blank():
                continue
            if header is None:
                header = row
                continue
            body.append(row)
            if len(body) > MAX_ROWS:
                raise BadFile(
                    f"the file has more than {MAX_ROWS:,} rows; split it into smaller files"
                )
    if header is None:
        raise BadFile("the file has no rows")
    return Sheet(header, body)


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        text = _decode_as(data[len(codecs.BOM_UTF8) :], "utf-8")
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = _decode_as(data, "utf-16")
    elif b"\x00" in data:
        raise BadFile("the file is binary, not a CSV or XLSX table")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = _decode_as(data, "cp1250")
    controls = sum(
        1 for ch in text[:65536] if ch not in "\t\r\n" and unicodedata.category(ch) == "Cc"
    )
    if controls:
        raise BadFile("the file is binary, not a CSV or XLSX table")
    return text


def _decode_as(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise BadFile(
            "the file is not text in UTF-8, UTF-16 or Windows-1250, nor an XLSX workbook"
        ) from exc


def _sniff_delimiter(text: str) -> str:
    """``;``, tab or ``,``: whichever occurs most outside quotes in the first non-empty line."""
    first = next((line for line in text[:65536].splitlines() if line.strip()), "")
    counts = dict.fromkeys(";\t,", 0)
    quoted = False
    for ch in first:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda ch: counts[ch])  # ties: the order above
    return best if counts[best] else ","


def _csv_rows(text: str) -> Generator[SheetRow, None, None]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            yield SheetRow(number, tuple(cell.strip() for cell in cells))
    except csv.Error as exc:
        raise BadFile(f"row {number + 1}: the CSV cannot be read: {exc}") from exc


def _check_zip(data: bytes) -> None:
    """Refuse a zip that is not a workbook or that would unpack to too much (a zip bomb)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise BadFile("the file is a damaged zip, not a readable XLSX workbook") from exc
    if len(members) > MAX_ZIP_MEMBERS:
        raise BadFile("the XLSX workbook has too many parts")
    if sum(member.file_size for member in members) > MAX_XLSX_UNCOMPRESSED:
        raise BadFile(
            f"the XLSX workbook would unpack to more than "
            f"{MAX_XLSX_UNCOMPRESSED // (1024 * 1024)} MB; refused"
        )
    if not any(member.filename == "xl/workbook.xml" for member in members):
        raise BadFile("the file is a zip archive but not an XLSX workbook")


def _xlsx_rows(data: bytes) -> Generator[SheetRow, None, None]:
    import openpyxl

    _check_zip(data)
    # openpyxl warns about features it ignores (styles, extensions); they do not matter here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # untrusted input: any parse failure is a bad file
            raise BadFile(f"the XLSX workbook cannot be read: {exc}") from exc
        try:
            if not book.worksheets:
                raise BadFile("the XLSX workbook has no worksheet")
            sheet = book.worksheets[0]
            sheet.reset_dimensions()  # the stored size is often wrong; read every row
            number = 0
            try:
                for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                    cells, numeric = [], set()
                    for index, value in enumerate(values):
                        cells.append(cell_text(value))
                        if isinstance(value, int | float) and not isinstance(value, bool):
                            numeric.add(index)
                    yield SheetRow(number, tuple(cells), frozenset(numeric))
            except BadFile:
                raise
            except Exception as exc:  # untrusted input, as above
                raise BadFile(f"row {number + 1}: the XLSX sheet cannot be read: {exc}") from exc
        finally:
            book.close()


def cell_text(value: Any) -> str:
    """A spreadsheet value as the text a user typed: 12345678.0 -> "12345678"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        try:
            return format(Decimal(repr(value)), "f")
        except InvalidOperation:
            return str(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="minutes" if not value.second else "seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat(timespec="minutes" if not value.second else "seconds")
    return str(value).strip()


# -- the header ---------------------------------------------------------------------------------


def map_header(session: Session, header: SheetRow) -> list[tuple[int, str]]:
    """(column index, field) for every column; refuses the file on an unknown or doubled one."""
    custom = {cf.key: cf for cf in custom_fields_for(session, "partner")}
    by_label = {_normal(cf.label): f"custom.{cf.key}" for cf in custom.values()}
    mapping: list[tuple[int, str]] = []
    seen: dict[str, str] = {}
    for index, title in enumerate(header.cells):
        if not title:
            continue
        where = f"column {column_letter(index)} “{title}”"
        target: str | None
        if title.lower().startswith("custom."):
            key = title[len("custom.") :].strip()
            if key not in custom:
                raise BadFile(
                    f"{where} names no custom field of partners"
                    + (f" (defined: {', '.join(sorted(custom))})" if custom else "")
                    + "; nothing was imported"
                )
            target = f"custom.{key}"
        else:
            target = ALIASES.get(_normal(title)) or by_label.get(_normal(title))
        if target is None:
            raise BadFile(
                f"{where} is not a partner field; nothing was imported. {_accepted(custom)}"
            )
        if target in seen:
            raise BadFile(
                f"columns {seen[target]} and {where} both mean {target}; keep one of them. "
                "Nothing was imported"
            )
        seen[target] = where
        mapping.append((index, target))
    if not mapping:
        raise BadFile(
            "the first row must be a header naming the columns (for example Název, IČO, Město); "
            "nothing was imported"
        )
    if "name" not in seen:
        raise BadFile(
            "the file has no name column (name, Název, Firma, Nazwa, ...); nothing was imported"
        )
    return mapping


def _accepted(custom: dict[str, Any]) -> str:
    parts = [f"{name} ({', '.join(spellings)})" for name, spellings in HEADERS.items()]
    text = "Accepted columns: " + "; ".join(parts)
    if custom:
        text += "; custom fields: " + ", ".join(f"custom.{key}" for key in sorted(custom))
    return text + ". Case and accents do not matter."


def _check_headless_columns(sheet: Sheet) -> None:
    """A column without a header is ignored, unless it holds values: then the file is refused."""
    empty = [i for i, title in enumerate(sheet.header.cells) if not title]
    for row in sheet.rows:
        for index in empty:
            if index < len(row.cells) and row.cells[index]:
                raise BadFile(
                    f"column {column_letter(index)} has a value on row {row.number} but no "
                    "header; name the column or delete it. Nothing was imported"
                )


# -- rows -----------------------------------------------------------------------------------------


def normalize_country(raw: str) -> str:
    """A two-letter code from a code or a common name ("Česko" -> "CZ")."""
    text = raw.strip()
    code = COUNTRIES.get(_normal(text))
    if code is None and len(text) == 2 and text.isascii() and text.isalpha():
        code = text.upper()
    if code is None:
        raise ValidationError(
            {"country": f"“{text[:50]}” is not a country; use a two-letter code such as CZ"}
        )
    return code


def row_values(
    row: SheetRow, mapping: Sequence[tuple[int, str]], width: int
) -> tuple[dict[str, Any], dict[str, str]]:
    """The row's non-empty cells as service input, and its custom values apart."""
    extra = [cell for cell in row.cells[width:] if cell]
    if extra:
        raise ValidationError(
            {},
            f"a value right of the last named column (“{extra[0][:40]}”); "
            "a value containing the separator must be in quotes",
        )
    data: dict[str, Any] = {}
    custom: dict[str, str] = {}
    for index, target in mapping:
        value = row.cells[index] if index < len(row.cells) else ""
        if not value:
            continue
        if target.startswith("custom."):
            custom[target[len("custom.") :]] = value
            continue
        if target in ("company_id", "vat_id"):
            value = re.sub(r"\s+", "", value)
            if target == "company_id" and index in row.numeric and value.isdigit():
                value = value.zfill(8)  # an IČO typed as a number lost its leading zeros
            if target == "vat_id":
                value = value.upper()
        elif target == "country":
            value = normalize_country(value)
        data[target] = value
    return data, custom


def _refusal(session: Session, exc: DossierError) -> str:
    if isinstance(exc, ValidationError) and exc.errors:
        parts = []
        for name, reason in exc.errors.items():
            if name in CODEBOOK_FIELDS and "is not a value" in reason:
                labels = session.scalars(
                    select(CodebookEntry.label)
                    .where(
                        CodebookEntry.codebook == CODEBOOK_FIELDS[name],
                        CodebookEntry.active.is_(True),
                    )
                    .order_by(CodebookEntry.position, CodebookEntry.id)
                ).all()
                reason += " (one of: " + ", ".join(labels) + ")"
            parts.append(f"{name}: {reason}")
        return "; ".join(parts)
    if isinstance(exc, Duplicate):
        return f"{exc.field}: {exc.message}"
    return exc.message


def _import_row(
    session: Session,
    actor: User,
    row: SheetRow,
    mapping: Sequence[tuple[int, str]],
    width: int,
) -> tuple[str, Partner]:
    data, custom = row_values(row, mapping, width)
    existing = (
        partners.by_company_id(session, actor, data["company_id"])
        if data.get("company_id")
        else None
    )
    if existing is not None:
        if custom:
            known = {cf.key for cf in custom_fields_for(session, "partner")}
            kept = {k: v for k, v in (existing.custom or {}).items() if k in known}
            data["custom"] = {**kept, **custom}
        return "updated", partners.update(session, actor, existing.id, data)
    if custom:
        data["custom"] = custom
    return "created", partners.create(session, actor, data)


def find_actor(session: Session, email: str | None) -> User:
    """The named active user, or the first active admin."""
    if email:
        user = require_user(session, email)
        if not user.active:
            raise PermissionDenied(f"user {user.email} is not active")
        return user
    admin = session.scalars(
        select(User).where(User.role == "admin", User.active.is_(True)).order_by(User.id)
    ).first()
    if admin is None:
        raise NotFound(
            "there is no active admin to import as; name a user with --user EMAIL "
            "(or add an admin with `dossier user add`)"
        )
    return admin


def import_partners(
    db: Database, path: str | os.PathLike[str], email: str | None = None
) -> ImportReport:
    """Import the CSV or XLSX file at ``path`` as ``email`` (default: the first admin)."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            raise BadFile(f"{file.name} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        data = file.read_bytes()
    except OSError as exc:
        raise BadFile(f"{file} cannot be read: {exc.strerror or exc}") from exc
    return import_partners_from_bytes(db, data, email)


def import_partners_from_bytes(db: Database, data: bytes, email: str | None = None) -> ImportReport:
    """Import a CSV or XLSX file's content (an upload) as ``email``."""
    sheet = read_sheet(data)
    _check_headless_columns(sheet)
    with db.session() as session:
        actor_id = find_actor(session, email).id
        mapping = map_header(session, sheet.header)
    width = len(sheet.header.cells)
    report = ImportReport()
    first_seen: dict[str, int] = {}
    for start in range(0, len(sheet.rows), BATCH_ROWS):
        with db.session() as session:
            actor = session.get(User, actor_id)
            assert actor is not None
            for row in sheet.rows[start : start + BATCH_ROWS]:
                try:
                    with session.begin_nested():
                        verb, record = _import_row(session, actor, row, mapping, width)
                except (ValidationError, Conflict) as exc:
                    report.refused += 1
                    report.lines.append(f"row {row.number}: refused: {_refusal(session, exc)}")
                    continue
                except (IntegrityError, DataError) as exc:
                    report.refused += 1
                    reason = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
                    report.lines.append(
                        f"row {row.number}: refused: the database refused it: {reason}"
                    )
                    continue
                line = f"row {row.number}: {verb} partner {record.id} {record.name}"
                if record.company_id:
                    earlier = first_seen.setdefault(record.company_id, row.number)
                    if earlier != row.number:
                        line += f" (company ID {record.company_id} is also on row {earlier})"
                report.lines.append(line)
                if verb == "created":
                    report.created += 1
                else:
                    report.updated += 1
    return report
