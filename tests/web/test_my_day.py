"""My day, the home page after login: what is overdue, today's and this week's tasks and
meetings, mail to file, the newest mail of my partners and my open deals by stage (issue 10,
"The day's work")."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient

from crm.blobs import BlobStore
from crm.db import Database
from crm.services.activities import activities
from crm.services.deals import deals
from crm.services.partners import partners
from mail_archive.filing import RuleFiler
from mail_archive.ingest import Archive, Source
from tests.conftest import World, login, post_form
from tests.mailfactory import make_mail
from tests.web.conftest import text


def section(html: str, heading_id: str) -> str:
    """The text of the page's section headed ``heading_id``."""
    found = re.search(rf'<section[^>]*aria-labelledby="{heading_id}".*?</section>', html, re.S)
    assert found, heading_id
    return text(found.group(0))


def seed(database: Database, world: World) -> dict[str, int]:
    today = dt.datetime.now(ZoneInfo(world.sales_a.time_zone)).date()
    week_end = today + dt.timedelta(days=6 - today.weekday())
    with database.session() as s:
        mine = partners.create(
            s, world.sales_a, {"name": "Stavby Příbram s.r.o.", "domains": "stavby-pribram.cz"}
        )
        theirs = partners.create(
            s, world.sales_b, {"name": "Budimex Kraków", "domains": "budimex-krakow.pl"}
        )

        def task(title: str, due: dt.date | None, kind: str = "task", **more: object) -> int:
            return activities.create(
                s,
                more.pop("actor", world.sales_a),  # type: ignore[arg-type]
                {
                    "kind": kind,
                    "title": title,
                    "partner_id": more.pop("partner", mine.id),
                    "due_date": due.isoformat() if due else "",
                    **more,
                },
            ).id

        ids = {
            "overdue": task("Zapomenutá nabídka", today - dt.timedelta(days=2)),
            "today": task("Zavolat panu Dvořákovi", today, kind="call"),
        }
        if week_end > today:
            ids["week"] = task("Schůzka na stavbě", week_end, kind="meeting")
        task("Příští měsíc", today + dt.timedelta(days=30))
        task("Hotovo", today, done=True)
        task("Bez termínu", None)
        task("Úkol kolegy", today, actor=world.sales_a2)
        task("Zadanie Zofii", today, actor=world.sales_b, partner=theirs.id)
        deals.create(
            s,
            world.sales_a,
            {"title": "Hala Příbram", "partner_id": mine.id, "value": "2500000"},
        )
        deals.create(
            s,
            world.sales_a,
            {"title": "Sklad Brno", "partner_id": mine.id, "value": "1000", "currency": "EUR"},
        )
        deals.create(s, world.sales_b, {"title": "Magazyn", "partner_id": theirs.id, "value": "99"})
        archive = Archive(s, BlobStore(database.settings.blob_dir), RuleFiler())
        archive.ingest(
            make_mail(subject="Objednávka haly"),
            Source(kind="upload", key="u1", user_id=world.sales_a.id, explicit=True),
        )
        archive.ingest(
            make_mail(subject="Zamówienie", sender=("Piotr", "piotr@budimex-krakow.pl")),
            Source(kind="upload", key="u2", user_id=world.sales_b.id, explicit=True),
        )
        archive.ingest(
            make_mail(subject="Poptávka neznámého", sender=("Nový", "info@novy-zakaznik.cz")),
            Source(kind="upload", key="u3", user_id=world.sales_a.id, explicit=True),
        )
    return ids


def test_login_lands_on_my_day_with_what_is_due_mail_and_deals(
    client: FlaskClient, database: Database, world: World
) -> None:
    ids = seed(database, world)
    login(client, world.sales_a)
    home = client.get("/")
    assert home.status_code == 200
    html = home.get_data(as_text=True)
    tasks = section(html, "h-tasks")
    assert "Zapomenutá nabídka" in tasks and "Zavolat panu Dvořákovi" in tasks
    for not_mine_or_not_now in ("Příští měsíc", "Hotovo", "Bez termínu", "Úkol kolegy", "Zofii"):
        assert not_mine_or_not_now not in tasks
    overdue = re.search(r'<li class="overdue">.*?</li>', html, re.S)
    assert (
        overdue and "Zapomenutá nabídka" in overdue.group(0) and "overdue" in text(overdue.group(0))
    )
    # overdue first, then today, then the rest of the week
    order = [tasks.index("Zapomenutá nabídka"), tasks.index("Zavolat panu Dvořákovi")]
    if "week" in ids:
        order.append(tasks.index("Schůzka na stavbě"))
    assert order == sorted(order)

    triage = section(html, "h-triage")
    assert "Poptávka neznámého" in triage and "Objednávka" not in triage
    newest = section(html, "h-mail")
    assert "Objednávka haly" in newest and "Zamówienie" not in newest  # team B's stays hidden
    my_deals = section(html, "h-deals")
    assert "CZK2,500,000.00" in my_deals and "€1,000.00" in my_deals  # each in its currency
    assert "2,501,000" not in my_deals and "99" not in my_deals


def test_marking_a_task_done_on_my_day_comes_back_to_it(
    client: FlaskClient, database: Database, world: World
) -> None:
    ids = seed(database, world)
    login(client, world.sales_a)
    client.get("/")
    done = post_form(client, f"/activities/{ids['today']}/done", {"next": "/"})
    assert done.status_code == 302 and done.headers["Location"] == "/"
    assert "Zavolat panu Dvořákovi" not in section(
        client.get("/").get_data(as_text=True), "h-tasks"
    )


def test_my_day_speaks_the_users_language(
    client: FlaskClient, database: Database, world: World
) -> None:
    seed(database, world)
    login(client, world.sales_a)
    for language, words in {
        "cs": ("Můj den", "Po termínu"),
        "sk": ("Môj deň", "Po termíne"),
        "pl": ("Mój dzień", "Zaległe"),
    }.items():
        post_form(client, "/language", {"language": language, "next": "/"})
        page = text(client.get("/").get_data(as_text=True))
        assert all(w in page for w in words), (language, words)


def test_without_login_home_asks_to_log_in(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
