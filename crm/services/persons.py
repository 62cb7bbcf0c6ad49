"""Contact persons of a partner; they follow their partner's visibility and ownership.

Whoever sees the partner may add and edit its people; deleting one or moving one to another
partner is for those who may reassign the partner (``crm.permissions.may_assign``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from crm.errors import ValidationError
from crm.fields import FieldSpec
from crm.models import Partner, Person, User
from crm.permissions import may_assign
from crm.services.records import RecordService, int_filter, visible_ref
from crm.text import N_, fold

NOT_YOURS_TO_MOVE = N_(
    "only the partner's salesperson, a manager of its group or an administrator may move its people"
)


def name_filter(_session: Session, raw: str) -> ColumnElement[bool]:
    return Person.name_key.contains(fold(raw), autoescape=True)


class PersonService(RecordService[Person]):
    model = Person
    record_type = "person"
    fields = (
        FieldSpec("partner_id", "Partner", "ref", required=True),
        FieldSpec("name", "Name", required=True, max_length=200),
        FieldSpec("function", "Function", max_length=200),
        FieldSpec("emails", "Emails", "list", item="email", max_length=254),
        FieldSpec("phones", "Phones", "list", item="phone", max_length=30),
        FieldSpec("birthday", "Birthday", "date"),
        FieldSpec("notes", "Notes", "text", max_length=20000),
    )
    filters = {"q": name_filter, "partner_id": int_filter(Person.partner_id)}
    sort_keys = {
        "name": Person.name_key,
        "function": Person.function,
        "created_at": Person.created_at,
    }
    default_sort = "name"

    def prepare(
        self, session: Session, actor: User, values: dict[str, Any], record: Person | None
    ) -> dict[str, Any]:
        if "partner_id" in values and (record is None or values["partner_id"] != record.partner_id):
            if record is not None and not may_assign(actor, record.partner):
                # Moving a person takes them from the partner's people, as deleting would.
                raise ValidationError({"partner_id": NOT_YOURS_TO_MOVE})
            visible_ref(session, actor, Partner, "partner_id", values["partner_id"])
        if "name" in values:
            values["name_key"] = fold(values["name"])
        if values.get("birthday") and values["birthday"].year < 1900:
            raise ValidationError({"birthday": "is out of range"})
        return values

    def check_delete(self, session: Session, actor: User, record: Person) -> None:
        super().check_delete(session, actor, record.partner)  # type: ignore[arg-type]

    def as_dict(self, record: Person) -> dict[str, Any]:
        out = super().as_dict(record)
        out["partner"] = record.partner.name
        return out


persons = PersonService()
