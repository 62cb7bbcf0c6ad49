"""Owner companies' letterhead: address, IDs, bank details, register entry, phone, web, logo.

Only admins edit them. The checks live in crm.letterhead; the logo is stored as a blob
(crm.blobs) through the caller's batch, which must be synced before the commit that names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.blobs import BlobBatch
from crm.errors import NotFound, ValidationError
from crm.fields import PHONE_RE, FieldSpec, parse_input
from crm.letterhead import (
    check_bank_account,
    check_company_id,
    check_iban,
    check_vat_id,
    logo_type,
)
from crm.models import OwnerCompany, User
from crm.permissions import require_role
from crm.text import N_, message


def _phone(value: str) -> str:
    if value and not PHONE_RE.match(value):
        raise ValueError(N_("is not a phone number"))
    return value


def _country(value: str) -> str:
    if value and not (len(value) == 2 and value.isascii() and value.isalpha()):
        raise ValueError(N_("is a two-letter country code (CZ, SK, PL)"))
    return value.upper()


FIELDS = (
    FieldSpec("name", "Name", required=True, max_length=200),
    FieldSpec("street", "Street", max_length=200),
    FieldSpec("city", "City", max_length=100),
    FieldSpec("postal_code", "Postal code", max_length=20),
    FieldSpec("country", "Country", max_length=2, clean=_country, help="CZ, SK, PL"),
    FieldSpec("company_id", "Company ID", max_length=20, clean=check_company_id, help="IČO"),
    FieldSpec("vat_id", "VAT ID", max_length=20, clean=check_vat_id, help="DIČ: CZ12345678"),
    FieldSpec(
        "bank_account",
        "Bank account",
        max_length=40,
        clean=check_bank_account,
        help="19-2000145399/0800",
    ),
    FieldSpec("iban", "IBAN", max_length=42, clean=check_iban),
    FieldSpec(
        "register_entry",
        "Commercial register entry",
        max_length=300,
        help="Zapsaná v obchodním rejstříku vedeném Městským soudem v Praze, oddíl C, vložka 1234",
    ),
    FieldSpec("phone", "Phone", max_length=30, clean=_phone),
    FieldSpec("web", "Web", max_length=300),
)


def get(session: Session, company_id: int) -> OwnerCompany:
    company = session.get(OwnerCompany, company_id)
    if company is None:
        raise NotFound(f"owner company {company_id} not found")
    return company


def update(
    session: Session,
    actor: User,
    company_id: int,
    data: Mapping[str, Any],
    *,
    logo: bytes | None = None,
    blobs: BlobBatch | None = None,
    remove_logo: bool = False,
) -> OwnerCompany:
    """Save the letterhead; ValidationError names every bad field (the logo as ``logo``)."""
    require_role(actor, "admin")
    company = get(session, company_id)
    errors: dict[str, str] = {}
    try:
        values = parse_input(session, FIELDS, data, partial=True)
    except ValidationError as exc:
        errors, values = dict(exc.errors), {}
    kind = ""
    if logo:
        try:
            kind = logo_type(logo)
        except ValueError as exc:
            errors["logo"] = message(exc)
    name = values.get("name")
    if name and session.scalar(
        select(OwnerCompany.id).where(OwnerCompany.name == name, OwnerCompany.id != company.id)
    ):
        errors["name"] = N_("an owner company of this name exists")
    if errors:
        raise ValidationError(errors)
    for key, value in values.items():
        setattr(company, key, value)
    if logo and kind:
        assert blobs is not None, "a logo needs the blob batch of this transaction"
        company.logo_sha256, company.logo_type = blobs.put(logo), kind
    elif remove_logo:
        company.logo_sha256, company.logo_type = None, ""
    return company
