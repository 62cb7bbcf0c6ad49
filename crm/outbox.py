"""The outbox: what changed, for the readers that keep something outside the tables up to date
(the search indexer, the calendar publisher, later others).

Writers call ``write`` in the transaction of their change: one INSERT, nothing read. Readers
register by name, each with its own position, and loop::

    with db.session() as s:                      # one transaction per batch
        entries = outbox.read(s, "search", 100)
        for entry in entries:
            index(s, entry)                      # the reader's own effects ...
        outbox.acknowledge(s, "search", entries) # ... and its position commit together

A reader that crashes before the commit reads the same entries again: **handling an entry twice
must be harmless**. An entry says *that* a record changed (and roughly what, in ``payload``),
never its new values: a reader reads the record as it is now (or finds it gone) and writes
its effect idempotently (replace the document, not append to it). Entries of one record may
arrive in any grouping; only the record's current state counts.

No gaps. On SQLite writers are serialized (BEGIN IMMEDIATE, crm.db): ids are taken and
committed in order, so "after my id" misses nothing. On PostgreSQL ids come from a sequence and
transactions commit out of id order, so each entry also stores its transaction's id (``xid``,
``pg_current_xact_id()``, 64 bits: no wraparound) and a reader's position is the pair
(xid, id). A reader reads only entries whose xid is below its snapshot's xmin: every transaction
with a smaller xid has ended (committed, and so visible to that same statement, or rolled back),
and any transaction still to write gets an xid at least as large. Entries below xmin are thus
final, and reading them in (xid, id) order after the position never skips one that commits
late. The price: an open transaction that has written (a long import, a session left idle in
transaction) holds back every reader until it ends; ``lag`` shows it.

A reader's row is locked while it reads (``FOR UPDATE SKIP LOCKED``): a second process of the
same reader gets nothing instead of the same entries. On SQLite the write lock serializes them.

``prune`` deletes what every reader has passed; with no reader registered, everything: a reader
that registers later rebuilds from the database (DESIGN "Outbox") and starts at the head.
It always keeps the newest entry: SQLite hands out ``max(id) + 1``, so emptying the table would
let new entries reuse ids that positions have already passed.

Visibility. A partner's or deal's group, salesperson or private flag decides who sees more than
the record itself: a person takes the rule of their partner, a message that of the records it
is filed to. ``visibility_changed`` writes a ``visibility`` entry for each record whose
visibility such a change alters, so a reader re-checks just those: crm names the persons, and a
package whose records follow crm's (mail_archive's messages) names its own through
``register_dependents``, the way it registers its rule with ``crm.permissions.register_rule``.

What may not be here: a reader's own logic, and any import of another package of ours.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import BigInteger, ColumnElement, delete, func, insert, literal, select, tuple_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from crm.errors import NotFound
from crm.models import OutboxEntry, OutboxReader, Person, utcnow


@dataclass(frozen=True)
class Entry:
    """One change as a reader sees it (a copy: readers never change outbox rows)."""

    id: int
    xid: int
    entity: str
    entity_id: int
    action: str
    payload: dict[str, Any]
    created_at: dt.datetime


@dataclass(frozen=True)
class ReaderLag:
    """How far behind a reader is: entries it has not acknowledged, and the oldest one's age."""

    name: str
    unread: int
    oldest_age: dt.timedelta | None


@dataclass(frozen=True)
class Backlog:
    """What ``dossier outbox`` prints: each reader's lag and the number of entries kept."""

    readers: list[ReaderLag]
    kept: int


def write(
    session: Session,
    entity: str,
    entity_id: int,
    action: str,
    payload: dict[str, Any] | None = None,
) -> None:
    """Tell the readers that ``entity`` ``entity_id`` changed (create, update, delete,
    visibility, ...), in the caller's transaction. One INSERT at the next flush."""
    session.add(OutboxEntry(entity=entity, entity_id=entity_id, action=action, payload=payload))


# The fields of a partner, deal or activity that decide who sees it (crm.permissions.visible).
VISIBILITY_FIELDS = frozenset({"group_id", "salesperson_id", "private"})

# (session, entity, ids) -> the records, by entity, whose visibility follows those records'.
Dependents = Callable[[Session, str, Collection[int]], dict[str, Collection[int]]]
DEPENDENTS: list[Dependents] = []


def register_dependents(finder: Dependents) -> None:
    """Let ``visibility_changed`` ask ``finder`` which of its package's records follow the
    visibility of the given ones (mail_archive: the messages filed to them)."""
    if finder not in DEPENDENTS:
        DEPENDENTS.append(finder)


def _persons_of(session: Session, entity: str, ids: Collection[int]) -> dict[str, Collection[int]]:
    """A person takes the rule of their partner."""
    if entity != "partner" or not ids:
        return {}
    return {"person": list(session.scalars(select(Person.id).where(Person.partner_id.in_(ids))))}


def visibility_changed(
    session: Session, entity: str, entity_ids: Collection[int], fields: Collection[str]
) -> int:
    """Write a ``visibility`` entry for every record whose visibility follows ``entity``
    ``entity_ids``, whose ``fields`` (group_id, salesperson_id, private; ``deleted``) changed.

    The payload names the cause: ``{"because": ["partner:12"], "fields": ["group_id"]}``.
    Call it before a delete, while the dependents can still be found. One INSERT for all;
    returns how many entries it wrote."""
    found: dict[str, set[int]] = {}
    for finder in (_persons_of, *DEPENDENTS):
        for kind, ids in finder(session, entity, entity_ids).items():
            found.setdefault(kind, set()).update(ids)
    payload = {
        "because": [f"{entity}:{i}" for i in sorted(entity_ids)],
        "fields": sorted(fields),
    }
    rows = [
        {"entity": kind, "entity_id": i, "action": "visibility", "payload": payload}
        for kind in sorted(found)
        for i in sorted(found[kind])
    ]
    if rows:
        session.execute(insert(OutboxEntry), rows)
    return len(rows)


def register(session: Session, name: str, *, at: Literal["head", "start"] = "head") -> None:
    """Register reader ``name`` (nothing happens when it is registered already).

    ``head``: it starts after the newest readable entry (it has just rebuilt its state from the
    database; changes committing meanwhile arrive again, which is harmless). ``start``: it
    reads every entry still kept.
    """
    if session.get(OutboxReader, name) is not None:
        return
    position = (0, 0)
    if at == "head":
        newest = session.execute(
            select(OutboxEntry.xid, OutboxEntry.id)
            .where(_readable())
            .order_by(OutboxEntry.xid.desc(), OutboxEntry.id.desc())
            .limit(1)
        ).first()
        if newest is not None:
            position = (newest[0], newest[1])
    session.add(OutboxReader(name=name, position_xid=position[0], position_id=position[1]))
    session.flush()


def unregister(session: Session, name: str) -> None:
    """Forget reader ``name``: ``prune`` no longer keeps entries for it."""
    session.execute(delete(OutboxReader).where(OutboxReader.name == name))


def read(session: Session, name: str, limit: int = 100) -> list[Entry]:
    """Up to ``limit`` entries after ``name``'s position, oldest first.

    Locks the reader's row until the caller's transaction ends; when another process of the
    same reader holds it, the answer is ``[]``. NotFound for a reader never registered.
    """
    reader = session.scalars(
        select(OutboxReader).where(OutboxReader.name == name).with_for_update(skip_locked=True)
    ).first()
    if reader is None:
        if session.scalar(select(OutboxReader.name).where(OutboxReader.name == name)) is None:
            raise NotFound(f"outbox reader {name} is not registered")
        return []
    rows = session.scalars(
        select(OutboxEntry)
        .where(_after(reader), _readable())
        .order_by(OutboxEntry.xid, OutboxEntry.id)
        .limit(limit)
    )
    return [
        Entry(r.id, r.xid, r.entity, r.entity_id, r.action, dict(r.payload or {}), r.created_at)
        for r in rows
    ]


def acknowledge(session: Session, name: str, entries: Sequence[Entry]) -> None:
    """Move ``name``'s position past ``entries``, in the caller's transaction (commit it with
    the reader's effects). A position never moves back."""
    reader = session.get(OutboxReader, name)
    if reader is None:
        raise NotFound(f"outbox reader {name} is not registered")
    reader.acknowledged_at = utcnow()
    if not entries:
        return
    last = max((e.xid, e.id) for e in entries)
    if last > (reader.position_xid, reader.position_id):
        reader.position_xid, reader.position_id = last


def prune(session: Session) -> int:
    """Delete the entries every registered reader has passed (all when none is registered),
    except the newest one (see the module docstring); returns how many went."""
    newest = session.scalar(select(func.max(OutboxEntry.id)))
    if newest is None:
        return 0
    slowest = session.execute(
        select(OutboxReader.position_xid, OutboxReader.position_id)
        .order_by(OutboxReader.position_xid, OutboxReader.position_id)
        .limit(1)
    ).first()
    stmt = delete(OutboxEntry).where(OutboxEntry.id != newest)
    if slowest is not None:
        stmt = stmt.where(
            tuple_(OutboxEntry.xid, OutboxEntry.id) <= tuple_(literal(slowest[0]), slowest[1])
        )
    return session.execute(stmt).rowcount  # type: ignore[attr-defined, no-any-return]


def lag(session: Session) -> list[ReaderLag]:
    """Each registered reader's unread entries and the age of its oldest unread one."""
    now = utcnow()
    lags = []
    for reader in session.scalars(select(OutboxReader).order_by(OutboxReader.name)):
        unread, oldest = session.execute(
            select(func.count(), func.min(OutboxEntry.created_at)).where(_after(reader))
        ).one()
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=dt.UTC)  # an aggregate skips the column's type
        lags.append(ReaderLag(reader.name, int(unread), now - oldest if oldest else None))
    return lags


def backlog(session: Session) -> Backlog:
    return Backlog(lag(session), session.scalar(select(func.count(OutboxEntry.id))) or 0)


def _after(reader: OutboxReader) -> ColumnElement[bool]:
    return tuple_(OutboxEntry.xid, OutboxEntry.id) > tuple_(
        literal(reader.position_xid), literal(reader.position_id)
    )


def _readable() -> ColumnElement[bool]:
    """Entries whose transaction has surely ended (PostgreSQL; everything on SQLite)."""
    return OutboxEntry.xid < snapshot_xmin()


class snapshot_xmin(FunctionElement[int]):
    """The oldest transaction still running when the statement's snapshot was taken."""

    type = BigInteger()
    inherit_cache = True


@compiles(snapshot_xmin)
def _xmin_default(element: snapshot_xmin, compiler: Any, **kw: Any) -> str:
    return "1"  # SQLite: every entry has xid 0 and is readable once committed


@compiles(snapshot_xmin, "postgresql")
def _xmin_postgresql(element: snapshot_xmin, compiler: Any, **kw: Any) -> str:
    return "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
