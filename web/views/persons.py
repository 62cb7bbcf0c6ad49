"""Contact persons: a list to look people up, a person's page, the form (from a partner)."""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext

from crm.models import Person
from crm.permissions import may_assign
from crm.person_names import NameParts
from crm.services.activities import activities
from crm.services.partners import partners
from crm.services.persons import persons
from crm.services.records import ListQuery, is_small_number
from crm.vocative import salutations as suggested
from mail_archive.service import filed_count, list_messages
from web import db
from web.security import login_required, require_user
from web.views.common import form_specs
from web.views.crud import delete_record, record_form, record_list
from web.views.history import history as audit_rows

bp = Blueprint("persons", __name__, url_prefix="/persons")


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    return record_list(persons, require_user(), "persons/list.html")


@bp.get("/<int:person_id>")
@login_required
def show(person_id: int) -> ResponseReturnValue:
    user = require_user()
    session = db.session()
    person = persons.get(session, user, person_id)
    history = activities.list(
        session, user, ListQuery({"person_id": str(person.id)}, sort="-created_at", per_page=200)
    ).items
    mail = list_messages(session, user, person_id=person.id, per_page=20)
    return render_template(
        "persons/show.html",
        person=person,
        may_delete=may_assign(user, person.partner),
        activities=history,
        specs=form_specs(persons),
        mail=mail,
        audit_history=audit_rows(session, user, "person", person.id),
    )


def salutations(person: Person) -> list[str]:
    """The salutations the form offers to pick, from the stored name parts."""
    parts = NameParts(person.title_before, person.first_name, person.last_name, person.title_after)
    return [s for s in suggested(parts) if s != person.salutation]


def _form(person_id: int | None) -> ResponseReturnValue:
    user = require_user()
    session = db.session()
    record = persons.get(session, user, person_id) if person_id else None
    partner_id = request.args.get("partner_id", type=int)
    if record is None and partner_id is None:
        # A person belongs to a partner: they are added from the partner's page.
        flash(_("Open the partner and add the person there."), "info")
        return redirect(url_for("partners.index"))
    partner = record.partner if record else partners.get(session, user, partner_id or 0)
    return record_form(
        persons,
        user,
        record,
        "persons/form.html",
        defaults={"partner_id": partner.id},
        saved_message=_("Person saved."),
        show_endpoint="persons.show",
        person=record,
        partner=partner,
        salutations=salutations(record) if record else [],
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> ResponseReturnValue:
    return _form(None)


@bp.route("/<int:person_id>/edit", methods=["GET", "POST"])
@login_required
def edit(person_id: int) -> ResponseReturnValue:
    return _form(person_id)


@bp.route("/<int:person_id>/delete", methods=["GET", "POST"])
@login_required
def delete(person_id: int) -> ResponseReturnValue:
    user = require_user()
    session = db.session()
    partner_id = persons.get(session, user, person_id).partner_id

    def goes_with(person: Person) -> list[str]:
        mail = filed_count(session, user, "person", person.id)
        if not mail:
            return []
        return [
            ngettext(
                "%(num)s filed message: it stays in the archive, no longer filed to the person",
                "%(num)s filed messages: they stay in the archive, no longer filed to the person",
                mail,
            )
        ]

    return delete_record(
        persons,
        user,
        person_id,
        heading=lambda person: _("Delete the person “%(name)s”?", name=person.name),
        goes_with=goes_with,
        deleted_message=_("Person deleted."),
        then=lambda: url_for("partners.show", partner_id=partner_id),
        on_conflict=lambda: url_for("persons.show", person_id=person_id),
    )


@bp.get("/choices")
@login_required
def choices() -> ResponseReturnValue:
    """The persons of a partner as a form's person picker offers them (JSON), of what the user
    may see; an unknown or hidden partner has none."""
    raw = request.args.get("partner_id", "")
    if not is_small_number(raw):
        return jsonify({"error": _("partner_id must be a partner's number")}), 400
    found = persons.list(db.session(), require_user(), ListQuery({"partner_id": raw}, per_page=500))
    return jsonify({"items": [{"id": p.id, "name": p.name} for p in found.items]})
