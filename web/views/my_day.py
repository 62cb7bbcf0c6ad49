"""My day: the home page after login. What is overdue, due today and this week, the mail
waiting to be filed, the newest mail of my partners and my open deals by stage."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from crm.services.activities import activities
from crm.services.deals import deals
from crm.services.records import ListQuery
from mail_archive import service as mail
from web import db
from web.i18n import today
from web.security import current_user

bp = Blueprint("my_day", __name__)

# How many of each the page lists; each section links to the whole list.
AGENDA_ROWS = 30
MAIL_ROWS = 8
TRIAGE_ROWS = 5


@bp.get("/")
def home() -> ResponseReturnValue:
    user = current_user()
    if user is None:
        return redirect(url_for("auth.login"))
    session = db.session()
    day = today()
    week_end = day + dt.timedelta(days=6 - day.weekday())  # through Sunday
    agenda = activities.list(
        session,
        user,
        ListQuery(
            {"salesperson_id": str(user.id), "done": "false", "due_to": week_end.isoformat()},
            sort="due_date,kind",
            per_page=AGENDA_ROWS * 3,
        ),
    )
    overdue = [a for a in agenda.items if a.due_date and a.due_date < day]
    due_today = [a for a in agenda.items if a.due_date == day]
    this_week = [a for a in agenda.items if a.due_date and a.due_date > day]
    return render_template(
        "my_day.html",
        day=day,
        week_end=week_end,
        overdue=overdue[:AGENDA_ROWS],
        overdue_total=len(overdue),
        due_today=due_today[:AGENDA_ROWS],
        this_week=this_week[:AGENDA_ROWS],
        agenda_total=agenda.total,
        triage=mail.triage_queue(session, user, per_page=TRIAGE_ROWS),
        newest_mail=mail.newest_for_salesperson(session, user, MAIL_ROWS),
        pipeline=[
            column
            for column in deals.pipeline(session, user, {"salesperson_id": str(user.id)}, cards=0)
            if column.count
        ],
    )
