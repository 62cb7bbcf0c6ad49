"""Administration: codebooks, custom fields, users, groups and owner companies (admins only)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext

from crm import trash
from crm.errors import Conflict, NotFound, ValidationError
from crm.letterhead import MAX_LOGO_BYTES
from crm.models import CUSTOM_FIELD_TYPES, RECORD_TYPES, ROLES
from crm.services import codebooks, owner_companies, profiles, users
from web import db
from web.files import blob_store, send_blob
from web.i18n import translate
from web.security import admin_required, renew_session, require_user
from web.views.mail import page_number

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _render(
    template: str, errors: dict[str, str] | None = None, **context: Any
) -> ResponseReturnValue:
    return render_template(template, errors=errors or {}, **context), 422 if errors else 200


@bp.get("/")
@admin_required
def index() -> ResponseReturnValue:
    return render_template("admin/index.html")


def _codebooks_page(
    errors: dict[str, str] | None = None, form_for: str = "", typed: dict[str, str] | None = None
) -> ResponseReturnValue:
    session = db.session()
    names = codebooks.codebook_names(session)
    books = {name: codebooks.entries(session, name, include_inactive=True) for name in names}
    return _render(
        "admin/codebooks.html",
        errors,
        names=names,
        books=books,
        form_for=form_for,
        typed=typed or {},
    )


@bp.get("/codebooks")
@admin_required
def codebook_list() -> ResponseReturnValue:
    return _codebooks_page()


@bp.post("/codebooks")
@admin_required
def codebook_add() -> ResponseReturnValue:
    codebook = request.form.get("codebook", "").strip()
    try:
        codebooks.add_entry(db.session(), require_user(), codebook, dict(request.form))
    except ValidationError as exc:
        db.session().rollback()
        # "+new" marks the new-codebook form when its key was left empty
        return _codebooks_page(exc.errors, codebook or "+new", dict(request.form))
    db.commit()
    flash(_("Entry added."), "success")
    return redirect(url_for("admin.codebook_list") + f"#cb-{codebook}")


@bp.post("/codebooks/<int:entry_id>")
@admin_required
def codebook_edit(entry_id: int) -> ResponseReturnValue:
    """Rename, reposition, retire or reactivate an entry; a stage's probability too."""
    data: dict[str, Any] = {
        k: v for k, v in request.form.items() if k not in ("csrf_token", "probability")
    }
    if "active" in data:
        data["active"] = data["active"] == "1"
    session = db.session()
    try:
        entry = codebooks.update_entry(session, require_user(), entry_id, data)
        if "probability" in request.form:
            codebooks.set_probability(
                session, require_user(), entry_id, request.form["probability"]
            )
    except ValidationError as exc:
        session.rollback()
        return _codebooks_page({f"entry-{entry_id}-{k}": v for k, v in exc.errors.items()})
    db.commit()
    flash(_("Entry saved."), "success")
    return redirect(url_for("admin.codebook_list") + f"#cb-{entry.codebook}")


@bp.route("/custom-fields", methods=["GET", "POST"])
@admin_required
def custom_fields() -> ResponseReturnValue:
    errors: dict[str, str] = {}
    typed: dict[str, str] = {}
    session = db.session()
    if request.method == "POST":
        typed = dict(request.form)
        data: dict[str, Any] = {**typed, "required": "required" in request.form}
        try:
            codebooks.add_custom_field(session, require_user(), data)
        except ValidationError as exc:
            errors = exc.errors
            session.rollback()
        else:
            db.commit()
            flash(_("Custom field added."), "success")
            return redirect(url_for("admin.custom_fields"))
    return _render(
        "admin/custom_fields.html",
        errors,
        fields=codebooks.custom_fields(session),
        record_types=RECORD_TYPES,
        field_types=CUSTOM_FIELD_TYPES,
        codebook_names=codebooks.codebook_names(session),
        typed=typed,
    )


@bp.post("/custom-fields/<int:field_id>/delete")
@admin_required
def custom_field_delete(field_id: int) -> ResponseReturnValue:
    codebooks.delete_custom_field(db.session(), require_user(), field_id)
    db.commit()
    flash(_("Custom field removed; values already stored stay in the records."), "success")
    return redirect(url_for("admin.custom_fields"))


def _users_page(
    errors: dict[str, str] | None = None, typed: dict[str, Any] | None = None
) -> ResponseReturnValue:
    session = db.session()
    return _render(
        "admin/users.html",
        errors,
        users=users.list_users(session),
        groups=users.list_groups(session),
        companies=users.list_owner_companies(session),
        roles=ROLES,
        typed=typed or {},
    )


@bp.get("/users")
@admin_required
def user_list() -> ResponseReturnValue:
    return _users_page()


@bp.post("/users")
@admin_required
def user_add() -> ResponseReturnValue:
    form = request.form
    session = db.session()
    try:
        groups = [
            g.name for g in users.list_groups(session) if str(g.id) in form.getlist("group_ids")
        ]
        if not groups:
            raise ValidationError({"group_ids": "choose at least one group"})
        users.create_user(
            session,
            form.get("email", ""),
            form.get("name", ""),
            form.get("role", ""),
            groups,
            form.get("password") or None,
            form.get("language", "en"),
        )
    except ValidationError as exc:
        session.rollback()
        return _users_page(exc.errors, dict(form))
    except Conflict as exc:
        session.rollback()
        return _users_page({"email": exc.message}, dict(form))
    db.commit()
    flash(_("User added."), "success")
    return redirect(url_for("admin.user_list"))


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_required
def user_edit(user_id: int) -> ResponseReturnValue:
    session = db.session()
    target = users.get_user(session, user_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = request.form
        try:
            users.update_user(
                session,
                require_user(),
                user_id,
                {
                    "name": form.get("name", ""),
                    "role": form.get("role", ""),
                    "language": form.get("language", "en"),
                    "active": "active" in form,
                    "group_ids": form.getlist("group_ids"),
                    "password": form.get("password", ""),
                },
            )
        except ValidationError as exc:
            errors = exc.errors
        try:
            profiles.update_profile(session, user_id, form)
        except ValidationError as exc:
            errors = {**errors, **exc.errors}
        if errors:
            session.rollback()
            session.expire_all()
        else:
            if user_id == require_user().id and form.get("password"):
                renew_session(require_user())  # their own sessions ended: go on in a new one
            db.commit()
            flash(_("User saved."), "success")
            return redirect(url_for("admin.user_list"))
    return _render(
        "admin/user_edit.html",
        errors,
        user=target,
        groups=users.list_groups(session),
        roles=ROLES,
        values=request.form if errors else {},
    )


@bp.post("/users/<int:user_id>/sign-out")
@admin_required
def user_sign_out(user_id: int) -> ResponseReturnValue:
    """End every web session of the user at once (a stolen laptop, a cookie seen elsewhere)."""
    ended = users.sign_out_everywhere(db.session(), require_user(), user_id)
    db.commit()
    flash(
        ngettext(
            "Signed out everywhere: %(num)d session ended.",
            "Signed out everywhere: %(num)d sessions ended.",
            ended,
        )
        if ended
        else _("The user had no open sessions."),
        "success",
    )
    return redirect(url_for("admin.user_edit", user_id=user_id))


@bp.post("/groups")
@admin_required
def group_add() -> ResponseReturnValue:
    company = request.form.get("owner_company_id", "")
    try:
        users.create_group(
            db.session(),
            require_user(),
            request.form.get("name", ""),
            int(company) if company.isdigit() else None,
        )
    except ValidationError as exc:
        db.session().rollback()
        return _users_page({"group_" + k: v for k, v in exc.errors.items()}, dict(request.form))
    db.commit()
    flash(_("Group added."), "success")
    return redirect(url_for("admin.user_list") + "#groups")


@bp.post("/owner-companies")
@admin_required
def company_add() -> ResponseReturnValue:
    try:
        users.create_owner_company(db.session(), require_user(), request.form.get("name", ""))
    except ValidationError as exc:
        db.session().rollback()
        return _users_page({"company_" + k: v for k, v in exc.errors.items()}, dict(request.form))
    db.commit()
    flash(_("Owner company added."), "success")
    return redirect(url_for("admin.user_list") + "#groups")


@bp.route("/owner-companies/<int:company_id>", methods=["GET", "POST"])
@admin_required
def company_edit(company_id: int) -> ResponseReturnValue:
    """The letterhead offers and contracts print; errors beside their fields."""
    session = db.session()
    company = owner_companies.get(session, company_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        upload = request.files.get("logo")
        # One byte over the cap is enough for the service to refuse it as too large.
        logo = upload.stream.read(MAX_LOGO_BYTES + 1) if upload and upload.filename else None
        batch = blob_store().batch()
        try:
            owner_companies.update(
                session,
                require_user(),
                company_id,
                request.form,
                logo=logo,
                blobs=batch,
                remove_logo="remove_logo" in request.form,
            )
        except ValidationError as exc:
            errors = exc.errors
            session.rollback()
        else:
            batch.sync()
            db.commit()
            flash(_("Owner company saved."), "success")
            return redirect(url_for("admin.company_edit", company_id=company_id))
    return _render(
        "admin/owner_company.html",
        errors,
        company=company,
        specs=owner_companies.FIELDS,
        values=request.form
        if errors
        else {s.name: getattr(company, s.name) for s in owner_companies.FIELDS},
    )


@bp.get("/owner-companies/<int:company_id>/logo")
@admin_required
def company_logo(company_id: int) -> ResponseReturnValue:
    company = owner_companies.get(db.session(), company_id)
    if not company.logo_sha256:
        raise NotFound("this owner company has no logo")
    return send_blob(company.logo_sha256, company.logo_type, f"logo-{company.id}")


@bp.get("/trash")
@admin_required
def trash_list() -> ResponseReturnValue:
    """Deleted partners, persons, deals and activities, restorable for TRASH_DAYS days."""
    page = trash.items(db.session(), require_user(), page=page_number())
    return render_template("admin/trash.html", page=page, trash_days=trash.TRASH_DAYS)


@bp.post("/trash/<record_type>/<int:record_id>/restore")
@admin_required
def trash_restore(record_type: str, record_id: int) -> ResponseReturnValue:
    session = db.session()
    try:
        record = trash.restore(session, require_user(), record_type, record_id)
    except Conflict as exc:
        session.rollback()
        flash(translate(exc.message), "error")
        return redirect(url_for("admin.trash_list"))
    db.commit()
    flash(_("Restored: %(name)s.", name=getattr(record, trash.TITLES[record_type])), "success")
    arguments: dict[str, Any] = {f"{record_type}_id": record_id}
    return redirect(url_for(RESTORED_PAGES[record_type], **arguments))


# where a restored record opens
RESTORED_PAGES = {
    "partner": "partners.show",
    "person": "persons.show",
    "deal": "deals.show",
    "activity": "activities.show",
}
