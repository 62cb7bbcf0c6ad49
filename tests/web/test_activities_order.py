"""The Activities page opens with what is still to do, the most urgent first, and a task past
its due date stands out (issue 10, "The day's work")."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient

from crm.db import Database
from crm.services.activities import activities
from crm.services.partners import partners
from tests.conftest import World, login


def test_open_activities_come_first_by_due_date_and_overdue_ones_stand_out(
    client: FlaskClient, world: World, database: Database
) -> None:
    today = dt.datetime.now(ZoneInfo(world.sales_a.time_zone)).date()  # the viewer's today
    with database.session() as s:
        partner = partners.create(s, world.sales_a, {"name": "Agro Žatec"})

        def add(title: str, due: dt.date | None, done: bool = False) -> None:
            activities.create(
                s,
                world.sales_a,
                {
                    "kind": "task",
                    "title": title,
                    "partner_id": partner.id,
                    "due_date": due.isoformat() if due else "",
                    "done": done,
                },
            )

        add("Hotovo včera", today - dt.timedelta(days=1), done=True)
        add("Bez termínu", None)
        add("Příští týden", today + dt.timedelta(days=7))
        add("Zapomenutý úkol", today - dt.timedelta(days=3))
        add("Dnes", today)
    login(client, world.sales_a)
    html = client.get("/activities/").get_data(as_text=True)
    titles = re.findall(r'<a href="/activities/\d+">([^<]+)</a>', html)
    assert titles == ["Zapomenutý úkol", "Dnes", "Příští týden", "Bez termínu", "Hotovo včera"]
    overdue = re.findall(r'<tr class="[^"]*overdue[^"]*">.*?</tr>', html, re.S)
    assert len(overdue) == 1 and "Zapomenutý úkol" in overdue[0]
    assert "overdue" in overdue[0].split("Zapomenutý úkol")[0]  # said in words, not colour only
    # a sort the user chose still wins
    by_title = client.get("/activities/?sort=title").get_data(as_text=True)
    assert re.findall(r'<a href="/activities/\d+">([^<]+)</a>', by_title)[0] == "Bez termínu"
