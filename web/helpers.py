"""Template globals shared by every page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from flask_babel import get_timezone

from crm.fields import FieldSpec
from crm.models import CodebookEntry
from crm.services.profiles import time_zones
from web import db
from web.i18n import datetime as local_datetime
from web.i18n import entry_label
from web.views.common import page_args


def custom_value(spec: FieldSpec, value: Any) -> str:
    """A custom field's stored value as shown to a user (codebook ids become labels)."""
    if value is None or value == "":
        return ""
    if spec.kind == "codebook":
        return entry_label(db.session().get(CodebookEntry, int(value)))
    if spec.kind == "datetime":
        return local_datetime(dt.datetime.fromisoformat(str(value)))
    return str(value)


def local_input(value: Any) -> str:
    """A stored moment as <input type=datetime-local> shows it: the viewer's wall clock."""
    if value is None or value == "":
        return ""
    try:
        moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    except ValueError:
        return str(value)  # what the user typed, re-shown beside its error
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%dT%H:%M")
    return moment.astimezone(get_timezone()).strftime("%Y-%m-%dT%H:%M")


def filesize(size: int) -> str:
    """1.2 MB, 34 kB, 812 B."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size // 1024} kB"
    return f"{size} B"


def init_app(app: Flask) -> None:
    app.jinja_env.filters["filesize"] = filesize
    app.jinja_env.filters["local_input"] = local_input
    app.jinja_env.globals.update(
        page_args=page_args,
        custom_value=custom_value,
        time_zones=time_zones,
        url_rules=set(app.view_functions),
    )
    app.jinja_env.tests["custom_field"] = lambda spec: spec.name.startswith("custom.")
