"""`dossier import partners FILE`: CSV and XLSX as users export them, good rows kept, bad rows
reported with their row numbers, bad files refused before anything is written."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from crm.cli import main
from crm.db import Database
from crm.errors import BadFile, NotFound
from crm.models import Partner
from crm.services.codebooks import add_custom_field
from crm.services.importer import MAX_ROWS, cell_text, import_partners
from crm.services.partners import partners
from crm.settings import Settings
from tests.conftest import REPO, World


def cli(settings: Settings, *args: str) -> Result:
    env = {"DOSSIER_HOME": str(settings.home), "DATABASE_URL": settings.database_url}
    return CliRunner().invoke(main, list(args), env=env)


def stored(db: Database) -> dict[str, Partner]:
    """Partners by company ID (or by name when they have none)."""
    with db.session(write=False) as s:
        rows = s.scalars(select(Partner).order_by(Partner.id)).unique().all()
        return {p.company_id or p.name: p for p in rows}


def count(db: Database) -> int:
    with db.session(write=False) as s:
        return int(s.scalar(select(func.count()).select_from(Partner)) or 0)


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_csv_utf8_with_commas_and_api_names(
    database: Database, world: World, settings: Settings, tmp_path: Path
) -> None:
    with database.session() as s:
        add_custom_field(
            s,
            world.admin,
            {
                "record_type": "partner",
                "key": "employees",
                "label": "Employees",
                "field_type": "number",
            },
        )
    path = tmp_path / "partners.csv"
    path.write_text(
        "name,company_id,city,country,emails,phones,domains,category,kind,custom.employees,note\n"
        'Stavby Příbram s.r.o.,25123891,Příbram,CZ,"obchod@stavby.cz, info@stavby.cz",'
        '+420 777 123 456,stavby.cz,A,Customer,120,"Dlouholetý zákazník,\nplatí včas"\n'
        "Poľnohospodárske družstvo Senica,36012345,Senica,sk,,,,B,Prospect,,\n",
        encoding="utf-8",
    )
    report = import_partners(database, path, world.sales_a.email)
    assert (report.created, report.updated, report.refused) == (2, 0, 0)
    assert report.lines[0].startswith("row 2: created partner ")
    assert report.lines[0].endswith(" Stavby Příbram s.r.o.")
    # The quoted note spans two lines but is one spreadsheet row.
    assert report.lines[1].startswith("row 3: created partner ")
    found = stored(database)
    stavby = found["25123891"]
    assert stavby.emails == ["obchod@stavby.cz", "info@stavby.cz"]
    assert stavby.domains == ["stavby.cz"] and stavby.category == "A"
    assert stavby.kind is not None and stavby.kind.label == "Customer"
    assert stavby.custom == {"employees": 120}
    assert stavby.note == "Dlouholetý zákazník,\nplatí včas"
    assert stavby.salesperson_id == world.sales_a.id
    assert found["36012345"].country == "SK"


def test_csv_windows_1250_semicolons_czech_headers(
    database: Database, world: World, tmp_path: Path
) -> None:
    text = (
        "Název;IČO;DIČ;Ulice;Město;PSČ;Stát;Telefon;E-mail;WWW;Obor;Poznámka\r\n"
        "Agro Žatec a.s.;25123891;CZ 25123891;Husova 12;Žatec;438 01;Česko;415 710 111;"
        "info@agrozatec.cz;www.agrozatec.cz;Agriculture;Řepka, pšenice\r\n"
        "Železářství Šťastný;;;;Třeboň;;ČR;;;;;\r\n"
    )
    path = tmp_path / "export z excelu.csv"
    path.write_bytes(text.encode("cp1250"))
    report = import_partners(database, path)  # as the first admin
    assert report.refused == 0, report.lines
    found = stored(database)
    agro = found["25123891"]
    assert (agro.name, agro.vat_id, agro.street, agro.city) == (
        "Agro Žatec a.s.",
        "CZ25123891",
        "Husova 12",
        "Žatec",
    )
    assert (agro.postal_code, agro.country, agro.phones) == ("438 01", "CZ", ["415 710 111"])
    assert agro.industry is not None and agro.industry.label == "Agriculture"
    assert agro.note == "Řepka, pšenice" and agro.web == "www.agrozatec.cz"
    assert found["Železářství Šťastný"].country == "CZ"
    assert agro.salesperson_id == world.admin.id


def test_csv_utf8_bom_and_utf16_tab_separated(
    database: Database, world: World, tmp_path: Path
) -> None:
    bom = tmp_path / "bom.csv"
    bom.write_bytes(
        "\ufeffNazwa;NIP;Miasto;Kraj\nKowalski Sp. z o.o.;5260001246;Łódź;Polska\n".encode()
    )
    unicode_text = tmp_path / "unicode.txt"
    unicode_text.write_bytes(
        "Firma\tIČ\tMesto\nStavebniny Čadca\t31412321\tČadca\n".encode("utf-16")
    )
    assert import_partners(database, bom).created == 1
    assert import_partners(database, unicode_text).created == 1
    found = stored(database)
    assert (found["Kowalski Sp. z o.o."].vat_id, found["Kowalski Sp. z o.o."].country) == (
        "5260001246",
        "PL",
    )
    assert found["Kowalski Sp. z o.o."].city == "Łódź"
    assert found["31412321"].city == "Čadca"


def test_xlsx_values_become_text(database: Database, world: World, tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "partners.xlsx",
        [
            [],  # an empty first row: the header is row 2
            ["Firma", "IČO", "PSČ", "Telefon", "Poznámka", None],
            ["Stavby Příbram s.r.o.", 25123891, 26101, 420777123456, dt.date(2024, 3, 1)],
            [None, None, None, None, None],
            ["Pekárna U Mlýna", 1234567, "110 00", None, 12.5],
            ["Lakovna Zlín", 45678901.0, None, None, dt.datetime(2024, 3, 1, 14, 30)],
        ],
    )
    report = import_partners(database, path, world.sales_a.email)
    assert report.refused == 0, report.lines
    assert [line.split(":")[0] for line in report.lines] == ["row 3", "row 5", "row 6"]
    found = stored(database)
    stavby = found["25123891"]
    assert (stavby.postal_code, stavby.phones, stavby.note) == (
        "26101",
        ["420777123456"],
        "2024-03-01",
    )
    # An IČO typed as a number lost its leading zero; the importer puts it back.
    assert found["01234567"].note == "12.5"
    assert found["45678901"].note == "2024-03-01 14:30"


def test_cell_text() -> None:
    assert cell_text(12345678) == "12345678"
    assert cell_text(12345678.0) == "12345678"
    assert cell_text(0.1) == "0.1"
    assert cell_text(1e-7) == "0.0000001"
    assert cell_text(True) == "true"
    assert cell_text(dt.datetime(2024, 1, 2)) == "2024-01-02"
    assert cell_text(dt.time(8, 15)) == "08:15"
    assert cell_text("  Brno ") == "Brno"
    assert cell_text(None) == ""


def test_bad_rows_are_refused_with_row_numbers_and_good_rows_kept(
    database: Database, world: World, settings: Settings, tmp_path: Path
) -> None:
    long_name = "Ž" * 300
    path = tmp_path / "mixed.csv"
    path.write_text(
        "Název;IČO;E-mail;Stát;Druh\n"
        "Stavby Příbram s.r.o.;25123891;obchod@stavby.cz;CZ;\n"  # row 2: created
        "Chybný e-mail s.r.o.;11111111;x@;;\n"  # row 3: bad email
        ";22222222;info@bezjmena.cz;;\n"  # row 4: no name
        "Stavby Příbram a.s.;25123891;;;\n"  # row 5: same IČO as row 2 -> update
        f"{long_name};33333333;;;\n"  # row 6: name too long
        ";;;;\n"  # row 7: empty, skipped silently
        "Francouzi SARL;44444444;;Francie;\n"  # row 8: unknown country name
        "Agro Žatec;55555555;;;Odběratel\n"  # row 9: not a codebook value in any language
        "Agro Žatec;66666666;;;Customer;navíc\n"  # row 10: a value right of the last column
        "Pekárna U Mlýna;77777777;pekarna@mlyn.cz;Slovensko;Supplier\n",  # row 11: created
        encoding="utf-8",
    )
    result = cli(settings, "import", "partners", str(path), "--user", world.sales_a.email)
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("row 2: created partner ")
    assert lines[1] == "row 3: refused: emails: “x@” is not an email address"
    assert lines[2] == "row 4: refused: name: is required"
    assert lines[3].startswith("row 5: updated partner ")
    assert lines[3].endswith("Stavby Příbram a.s. (company ID 25123891 is also on row 2)")
    assert lines[4] == "row 6: refused: name: is longer than 200 characters"
    assert lines[5].startswith("row 8: refused: country: “Francie” is not a country")
    assert lines[6] == (
        "row 9: refused: kind: “Odběratel” is not a value of this codebook "
        "(one of: Customer, Prospect, Supplier)"
    )
    assert lines[7].startswith("row 10: refused: a value right of the last named column (“navíc”)")
    assert lines[8].startswith("row 11: created partner ")
    assert lines[9] == "2 created, 1 updated, 6 refused"
    found = stored(database)
    assert set(found) == {"25123891", "77777777"}
    assert found["25123891"].name == "Stavby Příbram a.s."
    assert found["25123891"].emails == ["obchod@stavby.cz"]  # the empty cell left it alone
    assert found["77777777"].country == "SK"


def test_unknown_column_refuses_the_whole_file(
    database: Database, world: World, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "fax.csv"
    path.write_text("Název;IČO;Fax\nStavby Příbram;25123891;+420 318 000 000\n", encoding="utf-8")
    result = cli(settings, "import", "partners", str(path))
    assert result.exit_code == 1
    assert "column C “Fax” is not a partner field; nothing was imported" in result.output
    assert "company_id (IČO" in result.output  # the accepted columns are listed
    assert count(database) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("IČO;Město\n25123891;Brno\n", "no name column"),
        ("Název;Firma\nA;B\n", "both mean name"),
        ("Název;;IČO\nA;x;1\n", "column B has a value on row 2 but no header"),
        ("custom.nope;Název\n1;A\n", "names no custom field of partners"),
        ("\n\n", "the file has no rows"),
    ],
)
def test_bad_headers_import_nothing(
    database: Database, world: World, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(BadFile) as err:
        import_partners(database, path)
    assert message in err.value.message
    assert count(database) == 0


def test_binary_files_are_refused_by_content(
    database: Database, world: World, settings: Settings, tmp_path: Path
) -> None:
    png = tmp_path / "partners.csv"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    result = cli(settings, "import", "partners", str(png))
    assert result.exit_code == 1
    assert "Error: the file is a PNG image, not a CSV or XLSX table" in result.output
    blob = tmp_path / "data.csv"
    blob.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(BadFile, match="binary"):
        import_partners(database, blob)
    docx = tmp_path / "smlouva.xlsx"
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(BadFile, match="zip archive but not an XLSX"):
        import_partners(database, docx)
    # An XLSX named .csv is read as the workbook it is.
    renamed = write_xlsx(tmp_path / "really-xlsx.csv", [["Název"], ["Stavby Příbram"]])
    assert import_partners(database, renamed).created == 1


def test_xlsx_zip_bomb_is_refused_before_unpacking(
    database: Database, world: World, tmp_path: Path
) -> None:
    path = write_xlsx(tmp_path / "bomb.xlsx", [["Název"], ["Stavby Příbram"]])
    chunk = bytes(1024 * 1024)
    with (
        zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/media/zeros.bin", "w") as member,
    ):
        for _ in range(201):
            member.write(chunk)
    assert path.stat().st_size < 2 * 1024 * 1024
    with pytest.raises(BadFile, match="would unpack to more than 200 MB"):
        import_partners(database, path)
    assert count(database) == 0


def test_too_many_rows_are_refused(database: Database, world: World, tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    path.write_text("name\n" + "".join(f"P{i}\n" for i in range(MAX_ROWS + 1)))
    with pytest.raises(BadFile, match="more than 100,000 rows"):
        import_partners(database, path)
    assert count(database) == 0


def test_reimport_updates_instead_of_duplicating(
    database: Database, world: World, tmp_path: Path
) -> None:
    path = write_xlsx(
        tmp_path / "partners.xlsx",
        [
            ["name", "company_id", "city"],
            ["Stavby Příbram s.r.o.", "25123891", "Příbram"],
            ["Agro Žatec a.s.", "46356991", "Žatec"],
        ],
    )
    first = import_partners(database, path)
    assert (first.created, first.updated) == (2, 0)
    write_xlsx(
        path,
        [
            ["name", "company_id", "city"],
            ["Stavby Příbram s.r.o.", "25123891", "Dobříš"],
            ["Agro Žatec a.s.", "46356991", None],
        ],
    )
    second = import_partners(database, path)
    assert (second.created, second.updated, second.refused) == (0, 2, 0)
    assert second.lines[0].startswith("row 2: updated partner ")
    found = stored(database)
    assert count(database) == 2
    assert found["25123891"].city == "Dobříš" and found["46356991"].city == "Žatec"


def test_the_users_permissions_apply(database: Database, world: World, tmp_path: Path) -> None:
    with database.session() as s:
        theirs = partners.create(s, world.sales_b, {"name": "Zofia's", "company_id": "25123891"})
    path = tmp_path / "p.csv"
    path.write_text("name;company_id\nStavby Příbram;25123891\nNová firma;12345678\n")
    report = import_partners(database, path, world.sales_a.email)
    assert report.lines[0] == (
        "row 2: refused: company_id: company ID 25123891 is taken by a partner you cannot see; "
        "an administrator can resolve it"
    )
    found = stored(database)
    assert found["25123891"].id == theirs.id and found["25123891"].name == "Zofia's"
    assert found["12345678"].group_id == world.sales_a.group_ids[0]
    with pytest.raises(NotFound):
        import_partners(database, path, "nobody@firma.cz")


def test_no_admin_to_import_as(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("name\nStavby\n")
    with pytest.raises(NotFound, match="no active admin"):
        import_partners(database, path)


def test_import_through_the_installed_command(
    database: Database, world: World, settings: Settings, tmp_path: Path
) -> None:
    path = write_xlsx(
        tmp_path / "partners.xlsx",
        [
            ["Název", "IČO", "E-mail"],
            ["Stavby Příbram", 25123891, "obchod@stavby.cz"],
            ["", 1, "x@"],
        ],
    )
    env = {
        **os.environ,
        "DOSSIER_HOME": str(settings.home),
        "DATABASE_URL": settings.database_url,
    }
    done = subprocess.run(
        [sys.executable, "-c", "from crm.cli import main; main()", "import", "partners", str(path)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines() == [
        f"row 2: created partner {stored(database)['25123891'].id} Stavby Příbram",
        "row 3: refused: name: is required; emails: “x@” is not an email address",
        "1 created, 0 updated, 1 refused",
    ]
    assert done.stderr == ""


def test_import_from_bytes_of_an_upload(database: Database, world: World) -> None:
    from crm.services.importer import import_partners_from_bytes

    buffer = io.BytesIO()
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Nazwa", "REGON"])
    sheet.append(["Kowalski", "012345678"])
    book.save(buffer)
    report = import_partners_from_bytes(database, buffer.getvalue(), world.admin.email)
    assert report.created == 1
    assert "012345678" in stored(database)
