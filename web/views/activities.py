"""Activity pages: the task list (mine, open, due), an activity, its form, "mark done"."""

from __future__ import annotations

from contextlib import suppress

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from crm.errors import NotFound
from crm.models import Activity, Partner, User
from crm.permissions import may_assign
from crm.services.activities import activities
from crm.services.deals import deals
from crm.services.partners import partners
from crm.services.persons import persons
from crm.services.records import ListQuery, is_small_number
from web import db
from web.security import login_required, require_user
from web.views.auth import safe_next
from web.views.common import form_specs
from web.views.crud import delete_record, record_form, record_list
from web.views.mail import choices

bp = Blueprint("activities", __name__, url_prefix="/activities")


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    user = require_user()
    # what is still to do first, the most urgent on top; undated after dated (nulls last)
    return record_list(
        activities, user, "activities/list.html", default_sort="done,due_date", me=user
    )


@bp.get("/<int:activity_id>")
@login_required
def show(activity_id: int) -> ResponseReturnValue:
    user = require_user()
    activity = activities.get(db.session(), user, activity_id)
    return render_template(
        "activities/show.html",
        activity=activity,
        specs=form_specs(activities),
        may_delete=may_assign(user, activity),
    )


def _chosen_partner(user: User, record: Activity | None) -> Partner | None:
    """The partner whose persons the form offers: the one just sent (a form shown again), else
    the activity's, else the one the page was opened from."""
    raw = request.form.get("partner_id", "") if request.method == "POST" else ""
    if is_small_number(raw):
        with suppress(NotFound):  # not the user's to see: as if none was chosen
            return partners.get(db.session(), user, int(raw))
    return record.partner if record is not None else None


def _form(activity_id: int | None) -> ResponseReturnValue:
    user = require_user()
    session = db.session()
    record = activities.get(session, user, activity_id) if activity_id else None
    deal = partner = None
    if record is None:
        if request.args.get("deal_id", type=int):
            deal = deals.get(session, user, request.args.get("deal_id", type=int) or 0)
            partner = deal.partner
        elif request.args.get("partner_id", type=int):
            partner = partners.get(session, user, request.args.get("partner_id", type=int) or 0)
    else:
        deal, partner = record.deal, record.partner
    people_of = _chosen_partner(user, record) or partner
    people = []
    if people_of is not None:
        people = [
            (p.id, p.name)
            for p in persons.list(
                session, user, ListQuery({"partner_id": str(people_of.id)}, per_page=500)
            ).items
        ]
    return record_form(
        activities,
        user,
        record,
        "activities/form.html",
        defaults={
            "kind": request.args.get("kind", "task"),
            "salesperson_id": user.id,
            "deal_id": deal.id if deal else None,
            "partner_id": partner.id if partner else None,
            "person_id": request.args.get("person_id", type=int),
        },
        saved_message=_("Activity saved."),
        show_endpoint="activities.show",
        activity=record,
        deal=deal,
        partner=partner,
        people=people,
        picks=choices(user),
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> ResponseReturnValue:
    return _form(None)


@bp.route("/<int:activity_id>/edit", methods=["GET", "POST"])
@login_required
def edit(activity_id: int) -> ResponseReturnValue:
    return _form(activity_id)


@bp.post("/<int:activity_id>/done")
@login_required
def done(activity_id: int) -> ResponseReturnValue:
    """One click from a list or the activity page: marks it done and goes back."""
    activities.update(db.session(), require_user(), activity_id, {"done": True})
    db.commit()
    flash(_("Marked as done."), "success")
    return redirect(
        safe_next(request.form.get("next"), url_for("activities.show", activity_id=activity_id))
    )


@bp.route("/<int:activity_id>/delete", methods=["GET", "POST"])
@login_required
def delete(activity_id: int) -> ResponseReturnValue:
    return delete_record(
        activities,
        require_user(),
        activity_id,
        heading=lambda activity: _("Delete the activity “%(name)s”?", name=activity.title),
        deleted_message=_("Activity deleted."),
        then=lambda: url_for("activities.index"),
        on_conflict=lambda: url_for("activities.show", activity_id=activity_id),
    )
