"""Deal pages: the pipeline list, the deal with its activities, the form and the deal actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext

from crm.errors import Conflict, StaleRecord, ValidationError
from crm.fields import FieldSpec
from crm.models import Deal, User
from crm.permissions import may_assign
from crm.services import codebooks
from crm.services.activities import ACTION_TITLES, DEAL_ACTIONS, activities
from crm.services.deals import BOARD_CARDS, deals
from crm.services.partners import partners
from crm.services.persons import persons
from crm.services.records import ListQuery
from crm.text import N_
from crm.wording import written
from mail_archive.service import filed_count, list_messages
from web import db
from web.i18n import entry_label, translate
from web.security import login_required, require_user
from web.views.auth import safe_next
from web.views.common import form_specs
from web.views.crud import delete_record, form_version, record_form, record_list
from web.views.forms import choices_for
from web.views.history import history

bp = Blueprint("deals", __name__, url_prefix="/deals")
T = TypeVar("T")


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
    user = require_user()
    return record_list(
        deals,
        user,
        "deals/list.html",
        summary=lambda query: {"totals": deals.totals(db.session(), user, query.filters)},
    )


# What narrows the pipeline board and the salespeople's overview (the list's own filters).
BOARD_FILTERS = ("salesperson_id", "group_id", "currency", "type", "q")


def _filtered(read: Callable[[dict[str, str]], T]) -> tuple[T, dict[str, str], dict[str, str]]:
    """``read`` with the board's filters from the query string; a bad filter reads everything
    and says why (the filters used, what was wrong)."""
    filters = {k: v for k in BOARD_FILTERS if (v := request.args.get(k, "").strip())}
    try:
        return read(filters), filters, {}
    except ValidationError as exc:
        return read({}), {}, exc.errors


@bp.get("/board")
@login_required
def board() -> ResponseReturnValue:
    """The open deals by stage; a card moves to another stage by drag and drop or with its
    own stage select (keyboard, no JavaScript) under the same rules as the deal form."""
    user = require_user()
    session = db.session()
    columns, filters, errors = _filtered(lambda f: deals.pipeline(session, user, f))
    specs = form_specs(deals)
    return render_template(
        "deals/board.html",
        columns=columns,
        stages=deals.stages(session),
        filters=filters,
        filter_errors=errors,
        choices=choices_for(specs, user),
        card_limit=BOARD_CARDS,
    ), 400 if errors else 200


@bp.get("/board/salespeople")
@login_required
def salespeople() -> ResponseReturnValue:
    """Each salesperson's open pipeline (what the viewer may see): a sales manager's view."""
    user = require_user()
    session = db.session()
    rows, filters, errors = _filtered(lambda f: deals.by_salesperson(session, user, f))
    stages = deals.stages(session)
    shown = {s.id for s in stages}
    extra = sorted({sid for r in rows for sid in r.by_stage if sid not in shown}, key=str)
    return render_template(
        "deals/salespeople.html",
        rows=rows,
        stages=stages,
        extra_stages=extra,
        filters=filters,
        filter_errors=errors,
        choices=choices_for(form_specs(deals), user),
    ), 400 if errors else 200


@bp.post("/<int:deal_id>/stage")
@login_required
def move(deal_id: int) -> ResponseReturnValue:
    """Move a deal to another stage from the board: the deal form's rules and its version
    check (someone who changed the deal meanwhile is not overwritten)."""
    user = require_user()
    session = db.session()
    back = safe_next(request.form.get("next"), url_for("deals.board"))
    if not request.form.get("stage", "").strip():
        flash(_("The deal was not moved: choose a stage."), "error")
        return redirect(back)
    try:
        deal = deals.update(
            session,
            user,
            deal_id,
            {"stage": request.form.get("stage", "")},
            expected_version=form_version(),
        )
    except ValidationError as exc:
        session.rollback()
        problem = "; ".join(translate(m) for m in exc.errors.values())
        flash(_("The deal was not moved: %(problem)s", problem=problem), "error")
        return redirect(back)
    except StaleRecord:
        session.rollback()
        flash(
            _("Someone else changed this deal meanwhile; the board shows it as saved now."), "error"
        )
        return redirect(back)
    db.commit()
    flash(
        _("%(deal)s moved to %(stage)s.", deal=deal.title, stage=entry_label(deal.stage)),
        "success",
    )
    return redirect(back)


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


@bp.route("/<int:deal_id>/delete", methods=["GET", "POST"])
@login_required
def delete(deal_id: int) -> ResponseReturnValue:
    user = require_user()
    session = db.session()
    partner_id = deals.get(session, user, deal_id).partner_id

    def goes_with(deal: Deal) -> list[str]:
        mail = filed_count(session, user, "deal", deal.id)
        if not mail:
            return []
        return [
            ngettext(
                "%(num)s filed message: it stays in the archive, no longer filed to the deal",
                "%(num)s filed messages: they stay in the archive, no longer filed to the deal",
                mail,
            )
        ]

    return delete_record(
        deals,
        user,
        deal_id,
        heading=lambda deal: _("Delete the deal “%(name)s”?", name=deal.title),
        goes_with=goes_with,
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
    "task": (
        FieldSpec("title", "Title", required=True, max_length=250),
        FieldSpec("due_date", "Due date", "date"),
        FieldSpec("person_id", "Person", "ref"),
        FieldSpec("note", "Note", "text", max_length=20000),
    ),
    # a call or meeting is planned, or recorded after it happened: its result, done
    "record": (
        FieldSpec("title", "Title", required=True, max_length=250),
        FieldSpec("due_date", "Date", "date"),
        FieldSpec("person_id", "Person", "ref"),
        FieldSpec("result", "Result", "codebook", codebook="activity_result"),
        FieldSpec(
            "done",
            "It already took place (done)",
            "bool",
            help=N_("Tick it to record a call or meeting that happened; leave it to plan one."),
        ),
        FieldSpec("note", "Note", "text", max_length=20000),
    ),
}
CHOOSE_OPEN_TASKS = N_("choose what happens to them")
# which fields each action's form asks for
ACTION_FORMS = {"close": "close", "task": "task", "call": "record", "meeting": "record"}


@bp.route("/<int:deal_id>/actions/<action>", methods=["GET", "POST"])
@login_required
def action(deal_id: int, action: str) -> ResponseReturnValue:
    """The deal actions: Task, Call, Meeting make an activity; Close closes the deal."""
    if action not in DEAL_ACTIONS:
        abort(404)
    user = require_user()
    session = db.session()
    deal = deals.get(session, user, deal_id)
    specs = ACTION_FIELDS[ACTION_FORMS[action]]
    still_open = activities.open_of_deal(session, user, deal_id) if action == "close" else []
    # the title the action would store (crm.wording), to keep or change
    values: dict[str, Any] = {
        "title": f"{written(ACTION_TITLES[action], user.language)}: {deal.title}"
    }
    errors: dict[str, str] = {}
    if request.method == "POST":
        data = {k: v for k, v in request.form.items() if k != "csrf_token"}
        if action == "close" and data.get("close_reason_id"):
            data["close_reason"] = data.pop("close_reason_id")
        if action != "close" and data.get("result_id"):
            data["result"] = data.pop("result_id")
        # the form asks what happens to the open activities; the API keeps them unless told
        unanswered = action == "close" and bool(still_open) and not data.get("open_tasks")
        try:
            activities.deal_action(
                session, user, deal_id, action, {**data, "open_tasks": "?"} if unanswered else data
            )
        except ValidationError as exc:
            errors, values = dict(exc.errors), data
            if unanswered:
                errors["open_tasks"] = CHOOSE_OPEN_TASKS
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
    choices["result"] = [
        (e.id, entry_label(e)) for e in codebooks.entries(session, "activity_result")
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
        still_open=still_open,
    ), 422 if errors else 200
