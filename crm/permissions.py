"""Who sees what: the one rule that the web UI, the API, search, CalDAV and feeds all call.

- admins see every record (but none in the trash: ``deleted_at`` set hides it from all);
- managers see every record of their groups, private ones included;
- salespeople see the shared records of their groups and every record they are salesperson of.

``visible(user, Model)`` is that rule as an SQL condition; every read of a scoped record goes
through it (``load_visible`` for one record, list queries by adding it to WHERE), so a record
that is not visible is indistinguishable from one that does not exist.
Persons take the rule of their partner. Records of other packages (mail messages, documents)
register a rule built from these with ``register_rule``, so ``visible`` stays the one function.

Seeing a record is not owning it. ``may_assign`` says who may change who a record belongs to
(its salesperson, group and private flag) and delete it: admins; managers, for the records of
their groups; the record's own salesperson while a member of its group. A colleague who sees a
shared record may edit it, but not take it over, hide it, hand it away or delete it.
``may_be_salesperson`` says whom a record may be given to: a member of the record's group
(admins: anyone).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import Session

from crm.errors import NotFound, PermissionDenied
from crm.models import Activity, Deal, Partner, Person, Scoped, User

ScopedModel = type[Partner] | type[Deal] | type[Activity]
T = TypeVar("T")
Rule = Callable[[User], ColumnElement[bool]]
RULES: dict[type, Rule] = {}


def register_rule(model: type, rule: Rule) -> None:
    """Make ``visible(user, model)`` answer with ``rule(user)`` (a package's own records)."""
    RULES[model] = rule


def visible(user: User, model: Any) -> ColumnElement[bool]:
    """The SQL condition under which ``user`` may see a row of ``model``. A record in the trash
    (``deleted_at`` set) is seen by no one, admins included: only the trash lists it."""
    rule = RULES.get(model)
    if rule is not None:
        return rule(user)
    if model is Person:
        return and_(
            Person.deleted_at.is_(None),
            Person.partner_id.in_(select(Partner.id).where(visible(user, Partner))),
        )
    alive: ColumnElement[bool] = model.deleted_at.is_(None)
    if user.role == "admin":
        return alive
    groups = user.group_ids
    in_groups = model.group_id.in_(groups) if groups else false()
    if user.role == "manager":
        return and_(alive, or_(in_groups, model.salesperson_id == user.id))
    return and_(
        alive, or_(and_(in_groups, model.private.is_(False)), model.salesperson_id == user.id)
    )


def load_visible(session: Session, user: User, model: type[T], record_id: int) -> T:
    """The record, or NotFound when it does not exist or the user may not see it."""
    row = session.scalars(
        select(model).where(model.id == record_id, visible(user, model))  # type: ignore[attr-defined]
    ).first()
    if row is None:
        raise NotFound(f"{model.__name__.lower()} {record_id} not found")
    return row


def require_role(user: User, *roles: str) -> None:
    if user.role not in roles:
        raise PermissionDenied("this needs the role " + " or ".join(roles))


def assignable_group(user: User, group_id: int | None) -> bool:
    """Whether ``user`` may put a record into ``group_id`` (admins anywhere, others their own)."""
    if user.role == "admin":
        return True
    return group_id is not None and group_id in user.group_ids


def may_assign(user: User, record: Scoped) -> bool:
    """Whether ``user`` may change ``record``'s salesperson, group and private flag, or delete it.

    Visibility lets a whole team work on a shared record; taking it from its salesperson,
    hiding it from the team or moving it to another team is for its salesperson, the managers
    of its group and admins only.
    """
    if user.role == "admin":
        return True
    in_group = record.group_id is not None and record.group_id in user.group_ids
    if user.role == "manager":
        return in_group
    return in_group and record.salesperson_id == user.id


def may_be_salesperson(actor: User, candidate: User, group_id: int | None) -> bool:
    """Whether ``actor`` may make ``candidate`` the salesperson of a record in ``group_id``.

    Only a member of the record's group (the actor too, only when in that group): a record
    handed to someone of another team would leave the team and be moved after it.
    Admins may give a record to anyone.
    """
    if actor.role == "admin":
        return True
    return group_id is not None and group_id in candidate.group_ids
