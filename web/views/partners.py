"""Partner pages: the list (filter, sort, page), the dossier with its timeline, the form."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext

from crm.errors import DossierError
from crm.models import Partner
from crm.permissions import may_assign
from crm.services.activities import activities
from crm.services.deals import deals
from crm.services.importer import import_partners_from_bytes
from crm.services.partners import partners
from crm.services.persons import persons
from crm.services.records import ListQuery
from crm.timeline import partner_timeline
from mail_archive.service import filed_count
from web import db
from web.security import login_required, require_user
from web.views.common import form_specs
from web.views.crud import delete_record, record_form, record_list
from web.views.history import history

bp = Blueprint("partners", __name__, url_prefix="/partners")
TIMELINE_PAGE = 50
TIMELINE_MAX = 500  # entries one page may show ("Show more" adds a page up to this)


def timeline_shown(raw: str) -> int:
    """How many timeline entries to show for ``?timeline=``: a hand-edited value (huge,
    negative, not a number) gives a normal page, clamped, never a huge query."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6:
        return TIMELINE_MAX if raw.isascii() and raw.isdigit() else TIMELINE_PAGE
    return min(max(int(raw), 1), TIMELINE_MAX)


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    return record_list(partners, require_user(), "partners/list.html")


@bp.get("/<int:partner_id>")
@login_required
def show(partner_id: int) -> ResponseReturnValue:
    user = require_user()
    session = db.session()
    partner = partners.get(session, user, partner_id)
    shown = timeline_shown(request.args.get("timeline", ""))
    timeline = partner_timeline(session, user, partner_id, limit=shown + 1)
    return render_template(
        "partners/show.html",
        partner=partner,
        may_delete=may_assign(user, partner),
        specs=form_specs(partners),
        persons=persons.list(
            session,
            user,
            ListQuery({"partner_id": str(partner_id)}, per_page=100, with_total=False),
        ).items,
        deals=deals.list(
            session,
            user,
            ListQuery(
                {"partner_id": str(partner_id)},
                sort="-created_at",
                per_page=100,
                with_total=False,
            ),
        ).items,
        open_tasks=activities.list(
            session,
            user,
            ListQuery(
                {"partner_id": str(partner_id), "done": "false"},
                sort="due_date",
                per_page=20,
                with_total=False,
            ),
        ).items,
        timeline=timeline[:shown],
        more=len(timeline) > shown and shown < TIMELINE_MAX,
        shown=shown,
        audit_history=history(session, user, "partner", partner.id),
    )


def _form(partner_id: int | None) -> ResponseReturnValue:
    user = require_user()
    record = partners.get(db.session(), user, partner_id) if partner_id else None
    return record_form(
        partners,
        user,
        record,
        "partners/form.html",
        defaults={
            "status": "active",
            "salesperson_id": user.id,
            "group_id": user.group_ids[0] if user.group_ids else None,
        },
        saved_message=_("Partner saved."),
        show_endpoint="partners.show",
        conflict_field="company_id",
        partner=record,
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> ResponseReturnValue:
    return _form(None)


@bp.route("/<int:partner_id>/edit", methods=["GET", "POST"])
@login_required
def edit(partner_id: int) -> ResponseReturnValue:
    return _form(partner_id)


@bp.route("/<int:partner_id>/delete", methods=["GET", "POST"])
@login_required
def delete(partner_id: int) -> ResponseReturnValue:
    user = require_user()
    session = db.session()

    def goes_with(partner: Partner) -> list[str]:
        people = persons.list(
            session, user, ListQuery({"partner_id": str(partner.id)}, per_page=1)
        ).total
        mail = filed_count(session, user, "partner", partner.id)
        lines = []
        if people:
            lines.append(ngettext("%(num)s contact person", "%(num)s contact persons", people))
        if mail:
            lines.append(
                ngettext(
                    "%(num)s filed message: it stays in the archive, no longer filed here",
                    "%(num)s filed messages: they stay in the archive, no longer filed here",
                    mail,
                )
            )
        if partner.domains:
            lines.append(
                _(
                    "its mail domains (%(domains)s) stop filing mail",
                    domains=", ".join(partner.domains),
                )
            )
        return lines

    return delete_record(
        partners,
        user,
        partner_id,
        heading=lambda partner: _("Delete the partner “%(name)s”?", name=partner.name),
        goes_with=goes_with,
        deleted_message=_("Partner deleted."),
        then=lambda: url_for("partners.index"),
        on_conflict=lambda: url_for("partners.show", partner_id=partner_id),
    )


@bp.route("/import", methods=["GET", "POST"])
@login_required
def import_file() -> ResponseReturnValue:
    """Upload a CSV or XLSX of partners; every row is reported, good rows are kept."""
    user = require_user()
    error = ""
    report = None
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            error = _("Choose a CSV or XLSX file.")
        else:
            try:
                db.release()
                report = import_partners_from_bytes(db.database(), upload.read(), user.email)
            except DossierError as exc:
                error = exc.message
    status = 422 if error else 200
    return render_template("partners/import.html", error=error, report=report), status
