"""Contact persons of a partner; they follow their partner's visibility and ownership.

Whoever sees the partner may add and edit its people; deleting one or moving one to another
partner is for those who may reassign the partner (``crm.permissions.may_assign``).

A person's name is stored in parts (titles, first name, last name; crm.person_names) and
``name`` is the display name made from them. Input may give the parts or, as before, ``name``
alone, which is split the way the migration split existing names; given both, the parts win.
An empty salutation is filled with the suggestion of crm.vocative on save.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from crm.errors import ValidationError
from crm.fields import FieldSpec
from crm.models import Partner, Person, User, column_length
from crm.permissions import may_assign
from crm.person_names import NameParts, display_name, split_name
from crm.services.records import RecordService, int_filter, visible_ref
from crm.text import N_, fold, folded_key
from crm.vocative import suggest_salutation

NAME_PARTS = ("title_before", "first_name", "last_name", "title_after")
NAME_LENGTH = column_length(Person, "name")  # the longest parts with their spaces and comma fit
SALUTATION_LENGTH = column_length(Person, "salutation")

NOT_YOURS_TO_MOVE = N_(
    "only the partner's salesperson, a manager of its group or an administrator may move its people"
)

NAME_KEY = column_length(Person, "name_key")
LAST_NAME_KEY = column_length(Person, "last_name_key")


def name_filter(_session: Session, raw: str) -> ColumnElement[bool]:
    return Person.name_key.contains(fold(raw), autoescape=True)


def missing_name_field(data: Mapping[str, Any]) -> str:
    """Where "a name is required" is reported: ``name`` to a client that sends the name whole
    (the API before name parts), ``last_name`` to one that sends parts (the form)."""
    return "name" if "name" in data and not any(k in data for k in NAME_PARTS) else "last_name"


class PersonService(RecordService[Person]):
    model = Person
    record_type = "person"
    fields = (
        FieldSpec("partner_id", "Partner", "ref", required=True),
        FieldSpec("title_before", "Title before", max_length=50, help="Ing., Mgr., doc. Ing."),
        FieldSpec("first_name", "First name", max_length=100),
        FieldSpec("last_name", "Last name", max_length=200),
        FieldSpec("title_after", "Title after", max_length=50, help="Ph.D., CSc., MBA"),
        FieldSpec("name", "Name", max_length=200),
        FieldSpec(
            "salutation",
            "Salutation",
            max_length=200,
            help="In letters and mail, e.g. Vážený pane Dvořáku; left empty, it is suggested",
        ),
        FieldSpec("function", "Function", max_length=200),
        FieldSpec("emails", "Emails", "list", item="email", max_length=254),
        FieldSpec("phones", "Phones", "list", item="phone", max_length=30),
        FieldSpec("birthday", "Birthday", "date"),
        FieldSpec("notes", "Notes", "text", max_length=20000),
    )
    filters = {"q": name_filter, "partner_id": int_filter(Person.partner_id)}
    sort_keys = {
        "name": Person.last_name_key,
        "last_name": Person.last_name_key,
        "function": Person.function,
        "created_at": Person.created_at,
    }
    default_sort = "name"

    def parse(self, session: Session, data: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
        """A new person needs a name, given whole or in parts: reported with the other errors."""
        named = any(isinstance(data.get(k), str) and data[k].strip() for k in ("last_name", "name"))
        missing = missing_name_field(data)
        try:
            values = super().parse(session, data, partial=partial)
        except ValidationError as exc:
            if not partial and not named:
                exc.errors.setdefault(missing, "is required")
            raise
        if not partial and not named:
            raise ValidationError({missing: "is required"})
        return values

    def prepare(
        self, session: Session, actor: User, values: dict[str, Any], record: Person | None
    ) -> dict[str, Any]:
        if "partner_id" in values and (record is None or values["partner_id"] != record.partner_id):
            if record is not None and not may_assign(actor, record.partner):
                # Moving a person takes them from the partner's people, as deleting would.
                raise ValidationError({"partner_id": NOT_YOURS_TO_MOVE})
            visible_ref(session, actor, Partner, "partner_id", values["partner_id"])
        values = self._name(values, record)
        if values.get("birthday") and values["birthday"].year < 1900:
            raise ValidationError({"birthday": "is out of range"})
        return values

    def _name(self, values: dict[str, Any], record: Person | None) -> dict[str, Any]:
        """The parts, the display name, its keys and the salutation (see the module docstring).

        A last name given wins; else a whole name given is split (and parts given beside it
        override its pieces); else a change keeps the record's parts, changing those given.
        """
        given = {k: values[k] for k in NAME_PARTS if k in values}
        current = {k: getattr(record, k) if record else "" for k in NAME_PARTS}
        whole = values.get("name") or ""
        if given.get("last_name"):
            parts = NameParts(**{**current, **given})
        elif whole.strip():
            pieces = split_name(whole)
            parts = NameParts(**{k: given.get(k) or getattr(pieces, k) for k in NAME_PARTS})
        elif record is not None and "name" not in values and "last_name" not in values:
            if not given:
                return values
            parts = NameParts(**{**current, **given})
        else:
            raise ValidationError({missing_name_field(values): "is required"})
        if not parts.last_name:
            raise ValidationError({missing_name_field(values): "is required"})
        name = display_name(parts)
        if len(name) > NAME_LENGTH:  # the parts' own limits keep it shorter
            raise ValidationError({"last_name": "the whole name is too long"})
        values.update(
            {k: getattr(parts, k) for k in NAME_PARTS},
            name=name,
            name_key=folded_key(name, NAME_KEY),
            last_name_key=folded_key(f"{parts.last_name} {parts.first_name}", LAST_NAME_KEY),
        )
        salutation = values.get("salutation", record.salutation if record else "")
        if not salutation:
            suggested = suggest_salutation(parts)
            # a name longer than any real one gets no suggestion rather than a cut one
            values["salutation"] = suggested if len(suggested) <= SALUTATION_LENGTH else ""
        return values

    def check_delete(self, session: Session, actor: User, record: Person) -> None:
        super().check_delete(session, actor, record.partner)  # type: ignore[arg-type]

    def as_dict(self, record: Person) -> dict[str, Any]:
        out = super().as_dict(record)
        out["partner"] = record.partner.name
        return out


persons = PersonService()
