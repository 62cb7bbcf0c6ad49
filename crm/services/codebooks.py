"""Codebooks (the value lists behind kind, region, industry, stage, ...) and custom fields."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.errors import NotFound, ValidationError
from crm.fields import parse_int
from crm.models import (
    CODEBOOKS,
    CUSTOM_FIELD_TYPES,
    RECORD_TYPES,
    CodebookEntry,
    CustomField,
    User,
    column_length,
)
from crm.permissions import require_role
from crm.services import maildomains
from crm.text import N_

SHIPPED = Path(__file__).resolve().parent.parent / "data" / "codebooks.toml"
TRANSLATED = ("en", "cs", "sk", "pl")  # the languages an entry may have a label in
LABEL_LENGTH = column_length(CodebookEntry, "label")  # a label per language is held as long


@dataclass(frozen=True)
class ShippedEntry:
    """An entry every new database starts with (crm/data/codebooks.toml)."""

    label: str
    labels: dict[str, str]
    probability: int | None = None


def shipped_entries() -> dict[str, list[ShippedEntry]]:
    """The shipped codebooks, entry by entry in their order; the public mail domains too."""
    with SHIPPED.open("rb") as fh:
        data = tomllib.load(fh)
    out = {
        codebook: [
            ShippedEntry(
                str(item["label"]),
                {lang: str(item[lang]) for lang in TRANSLATED if item.get(lang)},
                item.get("probability"),
            )
            for item in items
        ]
        for codebook, items in data.items()
    }
    out["public_mail_domain"] = [ShippedEntry(d, {}) for d in maildomains.SHIPPED]
    return out


KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")


def seed_codebooks(session: Session) -> None:
    """Add the shipped entries to codebooks that are still empty (idempotent)."""
    for codebook, shipped in shipped_entries().items():
        if session.scalar(select(func.count()).where(CodebookEntry.codebook == codebook)):
            continue
        for position, item in enumerate(shipped):
            session.add(
                CodebookEntry(
                    codebook=codebook,
                    label=item.label,
                    labels=item.labels,
                    position=position,
                    probability=item.probability,
                )
            )
    session.flush()


def codebook_names(session: Session) -> dict[str, str]:
    names = dict(CODEBOOKS)
    for (name,) in session.execute(select(CodebookEntry.codebook).distinct()):
        names.setdefault(name, name.replace("_", " ").capitalize())
    return names


def entries(
    session: Session, codebook: str, *, include_inactive: bool = False
) -> list[CodebookEntry]:
    stmt = select(CodebookEntry).where(CodebookEntry.codebook == codebook)
    if not include_inactive:
        stmt = stmt.where(CodebookEntry.active.is_(True))
    return list(session.scalars(stmt.order_by(CodebookEntry.position, CodebookEntry.id)))


def _labels(
    data: dict[str, Any], current: dict[str, str], errors: dict[str, str]
) -> dict[str, str]:
    """The labels per language given as ``label_<language>`` (blank: that language reads the
    entry's own label), merged into ``current``."""
    labels = dict(current)
    for language in TRANSLATED:
        key = f"label_{language}"
        if key not in data:
            continue
        text = str(data[key] or "").strip()
        if len(text) > LABEL_LENGTH:
            errors[key] = N_("must be at most 200 characters")
        elif text:
            labels[language] = text
        else:
            labels.pop(language, None)
    return labels


def add_entry(session: Session, actor: User, codebook: str, data: dict[str, Any]) -> CodebookEntry:
    require_role(actor, "admin")
    errors: dict[str, str] = {}
    if not KEY_RE.match(codebook):
        errors["codebook"] = "must be lower-case letters, digits and _"
    label = str(data.get("label") or "").strip()
    if not label or len(label) > 200:
        errors["label"] = "must be 1 to 200 characters"
    elif session.scalar(
        select(CodebookEntry.id).where(
            CodebookEntry.codebook == codebook, func.lower(CodebookEntry.label) == label.lower()
        )
    ):
        errors["label"] = "this codebook has such an entry"
    probability = None
    if data.get("probability") not in (None, ""):
        try:
            probability = parse_int(data["probability"])
            if not 0 <= probability <= 100:
                raise ValueError
        except ValueError:
            errors["probability"] = "must be a whole number from 0 to 100"
    labels = _labels(data, {}, errors)
    if errors:
        raise ValidationError(errors)
    position = session.scalar(
        select(func.coalesce(func.max(CodebookEntry.position), -1) + 1).where(
            CodebookEntry.codebook == codebook
        )
    )
    entry = CodebookEntry(
        codebook=codebook,
        label=label,
        labels=labels,
        position=position or 0,
        probability=probability,
    )
    session.add(entry)
    session.flush()
    return entry


def update_entry(
    session: Session, actor: User, entry_id: int, data: dict[str, Any]
) -> CodebookEntry:
    """Rename (``label``, and ``label_<language>`` for what users of a language read), retire
    (active false: kept on old records, offered no more) or reposition."""
    require_role(actor, "admin")
    entry = session.get(CodebookEntry, entry_id)
    if entry is None:
        raise NotFound(f"codebook entry {entry_id} not found")
    errors: dict[str, str] = {}
    if "label" in data:
        label = str(data["label"] or "").strip()
        if not label or len(label) > 200:
            errors["label"] = "must be 1 to 200 characters"
        elif session.scalar(
            select(CodebookEntry.id).where(
                CodebookEntry.codebook == entry.codebook,
                CodebookEntry.id != entry.id,
                func.lower(CodebookEntry.label) == label.lower(),
            )
        ):
            errors["label"] = "this codebook has such an entry"
        else:
            entry.label = label
    if "position" in data:
        try:
            entry.position = parse_int(data["position"])
        except ValueError:
            errors["position"] = "must be a whole number"
    if "active" in data:
        entry.active = bool(data["active"])
    labels = _labels(data, entry.labels or {}, errors)
    if errors:
        raise ValidationError(errors)
    if labels != (entry.labels or {}):
        entry.labels = labels  # a new dict: the JSON column sees the change
    session.flush()
    return entry


def custom_fields(session: Session, record_type: str | None = None) -> list[CustomField]:
    stmt = select(CustomField).order_by(
        CustomField.record_type, CustomField.position, CustomField.id
    )
    if record_type:
        stmt = stmt.where(CustomField.record_type == record_type)
    return list(session.scalars(stmt))


def add_custom_field(session: Session, actor: User, data: dict[str, Any]) -> CustomField:
    require_role(actor, "admin")
    errors: dict[str, str] = {}
    record_type = data.get("record_type")
    key = str(data.get("key") or "").strip()
    label = str(data.get("label") or "").strip()
    field_type = data.get("field_type")
    codebook = str(data.get("codebook") or "").strip() or None
    if record_type not in RECORD_TYPES:
        errors["record_type"] = "must be one of " + ", ".join(RECORD_TYPES)
    if not KEY_RE.match(key):
        errors["key"] = "must start with a letter; lower-case letters, digits and _ only"
    elif session.scalar(
        select(CustomField.id).where(CustomField.record_type == record_type, CustomField.key == key)
    ):
        errors["key"] = "this record type has a field with this key"
    if not label or len(label) > 200:
        errors["label"] = "must be 1 to 200 characters"
    if field_type not in CUSTOM_FIELD_TYPES:
        errors["field_type"] = "must be one of " + ", ".join(CUSTOM_FIELD_TYPES)
    if field_type == "codebook":
        if codebook is None or not KEY_RE.match(codebook):
            errors["codebook"] = "name the codebook the values come from"
        elif codebook not in codebook_names(session):
            errors["codebook"] = "no such codebook; add an entry to it first"
    else:
        codebook = None
    if errors:
        raise ValidationError(errors)
    field = CustomField(
        record_type=record_type,
        key=key,
        label=label,
        field_type=field_type,
        codebook=codebook,
        required=bool(data.get("required")),
        position=len(custom_fields(session, record_type)),
    )
    session.add(field)
    session.flush()
    return field


def delete_custom_field(session: Session, actor: User, field_id: int) -> None:
    """Removes the field from forms and lists; values already stored stay in the records."""
    require_role(actor, "admin")
    field = session.get(CustomField, field_id)
    if field is None:
        raise NotFound(f"custom field {field_id} not found")
    session.delete(field)


def set_probability(session: Session, actor: User, entry_id: int, value: Any) -> CodebookEntry:
    """Set a pipeline stage's default probability (0–100; blank clears it).

    New deals in that stage take it; other codebooks have no probability.
    """
    require_role(actor, "admin")
    entry = session.get(CodebookEntry, entry_id)
    if entry is None:
        raise NotFound(f"codebook entry {entry_id} not found")
    if entry.codebook != "deal_stage":
        raise ValidationError({"probability": "only pipeline stages have a probability"})
    probability = None
    if value not in (None, ""):
        try:
            probability = parse_int(value)
            if not 0 <= probability <= 100:
                raise ValueError("out of range")
        except ValueError as exc:
            raise ValidationError({"probability": "must be a whole number from 0 to 100"}) from exc
    entry.probability = probability
    session.flush()
    return entry
