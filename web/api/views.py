"""The API beyond plain CRUD: deal actions, a partner's timeline, codebooks and the caller."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, url_for
from flask.typing import ResponseReturnValue

from crm.errors import NotFound, ValidationError
from crm.models import CodebookEntry, User
from crm.services import codebooks
from crm.services.activities import DEAL_ACTIONS, activities
from crm.services.deals import deals
from crm.services.partners import partners
from crm.timeline import partner_timeline
from web import db
from web.api.auth import api_user
from web.api.common import ID, int_arg, json_kind_errors, json_object, reject_unknown
from web.api.resources import commit_fresh, resource_for

# Task, call and meeting take the fields of an activity except these, which the action sets.
ACTION_SETS = ("kind", "deal_id", "partner_id")
# Close takes only these.
CLOSE_FIELDS = ("status", "close_reason", "close_note")
TIMELINE_DEFAULT, TIMELINE_MAX, TIMELINE_MAX_OFFSET = 50, 500, 10_000


def action_fields(action: str) -> set[str]:
    if action == "close":
        return {*CLOSE_FIELDS, "open_tasks"}  # open_tasks: what happens to its open activities
    return resource_for("activities").input_names() - set(ACTION_SETS)


def deal_action(deal_id: int, action: str) -> ResponseReturnValue:
    data = json_object()
    reject_unknown(data, action_fields(action), fixed=ACTION_SETS)
    if action != "close":
        resource_for("activities").check_input(data)
    else:
        close_specs = [spec for spec in deals.fields if spec.name in CLOSE_FIELDS]
        if errors := json_kind_errors(close_specs, data):
            raise ValidationError(errors)
    activity, deal = activities.deal_action(db.session(), api_user(), deal_id, action, data)
    commit_fresh(activity, deal)
    body = {"activity": activities.as_dict(activity), "deal": deals.as_dict(deal)}
    return jsonify(body), 201, {"Location": url_for("api.activities_get", record_id=activity.id)}


def timeline(partner_id: int) -> ResponseReturnValue:
    limit = int_arg("limit", TIMELINE_DEFAULT, 1, TIMELINE_MAX)
    offset = int_arg("offset", 0, 0, TIMELINE_MAX_OFFSET)
    session, user = db.session(), api_user()
    partners.get(session, user, partner_id)
    entries = partner_timeline(session, user, partner_id, limit=limit, offset=offset)
    return {"items": [entry.as_dict() for entry in entries]}


def entry_dict(entry: CodebookEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "label": entry.label,
        "labels": dict(entry.labels or {}),
        "active": entry.active,
        "probability": entry.probability,
        "position": entry.position,
    }


def codebook_dict(name: str, label: str) -> dict[str, Any]:
    found = codebooks.entries(db.session(), name, include_inactive=True)
    return {"name": name, "label": label, "entries": [entry_dict(e) for e in found]}


def codebook_list() -> ResponseReturnValue:
    names = codebooks.codebook_names(db.session())
    return {"items": [codebook_dict(name, label) for name, label in names.items()]}


def codebook_one(name: str) -> ResponseReturnValue:
    names = codebooks.codebook_names(db.session())
    if name not in names:
        raise NotFound(f"no codebook {name}")
    return codebook_dict(name, names[name])


def user_dict(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "language": user.language,
        "groups": [{"id": g.id, "name": g.name} for g in user.groups],
    }


def me() -> ResponseReturnValue:
    return user_dict(api_user())


def deal_close(deal_id: int) -> ResponseReturnValue:
    return deal_action(deal_id, "close")


def register(bp: Blueprint) -> None:
    # close takes other fields than the rest: its own route, so the description can say so
    actions = ",".join(a for a in DEAL_ACTIONS if a != "close")
    bp.add_url_rule(
        f"/deals/<{ID}:deal_id>/actions/<any({actions}):action>",
        "deal_action",
        deal_action,
        methods=["POST"],
    )
    bp.add_url_rule(
        f"/deals/<{ID}:deal_id>/actions/close", "deal_close", deal_close, methods=["POST"]
    )
    bp.add_url_rule(f"/partners/<{ID}:partner_id>/timeline", "partner_timeline", timeline)
    bp.add_url_rule("/codebooks", "codebook_list", codebook_list)
    bp.add_url_rule("/codebooks/<name>", "codebook_get", codebook_one)
    bp.add_url_rule("/me", "me", me)
