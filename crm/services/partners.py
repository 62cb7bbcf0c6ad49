"""Partners (companies): the centre of every dossier."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from crm.errors import Conflict
from crm.fields import LIST_SPLIT_RE, FieldSpec, normalize_domain
from crm.models import (
    CATEGORIES,
    PARTNER_STATUSES,
    Activity,
    CodebookEntry,
    Deal,
    Partner,
    PartnerDomain,
    User,
    column_length,
)
from crm.permissions import visible
from crm.services.maildomains import public_mail_domains
from crm.services.records import (
    SCOPE_FIELDS,
    Duplicate,
    RecordService,
    choice_filter,
    codebook_filter,
    int_filter,
    resolve_scope,
    scope_dict,
)
from crm.text import N_, Text, fold, folded_key

NAME_KEY = column_length(Partner, "name_key")
HAS_DEALS = N_("the partner has deals; close or move them, or set it passive")
HAS_ACTIVITIES = N_("the partner has activities; set it passive to keep its history")
# Deals and activities in the trash do not hold their partner back.
LIVE_DEAL = Deal.deleted_at.is_(None)
LIVE_ACTIVITY = Activity.deleted_at.is_(None)


def no_public_domains(session: Session, domains: list[str]) -> list[str]:
    public = public_mail_domains(session)
    taken = [d for d in domains if d in public]
    if taken:
        raise ValueError(
            Text("%(domain)s is a public mail domain and cannot be a partner's", domain=taken[0])
        )
    return domains


def check_company_id(
    session: Session, actor: User, company_id: str, record: Partner | None
) -> None:
    """Refuse a company ID (IČO) that another partner has: it names one company.

    The ID stays unique across the whole database (two teams must not keep two dossiers of
    one company), but the refusal tells the actor only what they may see: the partner holding
    it, when visible (the form links to it); otherwise only that the ID is taken by a partner
    they cannot see, with no name, id or owner, so an admin (who sees all) can resolve it.
    """
    others = (Partner.company_id == company_id, Partner.id != (record.id if record else -1))
    seen = session.scalars(select(Partner).where(*others, visible(actor, Partner))).first()
    if seen is not None:
        raise Duplicate(
            f"a partner with company ID {company_id} already exists",
            field="company_id",
            reason=N_("a partner with this company ID already exists"),
            record_id=seen.id,
            title=seen.name,
        )
    if session.scalar(select(Partner.id).where(*others).limit(1)) is not None:
        raise Duplicate(
            f"company ID {company_id} is taken by a partner you cannot see; "
            "an administrator can resolve it",
            field="company_id",
            reason=N_(
                "this company ID is taken by a partner you cannot see; "
                "an administrator can resolve it"
            ),
        )


def country_code(value: str) -> str:
    if value and not (len(value) == 2 and value.isascii() and value.isalpha()):
        raise ValueError("must be a two-letter country code such as CZ, SK or PL")
    return value.upper()


def name_filter(_session: Session, raw: str) -> ColumnElement[bool]:
    return Partner.name_key.contains(fold(raw), autoescape=True)


def domain_filter(_session: Session, raw: str) -> ColumnElement[bool]:
    return Partner.id.in_(
        select(PartnerDomain.partner_id).where(PartnerDomain.domain == raw.strip().lower())
    )


class PartnerService(RecordService[Partner]):
    model = Partner
    record_type = "partner"
    fields = (
        FieldSpec("name", "Name", required=True, max_length=200),
        FieldSpec("kind", "Kind", "codebook", codebook="partner_kind"),
        FieldSpec("region", "Region", "codebook", codebook="region"),
        FieldSpec("industry", "Industry", "codebook", codebook="industry"),
        FieldSpec("status", "Status", "choice", choices=PARTNER_STATUSES, default="active"),
        FieldSpec("category", "Category", "choice", choices=CATEGORIES),
        FieldSpec("street", "Street", max_length=200),
        FieldSpec("city", "City", max_length=100),
        FieldSpec("postal_code", "Postal code", max_length=20),
        FieldSpec(
            "country",
            "Country",
            max_length=2,
            help="Two-letter code: CZ, SK, PL",
            pattern="^[A-Za-z]{2}$",
            clean=country_code,
        ),
        FieldSpec("phones", "Phones", "list", item="phone", max_length=30),
        FieldSpec("emails", "Emails", "list", item="email", max_length=254),
        FieldSpec("web", "Web", max_length=300),
        FieldSpec("company_id", "Company ID", max_length=20, help="IČO / IČ / REGON"),
        FieldSpec("vat_id", "VAT ID", max_length=20, help="DIČ / IČ DPH / NIP"),
        FieldSpec(
            "domains",
            "Mail domains",
            "list",
            item="domain",
            max_length=253,
            help="Mail from these domains is filed to this partner",
            clean_in=no_public_domains,
        ),
        FieldSpec("note", "Note", "text", max_length=20000),
        *SCOPE_FIELDS,
    )
    filters = {
        "q": name_filter,
        "kind": codebook_filter(Partner.kind_id, "partner_kind"),
        "region": codebook_filter(Partner.region_id, "region"),
        "industry": codebook_filter(Partner.industry_id, "industry"),
        "status": choice_filter(Partner.status, PARTNER_STATUSES),
        "category": choice_filter(Partner.category, CATEGORIES),
        "salesperson_id": int_filter(Partner.salesperson_id),
        "group_id": int_filter(Partner.group_id),
        "domain": domain_filter,
    }
    sort_keys = {
        "name": Partner.name_key,
        "city": Partner.city,
        "category": Partner.category,
        "status": Partner.status,
        "created_at": Partner.created_at,
        "updated_at": Partner.updated_at,
        "kind": select(CodebookEntry.label)
        .where(CodebookEntry.id == Partner.kind_id)
        .scalar_subquery(),
        "region": select(CodebookEntry.label)
        .where(CodebookEntry.id == Partner.region_id)
        .scalar_subquery(),
        "industry": select(CodebookEntry.label)
        .where(CodebookEntry.id == Partner.industry_id)
        .scalar_subquery(),
    }
    default_sort = "name"

    def prepare(
        self, session: Session, actor: User, values: dict[str, Any], record: Partner | None
    ) -> dict[str, Any]:
        if "domains" in values:
            values["_domains"] = values.pop("domains")
        if values.get("company_id"):
            check_company_id(session, actor, values["company_id"], record)
        resolve_scope(session, actor, values, record)
        if "name" in values:
            values["name_key"] = folded_key(values["name"], NAME_KEY)
        return values

    def similar(self, session: Session, actor: User, data: Mapping[str, Any]) -> list[Partner]:
        """Partners the actor sees with the same name (accents and case aside: "Agro Zatec"
        is "Agro Žatec") or one of the same mail domains. A company ID is not asked about: it
        names one company, and a second partner with it is refused (``check_company_id``)."""
        name = str(data.get("name") or "").strip()
        raw_domains = data.get("domains") or []
        if isinstance(raw_domains, str):
            raw_domains = LIST_SPLIT_RE.split(raw_domains)
        domains = set()
        for raw in raw_domains:
            try:
                domains.add(normalize_domain(str(raw)))
            except ValueError:
                continue  # not a domain: the form refuses it by the field when saved
        matches = []
        if name:
            matches.append(Partner.name_key == folded_key(name, NAME_KEY))
        if domains:
            owners = select(PartnerDomain.partner_id).where(PartnerDomain.domain.in_(domains))
            matches.append(Partner.id.in_(owners))
        if not matches:
            return []
        query = select(Partner).where(or_(*matches), visible(actor, Partner))
        return list(session.scalars(query.order_by(Partner.name).limit(10)))

    def after_write(self, session: Session, record: Partner, values: dict[str, Any]) -> None:
        if "_domains" in values:
            wanted = sorted(values["_domains"])
            record.domain_rows = [
                next((row for row in record.domain_rows if row.domain == d), None)
                or PartnerDomain(domain=d)
                for d in wanted
            ]
            session.flush()

    def check_delete(self, session: Session, actor: User, record: Partner) -> None:
        super().check_delete(session, actor, record)
        if session.scalar(select(Deal.id).where(Deal.partner_id == record.id, LIVE_DEAL).limit(1)):
            raise Conflict(HAS_DEALS)
        if session.scalar(
            select(Activity.id).where(Activity.partner_id == record.id, LIVE_ACTIVITY).limit(1)
        ):
            raise Conflict(HAS_ACTIVITIES)

    def as_dict(self, record: Partner) -> dict[str, Any]:
        out = super().as_dict(record)
        out["domains"] = record.domains
        out.update(scope_dict(record))
        return out

    def by_company_id(self, session: Session, actor: User, company_id: str) -> Partner | None:
        return session.scalars(
            select(Partner).where(Partner.company_id == company_id, visible(actor, Partner))
        ).first()


partners = PartnerService()
