"""Deal pages: the pipeline list, the deal with its activities, the form and the deal actions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from crm.errors import Conflict, ValidationError
from crm.fields import FieldSpec
from crm.models import User
from crm.permissions import may_assign
from crm.services import codebooks
from crm.services.activities import ACTION_TITLES, DEAL_ACTIONS, activities
from crm.services.deals import deals
from crm.services.partners import partners
from crm.services.persons import persons
from crm.services.records import ListQuery
from crm.wording import written
from mail_archive.service import list_messages
from web import db
from web.i18n import entry_label
from web.security import login_required, require_user
from web.views.common import form_specs
from web.views.crud import delete_record, record_form, record_list
from web.views.forms import choices_for
from web.views.history import history

bp = Blueprint("deals", __name__, url_prefix="/deals")


def partner_choices(user: User) -> list[tuple[int, str]]:
    page = partners.list(
        db.session(),
        user,
        ListQuery({"status": "active"}, sort="name", per_page=500, with_total=False),
    )
    return [(p.id, p.name) for p in page.items]


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    return record_list(deals, require_user(), "deals/list.html")


@bp.get("/<int:deal_id>")
@login_required
def show(deal_id: int) -> ResponseReturnValue:
    user = require_user()
    session = db.session()
    deal = deals.get(session, user, deal_id)
    return render_template(
        "deals/show.html",
        deal=deal,
        may_delete=may_assign(user, deal),
        specs=form_specs(deals),
        actions=DEAL_ACTIONS,
        activities=activities.list(
            session, user, ListQuery({"deal_id": str(deal_id)}, sort="-created_at", per_page=200)
        ).items,
        mail=list_messages(session, user, deal_id=deal_id, per_page=20),
        audit_history=history(session, user, "deal", deal.id),
    )


def _form(deal_id: int | None) -> ResponseReturnValue:
    user = require_user()
    record = deals.get(db.session(), user, deal_id) if deal_id else None
    partner_id = request.args.get("partner_id", type=int)
    partner = None
    if record is None and partner_id:
        partner = partners.get(db.session(), user, partner_id)
    return record_form(
        deals,
        user,
        record,
        "deals/form.html",
        defaults={
            "partner_id": partner.id if partner else None,
            "currency": "CZK",
            "status": "open",
            "salesperson_id": user.id,
            "group_id": partner.group_id if partner else None,
        },
        saved_message=_("Deal saved."),
        show_endpoint="deals.show",
        deal=record,
        partner=record.partner if record else partner,
        partner_choices=[] if (record or partner) else partner_choices(user),
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> ResponseReturnValue:
    return _form(None)


@bp.route("/<int:deal_id>/edit", methods=["GET", "POST"])
@login_required
def edit(deal_id: int) -> ResponseReturnValue:
    return _form(deal_id)


@bp.post("/<int:deal_id>/delete")
@login_required
def delete(deal_id: int) -> ResponseReturnValue:
    user = require_user()
    partner_id = deals.get(db.session(), user, deal_id).partner_id
    return delete_record(
        deals,
        user,
        deal_id,
        deleted_message=_("Deal deleted."),
        then=lambda: url_for("partners.show", partner_id=partner_id),
        on_conflict=lambda: url_for("deals.show", deal_id=deal_id),
    )


ACTION_FIELDS = {
    "close": (
        FieldSpec("status", "Result", "choice", required=True, choices=("won", "lost")),
        FieldSpec("close_reason", "Close reason", "codebook", codebook="close_reason"),
        FieldSpec("close_note", "Close note", "text", max_length=5000),
    ),
    "other": (
        FieldSpec("title", "Title", required=True, max_length=250),
        FieldSpec("due_date", "Due date", "date"),
        FieldSpec("person_id", "Person", "ref"),
        FieldSpec("note", "Note", "text", max_length=20000),
    ),
}


@bp.route("/<int:deal_id>/actions/<action>", methods=["GET", "POST"])
@login_required
def action(deal_id: int, action: str) -> ResponseReturnValue:
    """The deal actions: Task, Call, Meeting make an activity; Close closes the deal."""
    if action not in DEAL_ACTIONS:
        abort(404)
    user = require_user()
    session = db.session()
    deal = deals.get(session, user, deal_id)
    specs = ACTION_FIELDS["close" if action == "close" else "other"]
    # the title the action would store (crm.wording), to keep or change
    values: dict[str, Any] = {
        "title": f"{written(ACTION_TITLES[action], user.language)}: {deal.title}"
    }
    errors: dict[str, str] = {}
    if request.method == "POST":
        data = {k: v for k, v in request.form.items() if k != "csrf_token"}
        if action == "close" and data.get("close_reason_id"):
            data["close_reason"] = data.pop("close_reason_id")
        try:
            activities.deal_action(session, user, deal_id, action, data)
        except ValidationError as exc:
            errors, values = exc.errors, data
            session.rollback()
        except Conflict as exc:
            errors, values = {"form": exc.message}, data
            session.rollback()
        else:
            db.commit()
            flash(_("Deal closed.") if action == "close" else _("Activity created."), "success")
            return redirect(url_for("deals.show", deal_id=deal_id))
    choices = choices_for(specs, user)
    choices["person_id"] = [
        (p.id, p.name)
        for p in persons.list(
            session, user, ListQuery({"partner_id": str(deal.partner_id)}, per_page=200)
        ).items
    ]
    choices["status"] = [("won", _("won")), ("lost", _("lost"))]
    choices["close_reason"] = [
        (e.id, entry_label(e)) for e in codebooks.entries(session, "close_reason")
    ]
    return render_template(
        "deals/action.html",
        deal=deal,
        action=action,
        label=ACTION_TITLES[action],
        specs=specs,
        values=values,
        errors=errors,
        choices=choices,
    ), 422 if errors else 200
