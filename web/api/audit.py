"""GET /api/v1/audit: the audit log for admins (all of it) and managers (their records)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from crm import audit
from crm.errors import PermissionDenied
from crm.models import AuditEntry
from web import db
from web.api.auth import api_user
from web.api.common import int_arg, reject_unknown

MAX_PAGE = 1_000_000
MAX_PER_PAGE = 500
PARAMETERS = {"record_type", "record_id", "user_id", "from", "to", "page", "per_page"}


def entry_dict(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "user_id": entry.actor_id,
        "actor": entry.actor_label,
        "action": entry.action,
        "record_type": entry.record_type,
        "record_id": entry.record_id,
        "changes": entry.changes,
    }


def index() -> ResponseReturnValue:
    user = api_user()
    if user.role not in ("admin", "manager"):
        raise PermissionDenied(audit.NOT_FOR_YOU)
    reject_unknown(request.args, PARAMETERS)
    query = audit.AuditQuery.from_args(request.args)
    page = int_arg("page", 1, 1, MAX_PAGE)
    per_page = int_arg("per_page", 50, 1, MAX_PER_PAGE)
    rows, total = audit.search(db.session(), user, query, page, per_page)
    return {
        "items": [entry_dict(e) for e in rows],
        "total": total,
        "page": page,
        "per_page": per_page,
    }


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/audit", "audit_list", index)
