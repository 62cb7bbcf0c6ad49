"""The generic record service: get, list (filter, sort, page), create, update, delete.

Partners, persons, deals and activities are each a subclass that declares its fields, filters
and sort keys and adds its own rules in ``prepare``; the permission rule, validation, custom
fields and the outbox are handled here once.
"""

from __future__ import annotations

import builtins
import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError

from crm import audit, outbox
from crm.errors import Conflict, NotFound, PermissionDenied, StaleRecord, ValidationError
from crm.fields import FieldSpec, active_user, codebook_entry, parse_date, parse_input
from crm.models import (
    Activity,
    CodebookEntry,
    CustomField,
    Deal,
    Group,
    Partner,
    Scoped,
    Trashable,
    User,
    utcnow,
)
from crm.permissions import (
    assignable_group,
    load_visible,
    may_assign,
    may_be_salesperson,
    visible,
)
from crm.text import N_, Text, message

T = TypeVar("T")
MAX_PER_PAGE = 500

# Who a record belongs to; only ``may_assign`` users change these (see crm.permissions).
SCOPE_NAMES = ("group_id", "salesperson_id", "private")
NOT_YOURS = N_(
    "only the record's salesperson, a manager of its group or an administrator may change this"
)
NOT_YOURS_TO_DELETE = N_(
    "only the record's salesperson, a manager of its group or an administrator may delete it"
)
NOT_IN_GROUP = N_("must be a member of the record's group")
NOT_A_FILTER = N_("is not a filter of this list")
STALE = N_("someone else saved this record after you opened it; nothing was saved")
SALESPERSON_ELSEWHERE = N_(
    "the salesperson is not a member of this group; choose one of its members as salesperson too"
)


class Duplicate(Conflict):
    """A value that must be unique is already taken (a partner's company ID).

    ``message`` is for the API and the import report; ``reason`` is the same without the
    value, for the form field (so it can be translated). ``record_id`` and ``title`` name the
    record holding the value only when the actor may see it: a record the actor cannot see is
    never named, so the answer is no way to learn another team's records.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str,
        reason: str,
        record_id: int | None = None,
        title: str | None = None,
    ) -> None:
        super().__init__(message)
        self.field = field
        self.reason = reason
        self.record_id = record_id
        self.title = title


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


@dataclass(frozen=True)
class ListQuery:
    """What a list page or API list call asks for; values are raw strings from the query."""

    filters: Mapping[str, str] = field(default_factory=dict)
    sort: str = ""
    page: int = 1
    per_page: int = 50
    # A page that shows no total (a dossier's side lists) skips the COUNT query.
    with_total: bool = True

    @classmethod
    def from_args(cls, args: Mapping[str, str], default_per_page: int = 50) -> ListQuery:
        errors: dict[str, str] = {}

        def number(name: str, default: int, upper: int) -> int:
            raw = args.get(name, "")
            if raw == "":
                return default
            if not is_small_number(raw) or not 1 <= int(raw) <= upper:
                errors[name] = f"must be a whole number from 1 to {upper}"
                return default
            return int(raw)

        page = number("page", 1, 1_000_000)
        per_page = number("per_page", default_per_page, MAX_PER_PAGE)
        if errors:
            raise ValidationError(errors)
        filters = {
            k: v for k, v in args.items() if k not in ("page", "per_page", "sort") and v != ""
        }
        return cls(filters=filters, sort=args.get("sort", ""), page=page, per_page=per_page)


Filter = Callable[[Session, str], ColumnElement[bool]]


def is_small_number(raw: str) -> bool:
    """ASCII digits only ("²".isdigit() is true) and short enough for any integer column."""
    return raw.isascii() and raw.isdigit() and len(raw) <= 9


def custom_fields_for(session: Session, record_type: str) -> list[CustomField]:
    return list(
        session.scalars(
            select(CustomField)
            .where(CustomField.record_type == record_type)
            .order_by(CustomField.position, CustomField.id)
        )
    )


def write_outbox(
    session: Session,
    entity: str,
    entity_id: int,
    action: str,
    *,
    payload: dict[str, Any] | None = None,
) -> None:
    """The services' name for ``crm.outbox.write`` (one INSERT in the caller's transaction)."""
    outbox.write(session, entity, entity_id, action, payload)


def make_dependents_private(session: Session, record: object, actor: User | None = None) -> None:
    """A partner or deal made private takes its deals and activities with it.

    A shared deal of a private partner would show the partner's name to the whole team (on the
    deal's page, in lists, in the mail filed to it); new records on a private parent are made
    private by ``resolve_scope``, and this keeps the same true when the parent turns private
    later. Their salespeople keep seeing them (``visible``: a private record is its
    salesperson's and its managers'). Each changed record gets an outbox entry.
    """
    hanging: list[tuple[str, Any, ColumnElement[bool]]] = []
    if isinstance(record, Partner):
        hanging = [
            ("deal", Deal, Deal.partner_id == record.id),
            ("activity", Activity, Activity.partner_id == record.id),
        ]
    elif isinstance(record, Deal):
        hanging = [("activity", Activity, Activity.deal_id == record.id)]
    for entity, model, condition in hanging:
        ids = list(session.scalars(select(model.id).where(condition, model.private.is_(False))))
        if isinstance(record, Partner) and model is Activity:
            ids += list(
                session.scalars(
                    select(Activity.id).where(
                        Activity.private.is_(False),
                        Activity.deal_id.in_(select(Deal.id).where(Deal.partner_id == record.id)),
                        Activity.id.not_in(ids),
                    )
                )
            )
        if not ids:
            continue
        # A bulk UPDATE bypasses version_id_col: bump the versions here (issue 9 §6).
        session.execute(
            update(model)
            .where(model.id.in_(ids))
            .values(private=True, version=model.version + 1)
            .execution_options(synchronize_session="fetch")
        )
        for entity_id in ids:
            write_outbox(session, entity, entity_id, "update", payload={"fields": ["private"]})
            audit.record(session, actor, "update", entity, entity_id, {"private": (False, True)})
        outbox.visibility_changed(session, entity, ids, ["private"])


def codebook_filter(column: Any, codebook: str) -> Filter:
    return lambda session, raw: column == codebook_entry(session, codebook, raw).id


def int_filter(column: Any) -> Filter:
    def build(_session: Session, raw: str) -> ColumnElement[bool]:
        if not is_small_number(raw):
            raise ValueError("must be a whole number")
        return column == int(raw)

    return build


def choice_filter(column: Any, choices: Sequence[str]) -> Filter:
    def build(_session: Session, raw: str) -> ColumnElement[bool]:
        if raw not in choices:
            raise ValueError("must be one of " + ", ".join(choices))
        return column == raw

    return build


def bool_filter(column: Any) -> Filter:
    def build(_session: Session, raw: str) -> ColumnElement[bool]:
        if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError("must be true or false")
        return column.is_(raw.lower() in ("true", "1", "yes"))

    return build


def date_filter(column: Any, op: str) -> Filter:
    def build(_session: Session, raw: str) -> ColumnElement[bool]:
        day = parse_date(raw)
        return (column >= day) if op == ">=" else (column <= day)

    return build


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def audit_value(value: Any) -> Any:
    """A value as the audit log keeps it: JSON-able, decimals as exact strings, "" as None."""
    if value == "":
        return None
    if isinstance(value, Decimal):
        return str(value)
    return jsonable(value)


def field_changes(record: object, values: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{field: (old, new)}`` for each value that differs from the record (before setattr).

    Custom fields count one by one as ``custom.<key>``; internal values (``_x``) are not fields,
    and blank to blank (None to "") is no change.
    The audit log and the outbox payload both read it.
    """
    changes: dict[str, tuple[Any, Any]] = {}
    for key, value in values.items():
        if key.startswith("_"):
            continue
        old = getattr(record, key, None)
        if key == "custom":
            old_custom, new_custom = dict(old or {}), dict(value or {})
            for name in sorted(old_custom.keys() | new_custom.keys()):
                before, after = old_custom.get(name), new_custom.get(name)
                if before != after and not (_blank(before) and _blank(after)):
                    changes["custom." + name] = (audit_value(before), audit_value(after))
        elif old != value and not (_blank(old) and _blank(value)):
            changes[key] = (audit_value(old), audit_value(value))
    return changes


def _blank(value: Any) -> bool:
    """None, "" and an empty list are all "nothing": a form saved empty changes nothing."""
    return value is None or value == "" or value == [] or value == {}


def also_created(session: Session, actor: User, values: Mapping[str, Any]) -> None:
    """Records a write made on the side (an activity's follow-up task) get their own audit and
    outbox entries."""
    for record_type, record_id in values.get("_also_created", ()):
        write_outbox(session, record_type, record_id, "create", payload={"follow_up": True})
        audit.record(session, actor, "create", record_type, record_id)


class RecordService(Generic[T]):
    model: ClassVar[type[Any]]
    record_type: ClassVar[str]
    fields: ClassVar[tuple[FieldSpec, ...]]
    filters: ClassVar[dict[str, Filter]] = {}
    sort_keys: ClassVar[dict[str, Any]] = {}
    default_sort: ClassVar[str] = "-id"
    # Names shown in lists and the timeline.
    title_attr: ClassVar[str] = "name"

    # -- reading -------------------------------------------------------------------------
    def get(self, session: Session, actor: User, record_id: int) -> T:
        return load_visible(session, actor, self.model, record_id)

    def base_query(self, actor: User) -> Select[Any]:
        return select(self.model).where(visible(actor, self.model))

    def filtered(
        self, session: Session, actor: User, filters: Mapping[str, str]
    ) -> tuple[Select[Any], dict[str, str]]:
        """The records ``actor`` sees that match ``filters`` (a list's query arguments), and
        what is wrong with any filter (name -> message)."""
        stmt = self.base_query(actor)
        errors: dict[str, str] = {}
        custom = {cf.key: cf for cf in custom_fields_for(session, self.record_type)}
        for name, raw in filters.items():
            try:
                if name in self.filters:
                    stmt = stmt.where(self.filters[name](session, raw))
                elif name.startswith("custom.") and name[7:] in custom:
                    stmt = stmt.where(self._custom_filter(session, custom[name[7:]], raw))
                else:
                    errors[name] = NOT_A_FILTER
            except ValueError as exc:
                errors[name] = message(exc)
        return stmt, errors

    def list(self, session: Session, actor: User, query: ListQuery) -> Page[T]:
        stmt, errors = self.filtered(session, actor, query.filters)
        custom = {cf.key: cf for cf in custom_fields_for(session, self.record_type)}
        order = self._order(query.sort or self.default_sort, custom)
        if order is None:
            errors["sort"] = Text(N_("cannot sort by %(key)s"), key=query.sort)
        if errors:
            raise ValidationError(errors)
        assert order is not None
        # The page's ids first, from the table alone; then those rows with what they show
        # (eager joins). Joining every candidate row before the sort cost more than the sort.
        ids = list(
            session.scalars(
                stmt.with_only_columns(self.model.id)
                .order_by(*order)
                .limit(query.per_page)
                .offset((query.page - 1) * query.per_page)
            )
        )
        found = {
            row.id: row
            for row in session.scalars(select(self.model).where(self.model.id.in_(ids))).unique()
        }
        rows = [found[i] for i in ids if i in found]
        if query.with_total:
            total = (
                session.scalar(
                    select(func.count()).select_from(
                        stmt.with_only_columns(self.model.id).order_by(None).subquery()
                    )
                )
                or 0
            )
        else:
            total = (query.page - 1) * query.per_page + len(rows)
        return Page(rows, total, query.page, query.per_page)

    def _custom_filter(self, session: Session, cf: CustomField, raw: str) -> ColumnElement[bool]:
        element = self.model.custom[cf.key]
        if cf.field_type == "codebook":
            assert cf.codebook
            return element.as_integer() == codebook_entry(session, cf.codebook, raw).id
        if cf.field_type == "number":
            try:
                return element.as_float() == float(raw)
            except ValueError as exc:
                raise ValueError("must be a number") from exc
        if cf.field_type == "date":
            return element.as_string() == parse_date(raw).isoformat()
        return func.lower(element.as_string()) == raw.strip().lower()

    def _order(self, sort: str, custom: Mapping[str, CustomField]) -> builtins.list[Any] | None:
        """ORDER BY for ``sort``: keys separated by commas ("done,due_date"), each ascending or
        with "-" descending; None for a key this service does not sort by."""
        order: builtins.list[Any] = []
        descending = False
        for part in sort.split(",")[:3]:
            key, descending = (part[1:], True) if part.startswith("-") else (part, False)
            if key in self.sort_keys:
                column = self.sort_keys[key]
                if isinstance(column, tuple):  # e.g. currency first: values never mix
                    *leading, column = column
                    order.extend(c.asc() for c in leading)
            elif key == "id":
                column = self.model.id
            elif key.startswith("custom.") and key[7:] in custom:
                column = self.model.custom[key[7:]].as_string()
            else:
                return None
            # Empty values last either way: undated notes must not bury the next due task.
            order.append((column.desc() if descending else column.asc()).nulls_last())
        return [*order, self.model.id.desc() if descending else self.model.id.asc()]

    # -- writing -------------------------------------------------------------------------
    def parse(self, session: Session, data: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
        return parse_input(
            session,
            self.fields,
            data,
            partial=partial,
            custom_fields=custom_fields_for(session, self.record_type),
        )

    def prepare(
        self, session: Session, actor: User, values: dict[str, Any], record: T | None
    ) -> dict[str, Any]:
        """Entity rules on validated values; raise ValidationError to refuse."""
        return values

    def after_write(self, session: Session, record: T, values: dict[str, Any]) -> None:
        """Entity work after the row has its id (child rows)."""

    def create(self, session: Session, actor: User, data: Mapping[str, Any]) -> T:
        values = self.prepare(session, actor, self.parse(session, data, partial=False), None)
        record = self.model(**{k: v for k, v in values.items() if not k.startswith("_")})
        if hasattr(record, "updated_by_id"):
            record.updated_by_id = actor.id
        session.add(record)
        session.flush()
        self.after_write(session, record, values)
        created = field_changes(None, values)
        write_outbox(
            session, self.record_type, record.id, "create", payload={"fields": sorted(created)}
        )
        audit.record(session, actor, "create", self.record_type, record.id, created)
        also_created(session, actor, values)
        return record

    def update(
        self,
        session: Session,
        actor: User,
        record_id: int,
        data: Mapping[str, Any],
        *,
        partial: bool = True,
        expected_version: int | None = None,
    ) -> T:
        record = self.get(session, actor, record_id)
        was_private = getattr(record, "private", None)
        values = self.prepare(session, actor, self.parse(session, data, partial=partial), record)
        # bad input is reported first (422): a stale version (412) is for a save that would do
        self.check_version(session, record, expected_version)
        if partial and "custom" in values:
            merged = {**(record.custom or {}), **values["custom"]}  # type: ignore[attr-defined]
            values["custom"] = {k: v for k, v in merged.items() if v is not None}
        changes = field_changes(record, values)
        for key, value in values.items():
            if not key.startswith("_"):
                setattr(record, key, value)
        record.updated_by_id = actor.id  # type: ignore[attr-defined]
        self.flush_versioned(session, record)
        self.after_write(session, record, values)
        record_id = record.id  # type: ignore[attr-defined]
        if changes:  # a save that changed nothing tells the readers nothing
            write_outbox(
                session, self.record_type, record_id, "update", payload={"fields": sorted(changes)}
            )
        audit.record(session, actor, "update", self.record_type, record_id, changes)
        also_created(session, actor, values)
        if outbox.VISIBILITY_FIELDS & changes.keys():
            outbox.visibility_changed(
                session, self.record_type, [record_id], outbox.VISIBILITY_FIELDS & changes.keys()
            )
        if was_private is False and getattr(record, "private", False):
            make_dependents_private(session, record, actor)
        return record

    def delete(
        self,
        session: Session,
        actor: User,
        record_id: int,
        *,
        expected_version: int | None = None,
    ) -> None:
        record = self.get(session, actor, record_id)
        self.check_version(session, record, expected_version)
        self.check_delete(session, actor, record)
        gone = {self.title_attr: (audit_value(getattr(record, self.title_attr, None)), None)}
        # what follows the record's visibility (a partner's persons, the mail filed to it)
        # learns it is gone
        outbox.visibility_changed(session, self.record_type, [record_id], ["deleted"])
        if isinstance(record, Trashable):  # to the trash: an admin may restore it (crm.trash)
            record.deleted_at = utcnow()
            record.deleted_by_id = actor.id
        else:
            session.delete(record)
        self.flush_versioned(session, record)
        write_outbox(session, self.record_type, record_id, "delete")
        audit.record(session, actor, "delete", self.record_type, record_id, gone)

    # -- versions (issue 9 §6) -----------------------------------------------------------
    def check_version(self, session: Session, record: T, expected_version: int | None) -> None:
        """Refuse early when the caller's version is already outdated (the UPDATE's own
        ``WHERE version =`` still decides a race: see ``flush_versioned``)."""
        if expected_version is not None and record.version != expected_version:  # type: ignore[attr-defined]
            raise self.stale(session, record)

    def stale(self, session: Session, record: T) -> StaleRecord:
        updated_by_id = getattr(record, "updated_by_id", None)
        user = session.get(User, updated_by_id) if updated_by_id else None
        return StaleRecord(
            STALE,
            record=record,
            current=self.as_dict(record),
            updated_by=user.name if user else None,
            updated_at=getattr(record, "updated_at", None),
        )

    def flush_versioned(self, session: Session, record: T) -> None:
        """Flush; when another transaction saved the record first, the ``UPDATE ... WHERE id =
        :id AND version = :v`` matches no row (StaleDataError). The unit of work cannot go on
        then: it is rolled back (nothing of it is written) and the caller learns what is saved
        now, read in the session's next transaction."""
        try:
            session.flush()
        except StaleDataError as exc:
            session.rollback()
            try:
                session.refresh(record)
            except ObjectDeletedError as gone:
                raise NotFound("the record was deleted meanwhile") from gone
            raise self.stale(session, record) from exc

    def check_delete(self, session: Session, actor: User, record: T) -> None:
        """Deleting takes a record from its salesperson: the ``may_assign`` rule decides."""
        if isinstance(record, Scoped) and not may_assign(actor, record):
            raise PermissionDenied(NOT_YOURS_TO_DELETE)

    def similar(self, session: Session, actor: User, data: Mapping[str, Any]) -> builtins.list[T]:
        """Records ``actor`` sees that the new record described by ``data`` (raw form or
        JSON input) may duplicate; a form asks before it creates another. None by default."""
        return []

    def locked_fields(self, actor: User, record: T | None) -> frozenset[str]:
        """Fields ``actor`` sees on ``record`` but may not change (forms show them read-only)."""
        if isinstance(record, Scoped) and not may_assign(actor, record):
            return frozenset(SCOPE_NAMES)
        return frozenset()

    # -- output --------------------------------------------------------------------------
    def as_dict(self, record: T) -> dict[str, Any]:
        out: dict[str, Any] = {"id": record.id}  # type: ignore[attr-defined]
        for spec in self.fields:
            value = getattr(record, spec.attr)
            if spec.kind == "codebook":
                entry = getattr(record, spec.name)
                out[spec.name] = entry.label if entry else None
                out[spec.attr] = value
            else:
                out[spec.name] = jsonable(value)
        if hasattr(record, "custom"):
            out["custom"] = dict(record.custom or {})
        for stamp in ("created_at", "updated_at"):
            if hasattr(record, stamp):
                out[stamp] = jsonable(getattr(record, stamp))
        if hasattr(record, "version"):
            out["version"] = record.version
        return out

    def title_of(self, record: T) -> str:
        return str(getattr(record, self.title_attr))


SCOPE_FIELDS = (
    FieldSpec("group_id", "Group", "ref", help="Sales team the record belongs to"),
    FieldSpec("salesperson_id", "Salesperson", "ref"),
    FieldSpec("private", "Private", "bool", help="Only the salesperson and managers see it"),
)


def resolve_scope(
    session: Session,
    actor: User,
    values: dict[str, Any],
    record: Scoped | None,
    inherit: Scoped | None = None,
) -> None:
    """Fill and check group, salesperson, private flag and owner company of a scoped record.

    Every write of a partner, deal or activity (API, forms, import, deal actions) comes here.
    New records take the parent's scope (``inherit``: a deal's partner, an activity's deal),
    else the actor's first group and the actor as salesperson; the creator may put it into one
    of their own groups and give it to a member of that group. On an existing record only a
    ``may_assign`` user may change any of the three, and the result must hold the same rules.
    Refusals are field errors (422), so a form shows them beside the field.
    """
    errors: dict[str, str] = {}
    if record is None:
        if values.get("group_id") is None:
            values["group_id"] = (
                inherit.group_id if inherit else (actor.group_ids[0] if actor.group_ids else None)
            )
        if values.get("salesperson_id") is None:
            values["salesperson_id"] = actor.id
        if inherit is not None and inherit.private:
            # What hangs on a private deal or partner would otherwise reveal it.
            values["private"] = True
    else:
        changed = [k for k in SCOPE_NAMES if k in values and values[k] != getattr(record, k)]
        if changed and not may_assign(actor, record):
            raise ValidationError(dict.fromkeys(changed, NOT_YOURS))
        if inherit is not None and inherit.private and not values.get("private", record.private):
            # Moved onto a private partner or deal, or made shared while it is private: what
            # hangs on a private record stays private (see make_dependents_private).
            values["private"] = True
    group_id = values["group_id"] if "group_id" in values else getattr(record, "group_id", None)
    group_changed = "group_id" in values and (record is None or group_id != record.group_id)
    if group_changed:
        group = session.get(Group, group_id) if group_id is not None else None
        if group_id is not None and group is None:
            errors["group_id"] = N_("no such group")
        elif not assignable_group(actor, group_id):
            errors["group_id"] = "you can only assign records to your own groups"
        else:
            values["owner_company_id"] = group.owner_company_id if group else None
    salesperson_id = values.get("salesperson_id")
    if "salesperson_id" in values and (record is None or salesperson_id != record.salesperson_id):
        if salesperson_id is None:
            if not actor.is_admin:
                errors["salesperson_id"] = "is required"
        else:
            try:
                salesperson = active_user(session, salesperson_id)
            except ValueError as exc:
                errors["salesperson_id"] = message(exc)
            else:
                if not may_be_salesperson(actor, salesperson, group_id):
                    errors["salesperson_id"] = NOT_IN_GROUP
    elif group_changed and "group_id" not in errors and record is not None:
        current = session.get(User, record.salesperson_id) if record.salesperson_id else None
        if current is not None and not may_be_salesperson(actor, current, group_id):
            errors["group_id"] = SALESPERSON_ELSEWHERE
    if errors:
        raise ValidationError(errors)


def scope_dict(record: Scoped) -> dict[str, Any]:
    salesperson = getattr(record, "salesperson", None)
    group = getattr(record, "group", None)
    return {
        "salesperson": salesperson.name if salesperson else None,
        "group": group.name if group else None,
        "owner_company_id": record.owner_company_id,
    }


def entry_label(session: Session, entry_id: int | None) -> str | None:
    if entry_id is None:
        return None
    entry = session.get(CodebookEntry, entry_id)
    return entry.label if entry else None


def visible_ref(
    session: Session, actor: User, model: type[T], field_name: str, record_id: Any
) -> T:
    """A referenced record (a deal's partner, an activity's deal) that the actor may see.

    A missing or invisible one is a field error, so a form shows it next to the field.
    """
    try:
        return load_visible(session, actor, model, int(record_id))
    except (TypeError, ValueError) as exc:
        raise ValidationError({field_name: "must be an id"}) from exc
    except NotFound as exc:
        raise ValidationError({field_name: f"no such {model.__name__.lower()}"}) from exc
