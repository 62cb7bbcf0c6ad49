"""A record's History section and the admin page /admin/audit: audit entries made readable.

Field names become the labels of the record type's field specs, references become names - but
only names of records the viewer may see: an id that points to a hidden partner, deal, person
or message is shown as "a record you cannot see", never by name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm.fields import FieldSpec
from crm.models import Activity, AuditEntry, CodebookEntry, Deal, Group, Partner, Person, User
from crm.permissions import visible
from crm.services.records import RecordService
from crm.text import N_
from mail_archive.models import Message
from web.i18n import date as local_date
from web.i18n import entry_label
from web.i18n import number as local_number
from web.views.common import form_specs

HISTORY_LIMIT = 200
# Referenced records by field, with the attribute that names them.
REFERENCES: dict[str, tuple[Any, str]] = {
    "partner_id": (Partner, "name"),
    "deal_id": (Deal, "title"),
    "person_id": (Person, "name"),
    "activity_id": (Activity, "title"),
    "message_id": (Message, "subject"),
}
USER_FIELDS = ("salesperson_id", "next_contact_assignee_id", "created_by_id")
# Fields that are not in the field specs, with their labels.
EXTRA_LABELS = {
    "owner_company_id": N_("Owner company"),
    "message_id": N_("Message"),
    "how": N_("How"),
    "address": N_("Address"),
    "email": N_("Email"),
    "raw": N_("Raw message"),
    "attachment": N_("Attachment"),
    "to": N_("To"),
    "subject": N_("Subject"),
    "status": N_("Status"),
    "probability": N_("Probability"),
    "close_reason_id": N_("Close reason"),
    "close_note": N_("Close note"),
}
# Record types the audit log names besides partner, person, deal and activity (for extraction;
# templates translate them with the ``t`` filter).
RECORD_TYPE_NAMES = (N_("message"), N_("user"))
ACTION_LABELS = {
    "create": N_("created"),
    "update": N_("changed"),
    "delete": N_("deleted"),
    "restore": N_("restored from the trash"),
    "purge": N_("removed from the trash for good"),
    "link": N_("linked a message"),
    "unlink": N_("unlinked a message"),
    "dismiss": N_("dismissed"),
    "file": N_("filed a message"),
    "send": N_("sent"),
    "download": N_("downloaded"),
    "sign-in": N_("signed in"),
    "sign-in-failed": N_("failed to sign in"),
}


@dataclass(frozen=True)
class Change:
    label: str
    old: str | None  # None: a new record's value, shown without an arrow
    new: str


@dataclass(frozen=True)
class Row:
    entry: AuditEntry
    action: str
    changes: list[Change]
    record_name: str | None = None


class Describer:
    """Turns entries into rows for one viewer; looks each referenced id up once."""

    def __init__(self, session: Session, viewer: User) -> None:
        self.session = session
        self.viewer = viewer
        self._names: dict[tuple[str, int], str | None] = {}
        self._specs: dict[str, dict[str, FieldSpec]] = {}

    def specs(self, record_type: str) -> dict[str, FieldSpec]:
        if record_type not in self._specs:
            service = SERVICES.get(record_type)
            specs = form_specs(service) if service else []
            self._specs[record_type] = {spec.attr: spec for spec in specs}
        return self._specs[record_type]

    def label(self, record_type: str, field: str) -> str:
        spec = self.specs(record_type).get(field)
        if spec is not None:
            return _(spec.label) if not field.startswith("custom.") else spec.label
        return _(EXTRA_LABELS[field]) if EXTRA_LABELS.get(field) else field

    def name(self, field: str, value: int) -> str | None:
        key = (field, value)
        if key not in self._names:
            self._names[key] = self._look_up(field, value)
        return self._names[key]

    def _look_up(self, field: str, value: int) -> str | None:
        if field in USER_FIELDS:
            user = self.session.get(User, value)
            return user.name if user else None
        if field == "group_id":
            group = self.session.get(Group, value)
            return group.name if group else None
        model, attr = REFERENCES[field]
        return self.session.scalar(
            select(getattr(model, attr)).where(model.id == value, visible(self.viewer, model))
        )

    def record_name(self, record_type: str, record_id: int | None) -> str | None:
        """The entry's record by name, when it still exists and the viewer sees it."""
        field = "created_by_id" if record_type == "user" else f"{record_type}_id"
        if record_id is None or (field not in REFERENCES and field not in USER_FIELDS):
            return None
        return self.name(field, record_id)

    def value(self, record_type: str, field: str, value: Any) -> str:
        if value is None or value == "" or value == []:
            return "—"
        spec = self.specs(record_type).get(field)
        kind = spec.kind if spec else ""
        if kind == "codebook" or field == "close_reason_id":
            entry = self.session.get(CodebookEntry, int(value)) if str(value).isdigit() else None
            return entry_label(entry) if entry else str(value)
        if isinstance(value, int) and (field in REFERENCES or field in USER_FIELDS):
            return self.name(field, value) or _("a record you cannot see")
        if field == "group_id" and isinstance(value, int):
            return self.name(field, value) or str(value)
        if kind == "decimal":
            try:
                return str(local_number(Decimal(str(value))))
            except InvalidOperation:
                return str(value)
        if kind == "choice" and isinstance(value, str):
            return str(_(value))
        if isinstance(value, bool):
            return str(_("yes") if value else _("no"))
        if kind == "date" and isinstance(value, str):
            try:
                return str(local_date(dt.date.fromisoformat(value)))
            except ValueError:
                return value
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return str(value)

    def row(self, entry: AuditEntry) -> Row:
        changes = []
        for field, pair in sorted((entry.changes or {}).items()):
            # search keys (name_key, title_key) are derived from the name: not for people
            if field.endswith("_key") or not isinstance(pair, list) or len(pair) != 2:
                continue
            old, new = pair
            shown_old = (
                None if entry.action == "create" else self.value(entry.record_type, field, old)
            )
            changes.append(
                Change(
                    self.label(entry.record_type, field),
                    shown_old,
                    self.value(entry.record_type, field, new),
                )
            )
        action = _(ACTION_LABELS.get(entry.action, entry.action))
        return Row(entry, action, changes, self.record_name(entry.record_type, entry.record_id))

    def rows(self, entries: Sequence[AuditEntry]) -> list[Row]:
        return [self.row(e) for e in entries]


def _services() -> dict[str, RecordService[Any]]:
    from crm.services.activities import activities
    from crm.services.deals import deals
    from crm.services.partners import partners
    from crm.services.persons import persons

    return {"partner": partners, "person": persons, "deal": deals, "activity": activities}


SERVICES = _services()


def history(session: Session, viewer: User, record_type: str, record_id: int) -> list[Row]:
    """The History section of a record the viewer has been shown (the caller loaded it)."""
    entries = audit.history(session, record_type, record_id, HISTORY_LIMIT)
    return Describer(session, viewer).rows(entries)
