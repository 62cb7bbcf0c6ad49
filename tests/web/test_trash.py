"""Delete asks first, naming what goes with the record; deleted records go to a trash an admin
restores from for 30 days; after that they are gone for good (issue 10, "Delete")."""

from __future__ import annotations

import datetime as dt
import re

from flask.testing import FlaskClient
from sqlalchemy import select

from crm import trash
from crm.audit import AuditEntry
from crm.blobs import BlobStore
from crm.db import Database
from crm.models import Activity, Partner, Person, utcnow
from crm.services.activities import activities
from crm.services.deals import deals
from crm.services.partners import partners
from crm.services.persons import persons
from mail_archive.filing import RuleFiler
from mail_archive.ingest import Archive, Source
from mail_archive.models import MessageLink
from tests.conftest import World, login, post_form
from tests.mailfactory import make_mail
from tests.web.conftest import flashes, text


def seed(database: Database, world: World) -> dict[str, int]:
    with database.session() as s:
        p = partners.create(
            s, world.sales_a, {"name": "Stavby Příbram s.r.o.", "domains": "stavby-pribram.cz"}
        )
        jan = persons.create(
            s,
            world.sales_a,
            {"partner_id": p.id, "name": "Jan Novák", "emails": "jan.novak@stavby-pribram.cz"},
        )
        persons.create(s, world.sales_a, {"partner_id": p.id, "name": "Eva Malá"})
        archive = Archive(s, BlobStore(database.settings.blob_dir), RuleFiler())
        filed = archive.ingest(
            make_mail(subject="Nabídka haly"),
            Source(kind="upload", key="u1", user_id=world.sales_a.id, explicit=True),
        )
        return {"partner": p.id, "person": jan.id, "message": filed.message_id or 0}


def ingest(database: Database, world: World, key: str, subject: str) -> int:
    with database.session() as s:
        archive = Archive(s, BlobStore(database.settings.blob_dir), RuleFiler())
        return (
            archive.ingest(
                make_mail(subject=subject, message_id=f"<{key}@stavby-pribram.cz>"),
                Source(kind="upload", key=key, user_id=world.sales_a.id, explicit=True),
            ).message_id
            or 0
        )


def links_of(database: Database, message_id: int) -> list[tuple[str, int]]:
    with database.session() as s:
        return [
            (link.record_type, link.record_id)
            for link in s.scalars(select(MessageLink).where(MessageLink.message_id == message_id))
            if not link.removed
        ]


def test_deleting_a_partner_asks_names_what_goes_and_an_admin_restores_it(
    client: FlaskClient, database: Database, world: World
) -> None:
    ids = seed(database, world)
    login(client, world.sales_a)
    show = client.get(f"/partners/{ids['partner']}").get_data(as_text=True)
    assert f'href="/partners/{ids["partner"]}/delete"' in show  # a link to the question
    question = client.get(f"/partners/{ids['partner']}/delete")
    asked = text(question.get_data(as_text=True))
    assert question.status_code == 200
    assert "Delete the partner “Stavby Příbram s.r.o.”?" in asked
    assert "2 contact persons" in asked and "1 filed message" in asked
    assert "stavby-pribram.cz" in asked and "30 days" in asked
    with database.session() as s:
        assert s.get(Partner, ids["partner"]) is not None  # asking deleted nothing

    done = post_form(client, f"/partners/{ids['partner']}/delete", {"version": "1"})
    assert done.status_code == 302 and done.headers["Location"] == "/partners/"
    assert any(
        "restore it from the trash" in f for f in flashes(client.get("/").get_data(as_text=True))
    )
    # gone for every user and every page: the partner, its persons, its mail's filing
    assert client.get(f"/partners/{ids['partner']}").status_code == 404
    assert client.get(f"/persons/{ids['person']}").status_code == 404
    assert "Stavby Příbram" not in client.get("/partners/").get_data(as_text=True)
    assert "Stavby Příbram" not in client.get(f"/mail/{ids['message']}").get_data(as_text=True)
    # new mail from its domain no longer files to it: it waits in triage
    later = ingest(database, world, "u2", "Další poptávka")
    assert links_of(database, later) == []
    login(client, world.admin)
    assert client.get(f"/partners/{ids['partner']}").status_code == 404  # admins too

    listed = client.get("/admin/trash").get_data(as_text=True)
    rows = re.findall(r"<tr>(.*?)</tr>", listed.split("<tbody>")[1], re.S)
    assert len(rows) == 1 and "Stavby Příbram s.r.o." in rows[0] and "Jana Nováková" in rows[0]
    restored = post_form(client, f"/admin/trash/partner/{ids['partner']}/restore", {})
    assert restored.status_code == 302
    assert restored.headers["Location"] == f"/partners/{ids['partner']}"
    page = text(client.get(restored.headers["Location"]).get_data(as_text=True))
    assert "Jan Novák" in page and "Eva Malá" in page and "Nabídka haly" in page
    assert ("partner", ids["partner"]) in links_of(database, ids["message"])
    assert links_of(database, ingest(database, world, "u3", "Třetí")) != []  # files again
    assert "The trash is empty." in client.get("/admin/trash").get_data(as_text=True)
    with database.session() as s:
        actions = [
            e.action
            for e in s.scalars(
                select(AuditEntry).where(
                    AuditEntry.record_type == "partner",
                    AuditEntry.record_id == ids["partner"],
                    AuditEntry.action.in_(("delete", "restore")),
                )
            )
        ]
        assert actions == ["delete", "restore"]


def test_what_cannot_be_deleted_says_why_instead_of_asking(
    client: FlaskClient, database: Database, world: World
) -> None:
    ids = seed(database, world)
    with database.session() as s:
        deals.create(s, world.sales_a, {"title": "Hala", "partner_id": ids["partner"]})
    login(client, world.sales_a)
    client.post("/language", data={"language": "cs"})
    for language, reason in {
        "en": "the partner has deals",
        "cs": "partner má obchody",
    }.items():
        post_form(client, "/language", {"language": language, "next": "/"})
        page = client.get(f"/partners/{ids['partner']}/delete")
        assert page.status_code == 409 and reason in text(page.get_data(as_text=True))
        assert 'type="submit" class="danger"' not in page.get_data(as_text=True)


def test_only_who_may_delete_is_asked_and_a_stale_question_deletes_nothing(
    client: FlaskClient, database: Database, world: World
) -> None:
    ids = seed(database, world)
    login(client, world.sales_a2)  # a colleague sees the shared partner but may not delete it
    assert client.get(f"/partners/{ids['partner']}/delete").status_code == 403
    assert post_form(client, f"/partners/{ids['partner']}/delete", {}).status_code == 403
    login(client, world.sales_b)  # another team does not even see it
    assert client.get(f"/partners/{ids['partner']}/delete").status_code == 404
    login(client, world.sales_a)
    client.get(f"/partners/{ids['partner']}/delete")
    with database.session() as s:
        partners.update(s, world.manager_a, ids["partner"], {"note": "pozor, velký zákazník"})
    stale = post_form(client, f"/partners/{ids['partner']}/delete", {"version": "1"})
    assert stale.status_code == 302 and stale.headers["Location"] == f"/partners/{ids['partner']}"
    assert client.get(f"/partners/{ids['partner']}").status_code == 200
    # without the page's token nothing is deleted
    assert client.post(f"/partners/{ids['partner']}/delete", data={}).status_code == 400
    assert client.get(f"/partners/{ids['partner']}").status_code == 200


def test_a_person_waits_for_its_partner_and_the_trash_is_for_admins(
    client: FlaskClient, database: Database, world: World
) -> None:
    ids = seed(database, world)
    login(client, world.sales_a)
    assert "1 filed message" in text(
        client.get(f"/persons/{ids['person']}/delete").get_data(as_text=True)
    )
    post_form(client, f"/persons/{ids['person']}/delete", {})
    post_form(client, f"/partners/{ids['partner']}/delete", {})
    assert client.get("/admin/trash").status_code == 403
    assert (
        post_form(client, f"/admin/trash/partner/{ids['partner']}/restore", {}).status_code == 403
    )
    login(client, world.admin)
    listed = text(client.get("/admin/trash").get_data(as_text=True))
    assert "Restore the partner “Stavby Příbram s.r.o.” first" in listed
    refused = post_form(client, f"/admin/trash/person/{ids['person']}/restore", {})
    assert refused.status_code == 302
    assert any(
        "restore the partner “Stavby Příbram s.r.o.” first" in f
        for f in flashes(client.get("/admin/trash").get_data(as_text=True))
    )
    for url in (
        f"/admin/trash/person/{ids['partner'] + 999}/restore",
        "/admin/trash/user/1/restore",
        f"/admin/trash/message/{ids['message']}/restore",
    ):
        assert post_form(client, url, {}).status_code == 404, url
    assert client.post(f"/admin/trash/partner/{ids['partner']}/restore").status_code == 400
    post_form(client, f"/admin/trash/partner/{ids['partner']}/restore", {})
    post_form(client, f"/admin/trash/person/{ids['person']}/restore", {})
    assert client.get(f"/persons/{ids['person']}").status_code == 200


def test_after_thirty_days_the_trash_removes_for_good(database: Database, world: World) -> None:
    ids = seed(database, world)
    with database.session() as s:
        task = activities.create(
            s, world.sales_a, {"kind": "task", "title": "Zavolat", "partner_id": ids["partner"]}
        )
        activities.delete(s, world.sales_a, task.id)
    with database.session() as s:
        partners.delete(s, world.sales_a, ids["partner"])  # its task went to the trash first
    with database.session() as s:
        assert trash.purge(s, now=utcnow() + dt.timedelta(days=29)) == 0
    with database.session() as s:
        assert trash.purge(s, now=utcnow() + dt.timedelta(days=31)) == 2
    assert links_of(database, ids["message"]) == []  # the mail stays, unfiled
    with database.session() as s:
        assert s.get(Partner, ids["partner"]) is None and s.get(Activity, task.id) is None
        assert s.get(Person, ids["person"]) is None  # went with its partner
        assert trash.items(s, world.admin).total == 0
        purged = s.scalars(select(AuditEntry).where(AuditEntry.action == "purge")).all()
        assert {(e.record_type, e.record_id) for e in purged} == {
            ("partner", ids["partner"]),
            ("activity", task.id),
        }
