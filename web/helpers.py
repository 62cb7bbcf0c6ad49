"""Template globals shared by every page."""

from __future__ import annotations

from typing import Any

from flask import Flask

from crm.fields import FieldSpec
from crm.services.records import entry_label
from web import db
from web.views.common import page_args


def custom_value(spec: FieldSpec, value: Any) -> str:
    """A custom field's stored value as shown to a user (codebook ids become labels)."""
    if value is None or value == "":
        return ""
    if spec.kind == "codebook":
        return entry_label(db.session(), int(value)) or ""
    return str(value)


def filesize(size: int) -> str:
    """1.2 MB, 34 kB, 812 B."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size // 1024} kB"
    return f"{size} B"


def init_app(app: Flask) -> None:
    app.jinja_env.filters["filesize"] = filesize
    app.jinja_env.globals.update(
        page_args=page_args,
        custom_value=custom_value,
        url_rules=set(app.view_functions),
    )
    app.jinja_env.tests["custom_field"] = lambda spec: spec.name.startswith("custom.")
