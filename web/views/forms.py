"""Choices for form fields and filters: codebook entries, users, groups (all via services)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask_babel import gettext as _

from crm.fields import FieldSpec
from crm.models import User
from crm.services import codebooks, users
from web import db


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
                (e.id, e.label if e.active else _("%(label)s (retired)", label=e.label))
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
