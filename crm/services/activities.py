"""Activities (task, call, meeting, letter, note) and the deal actions that create them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, joinedload, lazyload

from crm.errors import ValidationError
from crm.fields import FieldSpec
from crm.models import (
    ACTIVITY_KINDS,
    Activity,
    Deal,
    Partner,
    Person,
    Scoped,
    User,
    column_length,
    utcnow,
)
from crm.permissions import may_assign, may_be_salesperson, visible
from crm.services.deals import deals
from crm.services.records import (
    NOT_IN_GROUP,
    SCOPE_FIELDS,
    RecordService,
    bool_filter,
    choice_filter,
    date_filter,
    int_filter,
    resolve_scope,
    scope_dict,
    visible_ref,
)
from crm.text import N_, fold, folded_key
from crm.wording import written

TITLE_KEY = column_length(Activity, "title_key")

DEAL_ACTIONS = ("task", "call", "meeting", "close")
# What closing a deal does with its open activities (the Close action's ``open_tasks``).
OPEN_TASK_CHOICES = ("keep", "done", "delete")
OPEN_TASKS_CHOICE = N_("must be keep, done or delete")
NOT_ALL_YOURS = N_(
    "some of its open activities are a colleague's, which you may not delete: keep them or mark "
    "them done"
)
ACTION_TITLES = {"task": "Task", "call": "Call", "meeting": "Meeting", "close": "Close"}


def title_filter(_session: Session, raw: str) -> ColumnElement[bool]:
    return Activity.title_key.contains(fold(raw), autoescape=True)


class ActivityService(RecordService[Activity]):
    model = Activity
    record_type = "activity"
    title_attr = "title"
    fields = (
        FieldSpec("kind", "Kind", "choice", required=True, choices=ACTIVITY_KINDS),
        FieldSpec("title", "Title", required=True, max_length=250),
        FieldSpec("note", "Note", "text", max_length=20000),
        FieldSpec("result", "Result", "codebook", codebook="activity_result"),
        FieldSpec("due_date", "Due date", "date"),
        FieldSpec("done", "Done", "bool"),
        FieldSpec("partner_id", "Partner", "ref"),
        FieldSpec("deal_id", "Deal", "ref"),
        FieldSpec("person_id", "Person", "ref"),
        FieldSpec("next_contact_date", "Next contact", "date"),
        FieldSpec("next_contact_task", "Next contact task", max_length=250),
        FieldSpec("next_contact_assignee_id", "Next contact assignee", "ref"),
        *SCOPE_FIELDS,
    )
    filters = {
        "q": title_filter,
        "kind": choice_filter(Activity.kind, ACTIVITY_KINDS),
        "done": bool_filter(Activity.done),
        "partner_id": int_filter(Activity.partner_id),
        "deal_id": int_filter(Activity.deal_id),
        "person_id": int_filter(Activity.person_id),
        "salesperson_id": int_filter(Activity.salesperson_id),
        "group_id": int_filter(Activity.group_id),
        "due_from": date_filter(Activity.due_date, ">="),
        "due_to": date_filter(Activity.due_date, "<="),
    }
    sort_keys = {
        "due_date": Activity.due_date,
        "title": Activity.title,
        "kind": Activity.kind,
        "done": Activity.done,
        "created_at": Activity.created_at,
    }
    default_sort = "-created_at"

    def prepare(
        self, session: Session, actor: User, values: dict[str, Any], record: Activity | None
    ) -> dict[str, Any]:
        errors: dict[str, str] = {}
        deal = partner = None
        deal_id = values.get("deal_id", record.deal_id if record else None)
        if deal_id is not None and (record is None or deal_id != record.deal_id):
            deal = visible_ref(session, actor, Deal, "deal_id", deal_id)
            if values.get("partner_id") is None:
                values["partner_id"] = deal.partner_id
            elif values["partner_id"] != deal.partner_id:
                errors["partner_id"] = "is not the deal's partner"
        partner_id = values.get("partner_id", record.partner_id if record else None)
        if partner_id is not None and (record is None or partner_id != record.partner_id):
            partner = visible_ref(session, actor, Partner, "partner_id", partner_id)
        person_id = values.get("person_id")
        if person_id is not None:
            person = visible_ref(session, actor, Person, "person_id", person_id)
            if person.partner_id != partner_id:
                errors["person_id"] = "is not a person of this partner"
        assignee = None
        if values.get("next_contact_assignee_id") is not None:
            assignee = session.get(User, values["next_contact_assignee_id"])
            if assignee is None or not assignee.active:
                errors["next_contact_assignee_id"] = "is not an active user"
        if errors:
            raise ValidationError(errors)
        if "done" in values:
            was_done = record.done if record else False
            if values["done"] and not was_done:
                values["done_at"] = utcnow()
            elif not values["done"]:
                values["done_at"] = None
        parent: Scoped | None = deal or partner
        if parent is None and record is not None:
            # unchanged: still what it hangs on
            parent = (record.deal if deal_id is not None else None) or (
                record.partner if partner_id is not None else None
            )
        resolve_scope(session, actor, values, record, inherit=parent)
        if assignee is not None and (
            record is None or assignee.id != record.next_contact_assignee_id
        ):
            # The assignee becomes the salesperson of the follow-up task: the same rule applies.
            group_id = values.get("group_id", record.group_id if record else None)
            if not may_be_salesperson(actor, assignee, group_id):
                raise ValidationError({"next_contact_assignee_id": NOT_IN_GROUP})
        if "title" in values:
            values["title_key"] = folded_key(values["title"], TITLE_KEY)
        next_date = values.get("next_contact_date")
        if next_date is not None and (record is None or next_date != record.next_contact_date):
            values["_follow_up"] = actor.language  # the task's title is in the actor's words
        return values

    def after_write(self, session: Session, record: Activity, values: dict[str, Any]) -> None:
        if values.get("_follow_up"):
            follow_up = self._create_follow_up(session, record, values["_follow_up"])
            values["_also_created"] = [("activity", follow_up.id)]

    def _create_follow_up(self, session: Session, record: Activity, language: str) -> Activity:
        """The "next contact" of an activity becomes a task for its assignee."""
        title = record.next_contact_task or f"{written('Next contact', language)}: {record.title}"
        follow_up = Activity(
            kind="task",
            title=title[:250],
            title_key=folded_key(title[:250], TITLE_KEY),
            due_date=record.next_contact_date,
            partner_id=record.partner_id,
            deal_id=record.deal_id,
            person_id=record.person_id,
            salesperson_id=record.next_contact_assignee_id or record.salesperson_id,
            group_id=record.group_id,
            owner_company_id=record.owner_company_id,
            private=record.private,
            created_by_id=record.created_by_id,
            custom={},
        )
        session.add(follow_up)
        session.flush()
        return follow_up

    def create(self, session: Session, actor: User, data: Any) -> Activity:
        record = super().create(session, actor, data)
        record.created_by_id = actor.id
        return record

    def as_dict(self, record: Activity) -> dict[str, Any]:
        out = super().as_dict(record)
        out["done_at"] = record.done_at.isoformat() if record.done_at else None
        out["partner"] = record.partner.name if record.partner else None
        out["deal"] = record.deal.title if record.deal else None
        out.update(scope_dict(record))
        return out

    def deal_action(
        self, session: Session, actor: User, deal_id: int, action: str, data: dict[str, Any]
    ) -> tuple[Activity, Deal]:
        """The deal actions Task, Call, Meeting and Close: an activity titled "<Action>: <deal>"
        in the actor's language (crm.wording).

        Close also closes the deal as won or lost (``status``, ``close_reason``, ``close_note``).
        """
        if action not in DEAL_ACTIONS:
            raise ValidationError({"action": "must be one of " + ", ".join(DEAL_ACTIONS)})
        deal = deals.get(session, actor, deal_id)
        title = f"{written(ACTION_TITLES[action], actor.language)}: {deal.title}"[:250]
        if action == "close":
            data = dict(data)
            open_tasks = data.pop("open_tasks", None)
            if open_tasks is None or open_tasks == "":
                open_tasks = "keep"  # unless told otherwise, they stay
            fits = isinstance(open_tasks, str) and open_tasks in OPEN_TASK_CHOICES
            problem = {} if fits else {"open_tasks": OPEN_TASKS_CHOICE}
            try:
                deal = deals.close(session, actor, deal_id, data)
            except ValidationError as exc:  # every mistake at once
                raise ValidationError({**exc.errors, **problem}) from exc
            if problem:
                raise ValidationError(problem)
            self._settle_open(session, actor, deal, open_tasks)
            reason = deal.close_reason.label_in(actor.language) if deal.close_reason else ""
            text = written(deal.status.upper(), actor.language) + (f" – {reason}" if reason else "")
            note = "\n\n".join(x for x in (text, deal.close_note) if x)
            activity = self.create(
                session,
                actor,
                {"kind": "note", "title": title, "note": note, "done": True, "deal_id": deal.id},
            )
            return activity, deal
        payload = {k: v for k, v in data.items() if k not in ("kind", "deal_id", "partner_id")}
        payload.setdefault("title", title)
        if payload.get("title") in (None, ""):
            payload["title"] = title
        payload["kind"] = action
        payload["deal_id"] = deal.id
        return self.create(session, actor, payload), deal

    def agenda(
        self,
        session: Session,
        actor: User,
        due_from: dt.date | None,
        due_to: dt.date,
        limit: int,
    ) -> tuple[list[Activity], int]:
        """``actor``'s open activities due from ``due_from`` (None: any time before) to
        ``due_to``, the most urgent first, at most ``limit``, with their partner and deal (and
        nothing else: My day reads only their names); and how many there are in all."""
        mine = [
            visible(actor, Activity),
            Activity.salesperson_id == actor.id,
            Activity.done.is_(False),
            Activity.due_date <= due_to,
        ]
        if due_from is not None:
            mine.append(Activity.due_date >= due_from)
        rows = session.scalars(
            select(Activity)
            .where(*mine)
            .options(
                lazyload("*"),
                joinedload(Activity.partner).lazyload("*"),
                joinedload(Activity.deal).lazyload("*"),
            )
            .order_by(Activity.due_date, Activity.kind, Activity.id)
            .limit(limit)
        ).unique()
        total = session.scalar(select(func.count()).select_from(Activity).where(*mine)) or 0
        return list(rows), total

    def open_of_deal(self, session: Session, actor: User, deal_id: int) -> list[Activity]:
        """The deal's activities still to do that ``actor`` sees (closing asks about them)."""
        return list(
            session.scalars(
                self.base_query(actor)
                .where(Activity.deal_id == deal_id, Activity.done.is_(False))
                .order_by(Activity.due_date.asc().nulls_last(), Activity.id)
            ).unique()
        )

    def _settle_open(self, session: Session, actor: User, deal: Deal, choice: str) -> None:
        """What closing does with the deal's open activities: keep them, mark them done, or
        delete them (to the trash); one the actor may not delete refuses the whole close."""
        if choice == "keep":
            return
        still_open = self.open_of_deal(session, actor, deal.id)
        if choice == "delete" and any(not may_assign(actor, a) for a in still_open):
            raise ValidationError({"open_tasks": NOT_ALL_YOURS})
        for activity in still_open:
            if choice == "done":
                self.update(session, actor, activity.id, {"done": True})
            else:
                self.delete(session, actor, activity.id)


activities = ActivityService()
