"""The trash: deleted partners, persons, deals and activities, kept TRASH_DAYS days.

Deleting (``RecordService.delete``) sets a record's ``deleted_at``; ``crm.permissions.visible``
hides it from everyone from then on, so whatever hangs on it (a partner's persons, the mail
filed to it) is hidden the same way and comes back with it. An administrator lists the trash and
restores from it; ``purge`` removes for good what has been there longer than TRASH_DAYS
(the ``housekeeping`` worker of ``dossier serve`` runs it: crm.housekeeping), oldest first,
so a deal's activities, deleted before it, go before it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, func, literal, select, union_all
from sqlalchemy.orm import Session

from crm import audit, outbox
from crm.errors import Conflict, NotFound
from crm.models import Activity, Deal, Partner, Person, User, utcnow
from crm.permissions import require_role
from crm.services.records import Page, write_outbox
from crm.text import N_, Text

TRASH_DAYS = 30
MODELS: dict[str, Any] = {
    "partner": Partner,
    "person": Person,
    "deal": Deal,
    "activity": Activity,
}
TITLES = {"partner": "name", "person": "name", "deal": "title", "activity": "title"}
# a restore must bring back first what the record belongs to
PARENT_IN_TRASH = {
    "partner": N_("restore the partner “%(name)s” first: this record belongs to it"),
    "deal": N_("restore the deal “%(name)s” first: this activity belongs to it"),
}


@dataclass(frozen=True)
class TrashItem:
    record_type: str
    record_id: int
    title: str
    deleted_at: dt.datetime
    deleted_by: str | None
    # the partner (or deal) it belongs to, when that is in the trash too: restore that first
    held_by: tuple[str, int, str] | None

    @property
    def purge_at(self) -> dt.datetime:
        return self.deleted_at + dt.timedelta(days=TRASH_DAYS)


def _parents(record_type: str, record: Any) -> list[tuple[str, Any]]:
    """What the record belongs to, in the order a restore checks them."""
    parents: list[tuple[str, Any]] = []
    if record_type in ("person", "deal", "activity") and record.partner is not None:
        parents.append(("partner", record.partner))
    if record_type == "activity" and record.deal is not None:
        parents.append(("deal", record.deal))
    return parents


def _held_by(record_type: str, record: Any) -> tuple[str, int, str] | None:
    for kind, parent in _parents(record_type, record):
        if parent.deleted_at is not None:
            return kind, parent.id, getattr(parent, TITLES[kind])
    return None


def items(session: Session, actor: User, page: int = 1, per_page: int = 50) -> Page[TrashItem]:
    """What is in the trash, the most recently deleted first (administrators only)."""
    require_role(actor, "admin")
    parts = [
        select(
            literal(kind, String(10)).label("kind"),
            model.id.label("id"),
            model.deleted_at.label("deleted_at"),
        ).where(model.deleted_at.is_not(None))
        for kind, model in MODELS.items()
    ]
    every = union_all(*parts).subquery()
    total = session.scalar(select(func.count()).select_from(every)) or 0
    rows = session.execute(
        select(every.c.kind, every.c.id)
        .order_by(every.c.deleted_at.desc(), every.c.id.desc())
        .offset((max(page, 1) - 1) * per_page)
        .limit(per_page)
    ).all()
    found = []
    for kind, record_id in rows:
        record = session.get(MODELS[kind], record_id)
        if record is None:
            continue
        who = session.get(User, record.deleted_by_id) if record.deleted_by_id else None
        found.append(
            TrashItem(
                record_type=kind,
                record_id=record.id,
                title=getattr(record, TITLES[kind]),
                deleted_at=record.deleted_at,
                deleted_by=who.name if who else None,
                held_by=_held_by(kind, record),
            )
        )
    return Page(found, total, max(page, 1), per_page)


def _in_trash(session: Session, record_type: str, record_id: int) -> Any:
    model = MODELS.get(record_type)
    record = session.get(model, record_id) if model is not None else None
    if record is None or record.deleted_at is None:
        raise NotFound(f"{record_type} {record_id} is not in the trash")
    return record


def restore(session: Session, actor: User, record_type: str, record_id: int) -> Any:
    """Take a record out of the trash: it is back where it was, with what hangs on it.
    Conflict when what it belongs to is still in the trash."""
    require_role(actor, "admin")
    record = _in_trash(session, record_type, record_id)
    held = _held_by(record_type, record)
    if held is not None:
        kind, _id, name = held
        raise Conflict(Text(PARENT_IN_TRASH[kind], name=name))
    record.deleted_at = None
    record.deleted_by_id = None
    record.updated_by_id = actor.id
    session.flush()
    outbox.visibility_changed(session, record_type, [record_id], ["deleted"])
    write_outbox(session, record_type, record_id, "create", payload={"fields": ["restored"]})
    title = getattr(record, TITLES[record_type])
    audit.record(
        session, actor, "restore", record_type, record_id, {TITLES[record_type]: (None, title)}
    )
    return record


def purge(session: Session, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Remove for good what has been in the trash longer than TRASH_DAYS, oldest first;
    returns how many records went. A partner takes its persons, mail domains and mail links
    with it (the mail stays in the archive)."""
    cutoff = (now or utcnow()) - dt.timedelta(days=TRASH_DAYS)
    due: list[tuple[dt.datetime, str, int]] = []
    for kind, model in MODELS.items():
        for record_id, deleted_at in session.execute(
            select(model.id, model.deleted_at)
            .where(model.deleted_at.is_not(None), model.deleted_at < cutoff)
            .limit(limit)
        ):
            due.append((deleted_at, kind, record_id))
    gone = 0
    for _at, kind, record_id in sorted(due)[:limit]:
        record = session.get(MODELS[kind], record_id)
        if record is None:
            continue  # went with its partner
        title = getattr(record, TITLES[kind])
        session.delete(record)
        session.flush()
        write_outbox(session, kind, record_id, "delete")
        audit.record(
            session, "worker:housekeeping", "purge", kind, record_id, {TITLES[kind]: (title, None)}
        )
        gone += 1
    return gone
