"""My day: the home page after login. What is overdue, due today and this week, the mail
waiting to be filed, the newest mail of my partners and my open deals by stage."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from crm.services.activities import activities
from crm.services.deals import deals
from mail_archive import service as mail
from web import db
from web.i18n import today
from web.security import current_user

bp = Blueprint("my_day", __name__)

# How many of each the page lists; each section links to the whole list.
AGENDA_ROWS = 15
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
    overdue, overdue_total = activities.agenda(
        session, user, None, day - dt.timedelta(days=1), AGENDA_ROWS
    )
    coming, _ = activities.agenda(session, user, day, week_end, AGENDA_ROWS * 2)
    due_today = [a for a in coming if a.due_date == day]
    this_week = [a for a in coming if a.due_date and a.due_date > day]
    return render_template(
        "my_day.html",
        day=day,
        week_end=week_end,
        overdue=overdue[:AGENDA_ROWS],
        overdue_total=overdue_total,
        due_today=due_today[:AGENDA_ROWS],
        this_week=this_week[:AGENDA_ROWS],
        triage=mail.triage_queue(session, user, per_page=TRIAGE_ROWS),
        newest_mail=mail.newest_for_salesperson(session, user, MAIL_ROWS),
        pipeline=[
            column
            for column in deals.pipeline(session, user, {"salesperson_id": str(user.id)}, cards=0)
            if column.count
        ],
    )
