"""The admin page /admin/audit: the audit log filtered by user, record and days, newest first."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from crm import audit
from crm.errors import ValidationError
from crm.models import User
from crm.services.records import Page, is_small_number
from web import db
from web.security import admin_required, require_user
from web.views.history import Describer, Row

bp = Blueprint("audit", __name__, url_prefix="/admin")
PER_PAGE = 50
MAX_PAGE = 100_000


@bp.get("/audit")
@admin_required
def index() -> ResponseReturnValue:
    session, viewer = db.session(), require_user()
    raw_page = request.args.get("page", "1")
    number = int(raw_page) if is_small_number(raw_page) else 1
    errors: dict[str, str] = {}
    try:
        query = audit.AuditQuery.from_args(request.args)
    except ValidationError as exc:
        errors, query = exc.errors, audit.AuditQuery()
    rows, total = audit.search(session, viewer, query, min(max(number, 1), MAX_PAGE), PER_PAGE)
    page: Page[Row] = Page(Describer(session, viewer).rows(rows), total, number, PER_PAGE)
    users = list(session.scalars(select(User).order_by(User.name)))
    return render_template(
        "admin/audit.html",
        page=page,
        users=users,
        record_types=audit.RECORD_TYPES,
        errors=errors,
    ), (422 if errors else 200)
