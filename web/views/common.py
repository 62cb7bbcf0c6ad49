"""What list and form views share: reading the query, form data and custom field specs."""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from typing import Any

from flask import current_app, request
from flask_babel import get_timezone
from werkzeug.datastructures import MultiDict

from crm.fields import FieldSpec, custom_spec, parse_datetime
from crm.services.records import ListQuery, RecordService, custom_fields_for
from crm.settings import Settings
from web import db


def page_size() -> int:
    """Rows per page of every web list unless the query asks otherwise (DOSSIER_PAGE_SIZE)."""
    settings: Settings = current_app.config["DOSSIER_SETTINGS"]
    return settings.page_size


def list_query(service: RecordService[Any], default_per_page: int | None = None) -> ListQuery:
    args = {k: v for k, v in request.args.items()}
    return ListQuery.from_args(args, default_per_page or page_size())


def form_specs(service: RecordService[Any]) -> list[FieldSpec]:
    """The record type's fields followed by the admin's custom fields."""
    customs = custom_fields_for(db.session(), service.record_type)
    return [*service.fields, *(custom_spec(cf) for cf in customs)]


def form_data(
    specs: Sequence[FieldSpec], form: MultiDict[str, str] | None = None
) -> dict[str, Any]:
    """A submitted form as service input: every field present, checkboxes as true/false."""
    form = request.form if form is None else form
    data: dict[str, Any] = {}
    for spec in specs:
        key = spec.attr
        if spec.kind == "bool":
            data[spec.name] = spec.name in form
        elif key in form:
            data[key] = form[key]
        elif spec.name in form:
            data[spec.name] = form[spec.name]
        if spec.kind == "datetime" and data.get(key, "").strip():
            data[key] = local_moment(data[key])
    return data


def local_moment(raw: str) -> str:
    """<input type=datetime-local> sends the viewer's wall-clock time: give it their offset
    (crm.fields.parse_datetime refuses a moment without one). A value that is no date and
    time is passed on as typed for the service to refuse beside its field."""
    try:
        # Flask-Babel's zone may be a pytz one, whose replace(tzinfo=) would give LMT.
        return parse_datetime(raw, zoneinfo.ZoneInfo(str(get_timezone()))).isoformat()
    except ValueError:
        return raw


def form_values(service: RecordService[Any], record: Any) -> dict[str, Any]:
    """A record's values keyed like form fields (custom fields as ``custom.<key>``)."""
    values = {spec.attr: getattr(record, spec.attr, None) for spec in service.fields}
    values.update({f"custom.{k}": v for k, v in (getattr(record, "custom", None) or {}).items()})
    if hasattr(record, "domains"):
        values["domains"] = record.domains
    return values


def page_args(**overrides: Any) -> dict[str, Any]:
    """The current query string with some values replaced (for sort and page links)."""
    args = request.args.to_dict()
    args.update({k: v for k, v in overrides.items()})
    return {k: v for k, v in args.items() if v not in (None, "")}
