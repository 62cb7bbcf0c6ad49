"""SQLAlchemy 2 typed models of the CRM domain.

Every record a user can see carries the four fields the permission rule reads (crm.permissions):
owner company, group, salesperson and the private flag. Persons take theirs from their partner.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


ROLES = ("admin", "manager", "sales")
ACTIVITY_KINDS = ("task", "call", "meeting", "letter", "note")
DEAL_STATUSES = ("open", "won", "lost")
PARTNER_STATUSES = ("active", "passive")
CATEGORIES = ("A", "B", "C")
CURRENCIES = ("CZK", "EUR", "PLN", "USD", "HUF", "GBP", "CHF")
RECORD_TYPES = ("partner", "person", "deal", "activity")
CUSTOM_FIELD_TYPES = ("text", "number", "date", "codebook")

# The codebooks the product ships; admins add entries and may add codebooks of their own.
CODEBOOKS = {
    "partner_kind": "Partner kind",
    "region": "Region",
    "industry": "Industry",
    "deal_type": "Deal type",
    "deal_stage": "Pipeline stage",
    "activity_result": "Activity result",
    "close_reason": "Close reason",
    "public_mail_domain": "Public mail domains (never filed by domain)",
}


class OwnerCompany(Base):
    __tablename__ = "owner_companies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


user_groups = Table(
    "user_groups",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
)


class Group(Base):
    """A sales team."""

    __tablename__ = "groups"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    owner_company_id: Mapped[int | None] = mapped_column(ForeignKey("owner_companies.id"))
    owner_company: Mapped[OwnerCompany | None] = relationship()


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default="sales")
    password_hash: Mapped[str | None] = mapped_column(String(300))
    language: Mapped[str] = mapped_column(String(10), default="en")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    groups: Mapped[list[Group]] = relationship(secondary=user_groups)

    @property
    def group_ids(self) -> list[int]:
        return [g.id for g in self.groups]

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    user: Mapped[User] = relationship()


class UserSession(Base):
    """A web login. The cookie carries a random id, only its SHA-256 is stored: deleting the row
    ends the session wherever the cookie was copied to (crm.services.sessions)."""

    __tablename__ = "user_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    client_address: Mapped[str] = mapped_column(String(64), default="")


class LoginFailure(Base):
    """One failed login, counted by account and by client address over a sliding window
    (crm.services.throttle). Rows older than the window are deleted."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_account", "account", "failed_at"),
        Index("ix_login_failures_address", "address", "failed_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(254))
    address: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class CodebookEntry(Base):
    __tablename__ = "codebook_entries"
    __table_args__ = (UniqueConstraint("codebook", "label", name="uq_codebook_entries_label"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    codebook: Mapped[str] = mapped_column(String(50), index=True)
    label: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Pipeline stages carry a default probability (percent); other codebooks leave it empty.
    probability: Mapped[int | None] = mapped_column(Integer)


class CustomField(Base):
    __tablename__ = "custom_fields"
    __table_args__ = (UniqueConstraint("record_type", "key", name="uq_custom_fields_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    record_type: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(50))
    label: Mapped[str] = mapped_column(String(200))
    field_type: Mapped[str] = mapped_column(String(20))
    codebook: Mapped[str | None] = mapped_column(String(50))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Scoped:
    """The fields the permission rule reads (crm.permissions.visible)."""

    owner_company_id: Mapped[int | None] = mapped_column(ForeignKey("owner_companies.id"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"), index=True)
    salesperson_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    private: Mapped[bool] = mapped_column(Boolean, default=False)


class Partner(Scoped, Base):
    __tablename__ = "partners"
    __table_args__ = (Index("ix_partners_group_name", "group_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # fold(name): accent-free, lower-case; filters and sorts by name use it.
    name_key: Mapped[str] = mapped_column(String(200), index=True, default="")
    kind_id: Mapped[int | None] = mapped_column(ForeignKey("codebook_entries.id"), index=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("codebook_entries.id"), index=True)
    industry_id: Mapped[int | None] = mapped_column(ForeignKey("codebook_entries.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="active")
    street: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    phones: Mapped[list[str]] = mapped_column(JSON, default=list)
    emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    web: Mapped[str] = mapped_column(String(300), default="")
    company_id: Mapped[str] = mapped_column(String(20), default="", index=True)
    vat_id: Mapped[str] = mapped_column(String(20), default="")
    category: Mapped[str | None] = mapped_column(String(1))
    note: Mapped[str] = mapped_column(Text, default="")
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    kind: Mapped[CodebookEntry | None] = relationship(foreign_keys=[kind_id], lazy="joined")
    region: Mapped[CodebookEntry | None] = relationship(foreign_keys=[region_id], lazy="joined")
    industry: Mapped[CodebookEntry | None] = relationship(foreign_keys=[industry_id], lazy="joined")
    salesperson: Mapped[User | None] = relationship(lazy="joined")
    group: Mapped[Group | None] = relationship(lazy="joined")
    owner_company: Mapped[OwnerCompany | None] = relationship(lazy="joined")
    domain_rows: Mapped[list[PartnerDomain]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="PartnerDomain.domain"
    )

    @property
    def domains(self) -> list[str]:
        return [d.domain for d in self.domain_rows]


class PartnerDomain(Base):
    """A mail domain of a partner: mail from it files to the partner (indexed for the filer)."""

    __tablename__ = "partner_domains"
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True
    )
    domain: Mapped[str] = mapped_column(String(253), primary_key=True, index=True)


class Person(Base):
    """A contact person of a partner; visible exactly when the partner is."""

    __tablename__ = "persons"
    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), index=True, default="")
    function: Mapped[str] = mapped_column(String(200), default="")
    emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    phones: Mapped[list[str]] = mapped_column(JSON, default=list)
    birthday: Mapped[dt.date | None] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    partner: Mapped[Partner] = relationship(lazy="joined")


class Deal(Scoped, Base):
    __tablename__ = "deals"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    title_key: Mapped[str] = mapped_column(String(200), index=True, default="")
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    type_id: Mapped[int | None] = mapped_column(ForeignKey("codebook_entries.id"))
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("codebook_entries.id"), index=True)
    value: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="CZK")
    expected_close: Mapped[dt.date | None] = mapped_column(Date)
    probability: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    close_reason_id: Mapped[int | None] = mapped_column(ForeignKey("codebook_entries.id"))
    close_note: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    partner: Mapped[Partner] = relationship(lazy="joined")
    type: Mapped[CodebookEntry | None] = relationship(foreign_keys=[type_id], lazy="joined")
    stage: Mapped[CodebookEntry | None] = relationship(foreign_keys=[stage_id], lazy="joined")
    close_reason: Mapped[CodebookEntry | None] = relationship(
        foreign_keys=[close_reason_id], lazy="joined"
    )
    salesperson: Mapped[User | None] = relationship(lazy="joined")
    group: Mapped[Group | None] = relationship(lazy="joined")


class Activity(Scoped, Base):
    """A task, call, meeting, letter or note; salesperson_id is the assignee."""

    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_partner_created", "partner_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(250))
    title_key: Mapped[str] = mapped_column(String(250), index=True, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    result_id: Mapped[int | None] = mapped_column(ForeignKey("codebook_entries.id"))
    due_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"), index=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    next_contact_date: Mapped[dt.date | None] = mapped_column(Date)
    next_contact_task: Mapped[str] = mapped_column(String(250), default="")
    next_contact_assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    partner: Mapped[Partner | None] = relationship(lazy="joined")
    deal: Mapped[Deal | None] = relationship(lazy="joined")
    person: Mapped[Person | None] = relationship(lazy="joined")
    result: Mapped[CodebookEntry | None] = relationship(lazy="joined")
    salesperson: Mapped[User | None] = relationship(
        foreign_keys="Activity.salesperson_id", lazy="joined"
    )
    next_contact_assignee: Mapped[User | None] = relationship(
        foreign_keys=[next_contact_assignee_id]
    )
    group: Mapped[Group | None] = relationship(lazy="joined")


class OutboxEntry(Base):
    """A committed change that the indexer or the calendar publisher must learn about.

    Written in the same transaction as the change; consumers mark rows processed.
    """

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
