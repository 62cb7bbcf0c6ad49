"""The form round trip every record page shares: show, validate, save or re-render with errors."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from flask import flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from crm.errors import Conflict, StaleRecord, ValidationError
from crm.models import User
from crm.services.records import Duplicate, ListQuery, RecordService
from crm.trash import TRASH_DAYS
from web import db
from web.i18n import translate
from web.views.common import form_data, form_specs, form_values, list_query
from web.views.forms import choices_for, owner_choices


def shown(value: Any) -> str:
    """A value as a form field shows it, so a stored value and a typed one compare."""
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, list | tuple):
        return "\n".join(str(v) for v in value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value).replace("\r\n", "\n").strip()


def form_version() -> int | None:
    """The version the form was opened at (hidden field ``version``); None from old pages."""
    raw = request.form.get("version", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else None


def stale_values(
    service: RecordService[Any], record: Any, exc: StaleRecord, typed: dict[str, Any]
) -> dict[str, Any]:
    """What the user typed, at the version saved now (so saving again is a deliberate
    overwrite), with the other person's value beside each field where the two differ."""
    saved = form_values(service, record)
    theirs = {k: shown(saved.get(k)) for k in typed if shown(saved.get(k)) != shown(typed[k])}
    return {
        **saved,
        **typed,
        "version": record.version,
        "_theirs": theirs,
        "_stale": {"who": exc.updated_by, "when": exc.updated_at},
    }


# A new-record form carries a key of its own; the keys of the forms that created records are
# kept in the session (the newest few), so a form sent again (back after Save, a double click)
# opens the record it made instead of making a second one.
FORM_KEY = "form_key"
CREATED = "created_by_form"
KEPT_FORMS = 20


def _created_by(key: str) -> tuple[str, int] | None:
    for kept, record_type, record_id in session.get(CREATED, []):
        if kept == key:
            return record_type, int(record_id)
    return None


def _remember(key: str, record_type: str, record_id: int) -> None:
    if key:
        kept = [row for row in session.get(CREATED, []) if row[0] != key]
        session[CREATED] = [*kept, [key, record_type, record_id]][-KEPT_FORMS:]


def record_form(
    service: RecordService[Any],
    user: User,
    record: Any | None,
    template: str,
    *,
    defaults: dict[str, Any],
    saved_message: str,
    show_endpoint: str,
    conflict_field: str = "",
    **context: Any,
) -> ResponseReturnValue:
    """GET shows the form; POST creates or updates through the service.

    Bad input re-renders the form with each error beside its field (422) and what the user
    typed kept; nothing is stored. A form sends every field it shows, so an update is partial:
    fields the form does not show keep their values. Fields the user may not change (who the
    record belongs to, ``service.locked_fields``) are shown disabled and not sent; one sent
    anyway is refused by the service beside its field, never ignored.
    """
    unit = db.session()
    specs = form_specs(service)
    values = form_values(service, record) if record is not None else dict(defaults)
    key = f"{service.record_type}_id"
    if record is not None:
        values["version"] = record.version
    else:
        values["_form_key"] = request.form.get(FORM_KEY, "")[:64] or secrets.token_urlsafe(16)
        made = _created_by(values["_form_key"]) if request.method == "POST" else None
        if made is not None and made[0] == service.record_type:
            flash(_("This form was saved already; here is what it made."), "info")
            target: dict[str, Any] = {key: made[1]}
            return redirect(url_for(show_endpoint, **target))
    errors: dict[str, str] = {}
    locked = service.locked_fields(user, record)
    duplicate: Duplicate | None = None
    if request.method == "POST":
        data = form_data(specs)
        for spec in specs:
            # A disabled checkbox is not sent, which form_data reads as "unchecked".
            if spec.kind == "bool" and spec.name in locked and spec.name not in request.form:
                data.pop(spec.name, None)
        # On a refusal the form shows what the user typed, but a locked field what is stored.
        typed = {k: v for k, v in data.items() if k not in locked}
        if record is not None and form_version() is not None:
            values["version"] = form_version()  # a refusal keeps the version it was opened at
        asked = record is not None or request.form.get("create_anyway") == "1"
        similar = [] if asked else service.similar(unit, user, data)
        if similar:  # ask first, nothing written: "open it" or "create anyway"
            found = [
                (url_for(show_endpoint, **{key: r.id}), getattr(r, "name", "") or str(r.id))
                for r in similar
            ]
            values = {**values, **typed, "_similar": found}
            return _form_page(template, record, specs, values, {}, user, locked, None, context)
        try:
            if record is None:
                record = service.create(unit, user, data)
            else:
                service.update(unit, user, record.id, data, expected_version=form_version())
        except StaleRecord as exc:
            unit.rollback()
            assert record is not None  # only an update meets a newer version
            record = service.get(unit, user, record.id)
            values = stale_values(service, record, exc, typed)
        except ValidationError as exc:
            errors, values = exc.errors, {**values, **typed}
            unit.rollback()
        except Duplicate as exc:
            errors, values, duplicate = {exc.field: exc.reason}, {**values, **typed}, exc
            unit.rollback()
        except Conflict as exc:
            errors, values = {conflict_field or "form": exc.message}, {**values, **typed}
            unit.rollback()
        else:
            db.commit()
            _remember(values.get("_form_key", ""), service.record_type, record.id)
            flash(saved_message, "success")
            return redirect(url_for(show_endpoint, **{key: record.id}))
    return _form_page(template, record, specs, values, errors, user, locked, duplicate, context)


def _form_page(
    template: str,
    record: Any | None,
    specs: Any,
    values: dict[str, Any],
    errors: dict[str, str],
    user: User,
    locked: frozenset[str],
    duplicate: Duplicate | None,
    context: dict[str, Any],
) -> ResponseReturnValue:
    """The form as the user left it: 422 with errors, 409 after a stale save, else 200."""
    return render_template(
        template,
        record=record,
        specs=specs,
        values=values,
        errors=errors,
        choices={**choices_for(specs, user, values), **owner_choices(user, values)},
        locked=locked,
        duplicate=duplicate,
        **context,
    ), 422 if errors else (409 if "_stale" in values else 200)


def delete_record(
    service: RecordService[Any],
    user: User,
    record_id: int,
    *,
    heading: Callable[[Any], str],
    goes_with: Callable[[Any], list[str]] = lambda _record: [],
    deleted_message: str,
    then: Callable[[], str],
    on_conflict: Callable[[], str],
) -> ResponseReturnValue:
    """GET asks (``heading``, what goes with the record: ``goes_with``, that it goes to the
    trash), or says why it cannot be deleted; POST deletes it."""
    unit = db.session()
    if request.method == "GET":
        record = service.get(unit, user, record_id)
        refusal = None
        try:
            service.check_delete(unit, user, record)
        except Conflict as exc:
            refusal = translate(exc.message)
        return render_template(
            "confirm_delete.html",
            heading=heading(record),
            goes_with=goes_with(record),
            refusal=refusal,
            cancel=on_conflict(),
            version=getattr(record, "version", None),
            trash_days=TRASH_DAYS,
        ), 409 if refusal else 200
    try:
        service.delete(unit, user, record_id, expected_version=form_version())
    except (Conflict, StaleRecord) as exc:  # or someone changed it after the question
        flash(translate(exc.message), "error")
        return redirect(on_conflict())
    db.commit()
    flash(
        f"{deleted_message} "
        + _(
            "An administrator can restore it from the trash within %(days)s days.", days=TRASH_DAYS
        ),
        "success",
    )
    return redirect(then())


def record_list(
    service: RecordService[Any],
    user: User,
    template: str,
    *,
    default_sort: str = "",
    summary: Callable[[ListQuery], dict[str, Any]] | None = None,
    **context: Any,
) -> ResponseReturnValue:
    """A list page: filters, sort and page from the query string; ``summary`` adds what the
    page says of the whole filtered list (e.g. its totals).

    A bad filter or sort shows the unfiltered list with the reason above it (400), so a
    mistyped bookmark still lands somewhere useful.
    """
    unit = db.session()
    specs = form_specs(service)
    errors: dict[str, str] = {}
    try:
        query = list_query(service)
        if default_sort and not query.sort:
            query = replace(query, sort=default_sort)
        page = service.list(unit, user, query)
    except ValidationError as exc:
        errors = exc.errors
        query = ListQuery(sort=default_sort)
        page = service.list(unit, user, query)
    return render_template(
        template,
        page=page,
        specs=specs,
        choices=choices_for(specs, user),
        filter_errors=errors,
        **(summary(query) if summary else {}),
        **context,
    ), 400 if errors else 200
