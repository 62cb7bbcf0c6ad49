"""Field specs: one declaration per record type drives input parsing, output and forms.

The same spec parses a web form (strings, lists typed one per line or comma-separated) and a JSON
body (typed values), so the UI and the API accept and refuse exactly the same things. Errors are
collected per field and raised together as one ValidationError; nothing is written on error.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.errors import ValidationError
from crm.models import CodebookEntry, CustomField, User
from crm.text import Text, message

EMAIL_RE = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
DOMAIN_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
PHONE_RE = re.compile(r"^\+?[0-9 ()/.-]{3,30}$")
LIST_SPLIT_RE = re.compile(r"[,;\n\r]+")
ISO_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
CZECH_DATE_RE = re.compile(r"^[0-9]{1,2}\.\s?[0-9]{1,2}\.\s?[0-9]{4}$")
ISO_DATETIME_RE = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?$"
)
MAX_ID = 2**31 - 1  # ids are 32-bit on every backend


@dataclass(frozen=True)
class FieldSpec:
    """One input field. ``kind`` is one of: str, text, int, decimal, date, datetime, bool, choice,
    codebook (a value from the codebook named ``codebook``; stored as ``<name>_id``),
    list (of strings checked by ``item``: email, domain, phone or str) and ref (an id)."""

    name: str
    label: str
    kind: str = "str"
    required: bool = False
    max_length: int | None = None
    choices: Sequence[str] = ()
    codebook: str | None = None
    item: str = "str"
    minimum: float | None = None
    maximum: float | None = None
    help: str = ""
    default: Any = None
    # What ``clean`` lets through, as a regular expression for the API's description (so
    # clients learn the rule before they are refused; the schemathesis test checks the two agree).
    pattern: str | None = None
    # Record-type rule on the parsed value: returns it (possibly normalised) or raises ValueError.
    clean: Callable[[Any], Any] | None = None
    # A rule that reads the database, e.g. the editable list of public mail domains.
    clean_in: Callable[[Session, Any], Any] | None = None

    @property
    def attr(self) -> str:
        """The model attribute: ``<name>_id`` for a codebook field. Custom fields live in the
        record's ``custom`` dict under their key, whatever their type."""
        if self.kind == "codebook" and not self.name.startswith("custom."):
            return f"{self.name}_id"
        return self.name


@dataclass
class Parsed:
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def normalize_domain(raw: str) -> str:
    domain = raw.strip().lower().rstrip(".")
    if domain.startswith("@"):
        domain = domain[1:]
    try:
        ascii_form = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError("not a valid domain") from exc
    labels = ascii_form.split(".")
    if len(labels) < 2 or not all(DOMAIN_LABEL_RE.match(label) for label in labels):
        raise ValueError("not a valid domain")
    return domain


def _parse_item(kind: str, raw: str) -> str:
    value = raw.strip()
    if kind == "email":
        if not EMAIL_RE.match(value):
            raise ValueError(Text("“%(value)s” is not an email address", value=value))
        return value.lower() if value.isascii() else value
    if kind == "domain":
        try:
            return normalize_domain(value)
        except ValueError as exc:
            raise ValueError(Text("“%(value)s” is not a mail domain", value=value)) from exc
    if kind == "phone":
        if not PHONE_RE.match(value):
            raise ValueError(Text("“%(value)s” is not a phone number", value=value))
        return value
    return value


MAX_ITEMS = 50  # entries of a list field (phones, e-mails, mail domains)


def parse_list(spec: FieldSpec, value: Any) -> list[str]:
    if _blank(value):
        return []
    if isinstance(value, str):
        raw_items: Iterable[Any] = LIST_SPLIT_RE.split(value)
    elif isinstance(value, list | tuple):
        # a JSON list is counted as sent, blank entries too (its schema's maxItems); a form's
        # text may hold blank lines between its entries
        if len(value) > MAX_ITEMS:
            raise ValueError("at most 50 entries")
        raw_items = value
    else:
        raise ValueError("must be a list of strings")
    items: list[str] = []
    for raw in raw_items:
        if not isinstance(raw, str):
            raise ValueError("must be a list of strings")
        if raw.strip() == "":
            continue
        parsed = _parse_item(spec.item, raw)
        if spec.max_length and len(parsed) > spec.max_length:
            raise ValueError(
                Text(
                    "“%(value)s…” is longer than %(length)d characters",
                    value=parsed[:20],
                    length=spec.max_length,
                )
            )
        if parsed not in items:
            items.append(parsed)
    if len(items) > MAX_ITEMS:
        raise ValueError("at most 50 entries")
    return items


def parse_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise ValueError("must be a date (YYYY-MM-DD)")
    text = value.strip()
    # ISO 8601 exactly (RFC 3339 full-date, what JSON clients and <input type=date> send), or
    # the Czech way of typing one (1.2.2024, 1. 2. 2024); strptime alone would take 2024-1-5.
    if ISO_DATE_RE.match(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError("is not a day of the calendar") from None
    if CZECH_DATE_RE.match(text):
        day, month, year = (int(part) for part in re.split(r"\.\s?", text))
        try:
            return dt.date(year, month, day)
        except ValueError:
            raise ValueError("is not a day of the calendar") from None
    raise ValueError("must be a date (YYYY-MM-DD)")


def parse_datetime(value: Any, zone: dt.tzinfo | None = None) -> dt.datetime:
    """A moment from ISO 8601 with an offset (RFC 3339 date-time), returned in UTC.

    A value without an offset is read in ``zone`` when one is given (the web form passes the
    viewer's zone: <input type=datetime-local> sends local time) and refused otherwise: an API
    client must say which zone it means, since guessing would shift a meeting by hours.
    """
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str) and ISO_DATETIME_RE.match(value.strip()):
        try:
            moment = dt.datetime.fromisoformat(value.strip().replace("z", "Z"))
        except ValueError:
            raise ValueError("is not a moment of the calendar") from None
    else:
        raise ValueError("must be a date and time (YYYY-MM-DDTHH:MM:SS+01:00)")
    if moment.tzinfo is None:
        if zone is None:
            raise ValueError("must include a time zone offset (YYYY-MM-DDTHH:MM:SS+01:00)")
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(dt.UTC)


def parse_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("must be a number")
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))
    elif isinstance(value, str):
        text = value.strip().replace("\u00a0", "").replace(" ", "")
        if "," in text and "." not in text:
            text = text.replace(",", ".")
        try:
            number = Decimal(text)
        except InvalidOperation as exc:
            raise ValueError("must be a number") from exc
    else:
        raise ValueError("must be a number")
    if not number.is_finite():
        raise ValueError("must be a number")
    return number


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "on", "yes", "y"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "off", "no", "n", ""):
        return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError("must be true or false")


def parse_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("must be a whole number")
    if isinstance(value, int):
        if not -(2**63) < value < 2**63:
            raise ValueError("is out of range")
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?[0-9]{1,18}\s*", value):
        return int(value)
    raise ValueError("must be a whole number")


def codebook_entry(session: Session, codebook: str, value: Any) -> CodebookEntry:
    """An entry of ``codebook`` given by id, by label or by its label in a language
    (case-insensitive)."""
    if (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and value.strip().isascii() and value.strip().isdigit()
    ):
        if not 0 < int(value) <= MAX_ID:  # a larger id would overflow the query, not match
            raise ValueError("is not a value of this codebook")
        entry = session.get(CodebookEntry, int(value))
        if entry is not None and entry.codebook == codebook:
            return entry
        raise ValueError("is not a value of this codebook")
    if not isinstance(value, str):
        raise ValueError("must be a codebook value")
    wanted = value.strip().casefold()
    found = list(session.scalars(select(CodebookEntry).where(CodebookEntry.codebook == codebook)))
    # its own label first, then its label in any language ("Stavebnictví" from a Czech file)
    for entry in found:
        if entry.label.casefold() == wanted:
            return entry
    for entry in found:
        if any(name.casefold() == wanted for name in entry.names()):
            return entry
    raise ValueError(Text("“%(value)s” is not a value of this codebook", value=value.strip()[:50]))


def parse_value(session: Session, spec: FieldSpec, value: Any) -> Any:
    """One field's value from form or JSON input; ValueError says what is wrong."""
    if spec.kind == "list":
        return parse_list(spec, value)
    if spec.kind == "bool":
        return parse_bool(value)
    if _blank(value):
        if spec.required:
            raise ValueError("is required")
        if spec.default is not None:
            return spec.default
        return "" if spec.kind in ("str", "text") else None
    if spec.kind in ("str", "text"):
        if not isinstance(value, str):
            raise ValueError("must be text")
        text = value.strip() if spec.kind == "str" else value.replace("\r\n", "\n")
        if "\x00" in text:
            raise ValueError("contains a NUL character")
        if spec.max_length and len(text) > spec.max_length:
            raise ValueError(Text("is longer than %(length)d characters", length=spec.max_length))
        return text
    if spec.kind == "int" or spec.kind == "ref":
        number = parse_int(value)
        if spec.kind == "ref" and not 0 < number <= MAX_ID:
            raise ValueError("is not a valid id")
        if spec.minimum is not None and number < spec.minimum:
            raise ValueError(Text("must be at least %(number)s", number=f"{spec.minimum:g}"))
        if spec.maximum is not None and number > spec.maximum:
            raise ValueError(Text("must be at most %(number)s", number=f"{spec.maximum:g}"))
        return number
    if spec.kind == "decimal":
        dec = parse_decimal(value)
        if spec.minimum is not None and dec < Decimal(str(spec.minimum)):
            raise ValueError(Text("must be at least %(number)s", number=f"{spec.minimum:g}"))
        if abs(dec) >= Decimal("1e12"):
            raise ValueError("is too large")
        return dec.quantize(Decimal("0.01"))
    if spec.kind == "date":
        date = parse_date(value)
        if not 1900 <= date.year <= 2200:
            raise ValueError("is out of range")
        return date
    if spec.kind == "datetime":
        moment = parse_datetime(value)
        if not 1900 <= moment.year <= 2200:
            raise ValueError("is out of range")
        return moment
    if spec.kind == "choice":
        text = value.strip() if isinstance(value, str) else value
        if text not in spec.choices:
            raise ValueError("must be one of " + ", ".join(spec.choices))
        return text
    if spec.kind == "codebook":
        assert spec.codebook
        return codebook_entry(session, spec.codebook, value).id
    raise AssertionError(f"unknown field kind {spec.kind}")


def parse_input(
    session: Session,
    specs: Sequence[FieldSpec],
    data: Mapping[str, Any],
    *,
    partial: bool,
    custom_fields: Sequence[CustomField] = (),
) -> dict[str, Any]:
    """Validated attribute values from ``data``; raises ValidationError listing every bad field.

    With ``partial`` (PATCH), fields absent from ``data`` are left out; otherwise absent fields
    take their defaults and required ones are reported missing. Codebook fields accept either
    ``<name>`` (label or id) or ``<name>_id``.
    """
    result = Parsed()
    for spec in specs:
        key = spec.name
        if spec.kind == "codebook" and spec.attr in data and key not in data:
            key = spec.attr
        if key not in data:
            if partial:
                continue
            if spec.required:
                result.errors[spec.name] = "is required"
                continue
            result.values[spec.attr] = (
                spec.default
                if spec.default is not None
                else (
                    []
                    if spec.kind == "list"
                    else False
                    if spec.kind == "bool"
                    else ""
                    if spec.kind in ("str", "text")
                    else None
                )
            )
            continue
        try:
            value = parse_value(session, spec, data[key])
            value = spec.clean(value) if spec.clean else value
            result.values[spec.attr] = spec.clean_in(session, value) if spec.clean_in else value
        except ValueError as exc:
            result.errors[spec.name] = message(exc)
    if custom_fields:
        custom_in = _custom_input(data)
        if custom_in is not None or not partial:
            try:
                result.values["custom"] = parse_custom(
                    session, custom_fields, custom_in or {}, partial=partial
                )
            except ValidationError as exc:
                result.errors.update(exc.errors)
    elif "custom" in data and data["custom"] not in (None, {}):
        result.errors["custom"] = "no custom fields are defined for this record type"
    if result.errors:
        raise ValidationError(result.errors)
    return result.values


def _custom_input(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """Custom values from JSON (``{"custom": {...}}``) or a form (``custom.<key>`` fields)."""
    if "custom" in data:
        value = data["custom"]
        if not isinstance(value, dict):
            raise ValidationError({"custom": "must be an object of field values"})
        return value
    prefixed = {k[len("custom.") :]: v for k, v in data.items() if k.startswith("custom.")}
    return prefixed or None


def custom_spec(cf: CustomField) -> FieldSpec:
    kind = {
        "text": "str",
        "number": "decimal",
        "date": "date",
        "datetime": "datetime",
        "codebook": "codebook",
    }[cf.field_type]
    return FieldSpec(
        f"custom.{cf.key}",
        cf.label,
        kind,
        required=cf.required,
        max_length=500,
        codebook=cf.codebook,
    )


def parse_custom(
    session: Session,
    custom_fields: Sequence[CustomField],
    values: Mapping[str, Any],
    *,
    partial: bool = False,
) -> dict[str, Any]:
    """Validated custom values. With ``partial``, only the keys given are checked and a key
    given blank maps to None, meaning "clear it" (see RecordService.update)."""
    known = {cf.key: cf for cf in custom_fields}
    errors = {f"custom.{k}": "is not a custom field" for k in values if k not in known}
    out: dict[str, Any] = {}
    for key, cf in known.items():
        if partial and key not in values:
            continue
        spec = custom_spec(cf)
        try:
            value = parse_value(
                session,
                FieldSpec(
                    spec.name,
                    spec.label,
                    spec.kind,
                    required=cf.required,
                    max_length=500,
                    codebook=cf.codebook,
                ),
                values.get(key),
            )
        except ValueError as exc:
            errors[spec.name] = message(exc)
            continue
        if value in (None, ""):
            if partial:
                out[key] = None
            continue
        if isinstance(value, Decimal):
            value = int(value) if value == value.to_integral_value() else float(value)
        elif isinstance(value, dt.date):  # a datetime too: stored in UTC, "…T13:30:00+00:00"
            value = value.isoformat()
        out[key] = value
    if errors:
        raise ValidationError(errors)
    return out


def active_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise ValueError("is not an active user")
    return user
