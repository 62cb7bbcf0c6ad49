"""What list and form views share: reading the query, form data and custom field specs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import request
from werkzeug.datastructures import MultiDict

from crm.fields import FieldSpec, custom_spec
from crm.services.records import ListQuery, RecordService, custom_fields_for
from web import db


def list_query(service: RecordService[Any], default_per_page: int = 50) -> ListQuery:
    args = {k: v for k, v in request.args.items()}
    return ListQuery.from_args(args, default_per_page)


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
    return data


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
