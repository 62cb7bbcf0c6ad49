"""Choices for form fields and filters: codebook entries, users, groups (all via services).

A record form offers as salesperson (and next-contact assignee) only the people the user may
give a record to (``crm.permissions.may_be_salesperson``: the members of the user's groups;
admins: everyone), and as group only the user's groups, plus whatever the record holds now, so
an unchanged save keeps it. The service decides; the choices only spare the user a refusal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask_babel import gettext as _

from crm.fields import FieldSpec
from crm.models import User
from crm.permissions import may_be_salesperson
from crm.services import codebooks, users
from web import db
from web.i18n import entry_label


def choices_for(
    specs: Sequence[FieldSpec], actor: User, values: Mapping[str, Any] | None = None
) -> dict[str, list[tuple[Any, str]]]:
    """(value, label) options for every select on a form: codebooks, choices, users, groups.

    A codebook offers its active entries, plus a retired one that ``values`` (the record being
    edited) still holds: without it the select would show nothing and saving would clear it.
    """
    session = db.session()
    values = values or {}
    out: dict[str, list[tuple[Any, str]]] = {}
    for spec in specs:
        if spec.kind == "codebook" and spec.codebook:
            current = str(values.get(spec.attr) or "")
            out[spec.name] = [
                (
                    e.id,
                    entry_label(e) if e.active else _("%(label)s (retired)", label=entry_label(e)),
                )
                for e in codebooks.entries(session, spec.codebook, include_inactive=True)
                if e.active or str(e.id) == current
            ]
        elif spec.kind == "choice":
            out[spec.name] = [(c, c) for c in spec.choices]
    people = [(u.id, u.name) for u in users.list_users(session) if u.active]
    out["salesperson_id"] = people
    out["next_contact_assignee_id"] = people
    groups = users.list_groups(session)
    out["group_id"] = [(g.id, g.name) for g in groups if actor.is_admin or g.id in actor.group_ids]
    return out


def owner_choices(
    actor: User, values: Mapping[str, Any] | None = None
) -> dict[str, list[tuple[Any, str]]]:
    """Salesperson, assignee and group options of a record form (see the module docstring)."""
    session = db.session()
    values = values or {}
    active = [u for u in users.list_users(session) if u.active]
    out: dict[str, list[tuple[Any, str]]] = {}
    for key in ("salesperson_id", "next_contact_assignee_id"):
        current = str(values.get(key) or "")
        out[key] = [
            (u.id, u.name)
            for u in active
            if str(u.id) == current
            or any(may_be_salesperson(actor, u, g) for g in actor.group_ids)
            or actor.is_admin
        ]
    current_group = str(values.get("group_id") or "")
    out["group_id"] = [
        (g.id, g.name)
        for g in users.list_groups(session)
        if actor.is_admin or g.id in actor.group_ids or str(g.id) == current_group
    ]
    return out
