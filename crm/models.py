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
    BigInteger,
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
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship
from sqlalchemy.sql.functions import FunctionElement

from crm.blobs import register_blob_column

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
CUSTOM_FIELD_TYPES = ("text", "number", "date", "datetime", "codebook")

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
    """A company of ours; its letterhead facts are what offers and contracts print."""

    __tablename__ = "owner_companies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    street: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    company_id: Mapped[str] = mapped_column(String(20), default="")
    vat_id: Mapped[str] = mapped_column(String(20), default="")
    bank_account: Mapped[str] = mapped_column(String(40), default="")
    iban: Mapped[str] = mapped_column(String(42), default="")
    register_entry: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")
    web: Mapped[str] = mapped_column(String(300), default="")
    # The logo's sha256 in crm.blobs and its media type (image/png or image/jpeg).
    logo_sha256: Mapped[str | None] = mapped_column(String(64))
    logo_type: Mapped[str] = mapped_column(String(20), default="")


register_blob_column(OwnerCompany.logo_sha256)  # ``dossier check`` keeps the logos


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
    phone: Mapped[str] = mapped_column(String(30), default="")
    job_title: Mapped[str] = mapped_column(String(200), default="")
    signature: Mapped[str] = mapped_column(Text, default="")
    # IANA name; every date and time the web UI shows this user is in this zone.
    time_zone: Mapped[str] = mapped_column(String(64), default="Europe/Prague")
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
    # The entry's name per UI language ({"cs": "Stavebnictví", ...}); a language left out reads
    # ``label``, which the API answers and which stays unique within the codebook.
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)

    def label_in(self, language: str) -> str:
        """What a user of ``language`` reads."""
        return (self.labels or {}).get(language) or self.label

    def names(self) -> list[str]:
        """Every name the entry goes by: its label and its label in each language."""
        return [self.label, *(v for v in (self.labels or {}).values() if v)]


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


class Versioned:
    """A record's version and who saved it last (issue 9 §6: no lost updates).

    ``version_id_col`` makes every UPDATE ``... WHERE id = :id AND version = :v`` in one
    statement, so a save based on an older version cannot race past a newer one: SQLAlchemy
    raises StaleDataError, which the record service turns into crm.errors.StaleRecord.
    """

    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


class Trashable:
    """A record that goes to the trash when deleted (crm.trash): ``deleted_at`` set, it is
    invisible to everyone (crm.permissions.visible) until an administrator restores it, and
    gone for good after TRASH_DAYS."""

    # No plain index: almost every row is NULL, and a planner that takes it for "IS NULL" reads
    # the whole table in index order. The trash has its partial index (TRASH_INDEXES below).
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Scoped:
    """The fields the permission rule reads (crm.permissions.visible)."""

    owner_company_id: Mapped[int | None] = mapped_column(ForeignKey("owner_companies.id"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"), index=True)
    salesperson_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    private: Mapped[bool] = mapped_column(Boolean, default=False)


class Partner(Versioned, Trashable, Scoped, Base):
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
    salesperson: Mapped[User | None] = relationship(
        foreign_keys="Partner.salesperson_id", lazy="joined"
    )
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


class Person(Versioned, Trashable, Base):
    """A contact person of a partner; visible exactly when the partner is."""

    __tablename__ = "persons"
    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    # The display name, made from the parts below (crm.person_names.display_name).
    name: Mapped[str] = mapped_column(String(420))
    name_key: Mapped[str] = mapped_column(String(420), index=True, default="")
    title_before: Mapped[str] = mapped_column(String(50), default="")
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(200), default="")
    title_after: Mapped[str] = mapped_column(String(50), default="")
    # fold(last name + " " + first name): lists sort by it.
    last_name_key: Mapped[str] = mapped_column(String(300), index=True, default="")
    # How letters and mail address the person, in the vocative ("Vážený pane Dvořáku").
    salutation: Mapped[str] = mapped_column(String(200), default="")
    function: Mapped[str] = mapped_column(String(200), default="")
    emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    phones: Mapped[list[str]] = mapped_column(JSON, default=list)
    birthday: Mapped[dt.date | None] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    partner: Mapped[Partner] = relationship(lazy="joined")


class Deal(Versioned, Trashable, Scoped, Base):
    __tablename__ = "deals"
    # the list's default order, read in order (with the planner's statistics: crm.db)
    __table_args__ = (Index("ix_deals_created_at", "created_at"),)
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
    salesperson: Mapped[User | None] = relationship(
        foreign_keys="Deal.salesperson_id", lazy="joined"
    )
    group: Mapped[Group | None] = relationship(lazy="joined")


class Activity(Versioned, Trashable, Scoped, Base):
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


class current_xid(FunctionElement[int]):
    """The writing transaction's id: ``pg_current_xact_id()`` as a bigint on PostgreSQL, 0 on
    SQLite (its writers are serialized, so id order is commit order there). See crm.outbox."""

    type = BigInteger()
    inherit_cache = True


@compiles(current_xid)
def _current_xid_default(element: current_xid, compiler: Any, **kw: Any) -> str:
    return "0"


@compiles(current_xid, "postgresql")
def _current_xid_postgresql(element: current_xid, compiler: Any, **kw: Any) -> str:
    return "pg_current_xact_id()::text::bigint"


class OutboxEntry(Base):
    """A committed change that the indexer or the calendar publisher must learn about.

    Written in the same transaction as the change, by one INSERT; readers keep their own
    positions (OutboxReader) and read in (xid, id) order (crm.outbox).
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_xid_id", "xid", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    xid: Mapped[int] = mapped_column(BigInteger, default=current_xid(), server_default="0")
    entity: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(10))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxReader(Base):
    """A reader of the outbox (the indexer, the calendar publisher) and how far it has read:
    the (xid, id) of the last entry it acknowledged."""

    __tablename__ = "outbox_readers"
    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    position_xid: Mapped[int] = mapped_column(BigInteger, default=0)
    position_id: Mapped[int] = mapped_column(Integer, default=0)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    registered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- workers (issue 9 §2): what `dossier serve` and `dossier worker` run, seen across processes
class WorkerStatus(Base):
    """One worker of one process (crm.workers.Supervisor): the System page reads these rows,
    so what another server of the team runs shows too. A process removes its rows on a clean
    stop; a row whose heartbeat is old belongs to a process that died."""

    __tablename__ = "worker_status"
    __table_args__ = (UniqueConstraint("name", "host", "pid"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_run_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class WorkerRequest(Base):
    """A request for a worker that may run in another process ("Sync now" for account 7 is
    worker "mail-sync", key "7"); the worker polls and deletes these rows."""

    __tablename__ = "worker_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    worker: Mapped[str] = mapped_column(String(60), index=True)
    key: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- end workers


# --- audit log (issue 9 §7)
class AuditEntry(Base):
    """One write: who, what, which record, when, and the changed fields as ``{field: [old,
    new]}``. Append-only (crm.audit writes it; nothing updates or deletes a row), so the actor
    is a plain reference without a cascade and a label keeps who it was at the time."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_record", "record_type", "record_id", "at"),
        Index("ix_audit_log_actor", "actor_id", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(30))
    record_type: Mapped[str] = mapped_column(String(30))
    record_id: Mapped[int | None] = mapped_column(Integer)
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON)


# --- end audit log


def column_length(model: type[Base], column: str) -> int:
    """The declared length of a String column (the most a value may hold on PostgreSQL)."""
    length = model.__table__.c[column].type.length  # type: ignore[attr-defined]
    assert isinstance(length, int), f"{model.__name__}.{column} has no length"
    return length


# The trash's rows only (crm.trash lists and purges them); partial on both backends.
TRASH_INDEXES = [
    Index(
        f"ix_{model.__tablename__}_in_trash",
        model.deleted_at,
        sqlite_where=model.deleted_at.is_not(None),
        postgresql_where=model.deleted_at.is_not(None),
    )
    for model in (Partner, Person, Deal, Activity)
]
