"""Owner companies' letterhead: the checks of IČO, DIČ, bank account, IBAN and logo, and the
admin page that edits them with each error beside its field."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from flask.testing import FlaskClient

from crm.db import Database
from crm.letterhead import (
    MAX_LOGO_BYTES,
    check_bank_account,
    check_company_id,
    check_iban,
    check_vat_id,
    logo_type,
)
from crm.models import OwnerCompany
from crm.services.users import get_or_create_owner_company
from tests.conftest import World, csrf_of, login
from tests.web.conftest import field_error, flashes


def png(width: int = 40, height: int = 20) -> bytes:
    """A real, small PNG (a red bar): what a user would upload as a logo."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xc0\x20\x20" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("value", ["27082440", "25123891", "00151742", "35757442", "151742"])
def test_valid_company_ids(value: str) -> None:
    assert check_company_id(value) == value.zfill(8)  # a leading 00 may be left out


@pytest.mark.parametrize("value", ["27082441", "25123892", "123456789", "2708244O"])
def test_bad_company_ids(value: str) -> None:
    with pytest.raises(ValueError):
        check_company_id(value)


def test_vat_ids_in_czech_slovak_and_polish_form() -> None:
    assert check_vat_id("cz 27082440") == "CZ27082440"
    assert check_vat_id("CZ7103192745") == "CZ7103192745"
    assert check_vat_id("SK2020317068") == "SK2020317068"
    assert check_vat_id("PL 526-104-08-28") == "PL5261040828"
    for bad in ("27082440", "DE123456789", "CZ123", "SK123456789"):
        with pytest.raises(ValueError):
            check_vat_id(bad)


def test_bank_account_and_iban() -> None:
    assert check_bank_account("19-2000145399/0800") == "19-2000145399/0800"
    assert check_bank_account("2000145399/0800") == "2000145399/0800"
    for bad in ("19-2000145398/0800", "2000145399", "19-2000145399/80"):
        with pytest.raises(ValueError):
            check_bank_account(bad)
    assert check_iban("cz6508000000192000145399") == "CZ65 0800 0000 1920 0014 5399"
    assert check_iban("SK31 1200 0000 1987 4263 7541") == "SK31 1200 0000 1987 4263 7541"
    assert check_iban("PL61109010140000071219812874").startswith("PL61 1090")
    with pytest.raises(ValueError, match="check digits"):
        check_iban("CZ65 0800 0000 1920 0014 5398")


def test_logo_is_checked_by_content_and_size() -> None:
    assert logo_type(png()) == "image/png"
    assert logo_type(b"\xff\xd8\xff\xe0" + b"\x00" * 100) == "image/jpeg"
    with pytest.raises(ValueError, match="PNG or JPEG"):
        logo_type(b"GIF89a" + b"\x00" * 100)
    with pytest.raises(ValueError, match="512 kB"):
        logo_type(png() + b"\x00" * MAX_LOGO_BYTES)


@pytest.fixture
def company(database: Database, world: World) -> int:
    with database.session() as s:
        return get_or_create_owner_company(s, "Dossier Trade s.r.o.").id


LETTERHEAD = {
    "name": "Dossier Trade s.r.o.",
    "street": "Náměstí Míru 12",
    "city": "Příbram",
    "postal_code": "261 01",
    "country": "cz",
    "company_id": "27082440",
    "vat_id": "CZ27082440",
    "bank_account": "19-2000145399/0800",
    "iban": "CZ6508000000192000145399",
    "register_entry": "C 1234 vedená u Městského soudu v Praze",
    "phone": "+420 318 123 456",
    "web": "https://dossier.example",
}


def test_admin_edits_the_letterhead_and_uploads_a_logo(
    client: FlaskClient, world: World, company: int, database: Database
) -> None:
    login(client, world.admin)
    url = f"/admin/owner-companies/{company}"
    assert url in client.get("/admin/users").get_data(as_text=True)
    saved = client.post(
        url,
        data={**LETTERHEAD, "csrf_token": csrf_of(client), "logo": (io.BytesIO(png()), "logo.png")},
        content_type="multipart/form-data",
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)
    page = client.get(url).get_data(as_text=True)
    assert "Owner company saved." in flashes(page)
    assert 'value="CZ65 0800 0000 1920 0014 5399"' in page and 'value="CZ"' in page
    logo = client.get(f"{url}/logo")
    data = logo.get_data()
    logo.close()  # a file response: close it as the server would
    assert logo.status_code == 200 and logo.mimetype == "image/png" and data == png()
    with database.session() as s:
        stored = s.get(OwnerCompany, company)
        assert stored is not None and stored.city == "Příbram" and stored.logo_type == "image/png"


def test_bad_letterhead_is_refused_beside_each_field(
    client: FlaskClient, world: World, company: int, database: Database
) -> None:
    login(client, world.admin)
    url = f"/admin/owner-companies/{company}"
    bad = client.post(
        url,
        data={
            **LETTERHEAD,
            "company_id": "27082441",
            "iban": "CZ6508000000192000145398",
            "vat_id": "DE123",
            "csrf_token": csrf_of(client),
            "logo": (io.BytesIO(b"not an image at all"), "logo.png"),
        },
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert "check digit" in (field_error(page, "company_id") or "")
    assert "check digits" in (field_error(page, "iban") or "")
    assert "CZ, SK or PL" in (field_error(page, "vat_id") or "")
    assert "PNG or JPEG" in (field_error(page, "logo") or "")
    assert 'value="Náměstí Míru 12"' in page  # what was typed is kept
    with database.session() as s:
        stored = s.get(OwnerCompany, company)
        assert stored is not None and stored.company_id == "" and stored.logo_sha256 is None


def test_only_admins_edit_owner_companies(client: FlaskClient, world: World, company: int) -> None:
    login(client, world.manager_a)
    assert client.get(f"/admin/owner-companies/{company}").status_code in (403, 404)
