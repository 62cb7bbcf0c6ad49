"""The audit log: who did what to which record, when, and the changed fields as old -> new.

Every write path calls ``record`` inside the transaction of its change, so an entry exists
exactly when the change was committed. Entries are appended only: nothing in the code updates
or deletes one (backups carry the table like any other).

Who may read entries: admins all of them; managers those of records they may see
(``crm.permissions.visible``); nobody else. Packages with records of their own (mail messages)
make their record type readable with ``register_record_type``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, or_, select
from sqlalchemy.orm import Session

from crm.errors import PermissionDenied, ValidationError
from crm.fields import MAX_ID, parse_date
from crm.models import Activity, AuditEntry, Deal, Partner, Person, User
from crm.permissions import visible
from crm.text import N_

# Who did it: a user, or a label such as "worker:mail-sync" or "command:import".
Actor = User | str | None

ACTIONS = (
    "create",
    "update",
    "delete",
    "restore",
    "purge",
    "link",
    "unlink",
    "dismiss",
    "file",
    "send",
    "download",
    "sign-in",
    "sign-in-failed",
)
# The record types whose entries a manager may read, with the model ``visible`` decides on.
RECORD_MODELS: dict[str, Any] = {
    "partner": Partner,
    "person": Person,
    "deal": Deal,
    "activity": Activity,
}
# What entries are about: the records above, mail messages and users (sign-ins).
RECORD_TYPES = ("partner", "person", "deal", "activity", "message", "user")
NOT_FOR_YOU = N_("the audit log is for administrators and managers")


def register_record_type(record_type: str, model: Any) -> None:
    """Let managers read the entries of ``record_type`` rows they may see."""
    RECORD_MODELS[record_type] = model


def actor_label(actor: Actor) -> tuple[int | None, str]:
    if isinstance(actor, User):
        return actor.id, f"{actor.name} <{actor.email}>"
    return None, actor or "system"


def row(
    actor: Actor,
    action: str,
    record_type: str,
    record_id: int | None,
    changes: Mapping[str, tuple[Any, Any] | list[Any]] | None = None,
) -> dict[str, Any]:
    """An entry as a plain row, for bulk paths that insert with Core (mail ingest)."""
    actor_id, label = actor_label(actor)
    return {
        "at": dt.datetime.now(dt.UTC),
        "actor_id": actor_id,
        "actor_label": label[:300],
        "action": action,
        "record_type": record_type,
        "record_id": record_id,
        "changes": {k: list(v) for k, v in changes.items()} if changes else None,
    }


def record(
    session: Session,
    actor: Actor,
    action: str,
    record_type: str,
    record_id: int | None,
    changes: Mapping[str, tuple[Any, Any] | list[Any]] | None = None,
) -> AuditEntry:
    """Append one entry to the session's transaction (committed or rolled back with it)."""
    entry = AuditEntry(**row(actor, action, record_type, record_id, changes))
    session.add(entry)
    return entry


@dataclass(frozen=True)
class AuditQuery:
    """The filters of the admin page and the API; days are UTC days, ``to`` included."""

    record_type: str | None = None
    record_id: int | None = None
    user_id: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> AuditQuery:
        """Parse query strings; every bad one is named in one ValidationError."""
        errors: dict[str, str] = {}

        def number(name: str) -> int | None:
            raw = (args.get(name) or "").strip()
            if raw == "":
                return None
            if not (raw.isascii() and raw.isdigit() and len(raw) <= 10 and int(raw) <= MAX_ID):
                errors[name] = N_("must be a whole number")
                return None
            return int(raw)

        def day(name: str) -> dt.date | None:
            raw = (args.get(name) or "").strip()
            if raw == "":
                return None
            try:
                return parse_date(raw)
            except ValueError:
                errors[name] = N_("must be a date (YYYY-MM-DD)")
                return None

        record_type = (args.get("record_type") or "").strip() or None
        if record_type is not None and record_type not in RECORD_TYPES:
            errors["record_type"] = N_("is not a record type of the audit log")
        record_id, user_id = number("record_id"), number("user_id")
        first, last = day("from"), day("to")
        if errors:
            raise ValidationError(errors)
        return cls(
            record_type=record_type,
            record_id=record_id,
            user_id=user_id,
            since=_midnight(first) if first else None,
            until=_midnight(last + dt.timedelta(days=1)) if last else None,
        )


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def readable(viewer: User) -> ColumnElement[bool]:
    """The entries ``viewer`` may read (admins all, managers those of records they see)."""
    if viewer.is_admin:
        return AuditEntry.id.is_not(None)
    if viewer.role != "manager":
        return false()
    return or_(
        *(
            (AuditEntry.record_type == name)
            & AuditEntry.record_id.in_(select(model.id).where(visible(viewer, model)))
            for name, model in RECORD_MODELS.items()
        )
    )


def entries_query(viewer: User, query: AuditQuery) -> Select[Any]:
    if viewer.role not in ("admin", "manager"):
        raise PermissionDenied(NOT_FOR_YOU)
    stmt = select(AuditEntry).where(readable(viewer))
    if query.record_type:
        stmt = stmt.where(AuditEntry.record_type == query.record_type)
    if query.record_id is not None:
        stmt = stmt.where(AuditEntry.record_id == query.record_id)
    if query.user_id is not None:
        stmt = stmt.where(AuditEntry.actor_id == query.user_id)
    if query.since is not None:
        stmt = stmt.where(AuditEntry.at >= query.since)
    if query.until is not None:
        stmt = stmt.where(AuditEntry.at < query.until)
    return stmt


def search(
    session: Session, viewer: User, query: AuditQuery, page: int = 1, per_page: int = 50
) -> tuple[list[AuditEntry], int]:
    """One page of entries, newest first, and the total."""
    stmt = entries_query(viewer, query)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = list(
        session.scalars(
            stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return rows, total


def history(
    session: Session, record_type: str, record_id: int, limit: int = 200
) -> list[AuditEntry]:
    """A record's own entries, newest first, for its History tab (the caller has checked
    that the viewer sees the record)."""
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.record_type == record_type, AuditEntry.record_id == record_id)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(limit)
        )
    )
