"""The audit log: every write path appends its entry in the change's own transaction, with who,
what, which record and the changed fields as [old, new]; backups carry the log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from crm.backup import backup, restore
from crm.db import Database
from crm.errors import AuthenticationFailed, ValidationError
from crm.models import AuditEntry
from crm.services import users
from crm.services.activities import activities
from crm.services.deals import deals
from crm.services.importer import import_partners_from_bytes
from crm.services.partners import partners
from crm.services.persons import persons
from crm.services.users import create_token
from crm.settings import Settings
from mail_archive import service as mail
from mail_archive.models import Message
from tests.conftest import World, login, post_form
from tests.connector.conftest import add_imap
from tests.mail_archive import conftest as mail_fixtures
from tests.mail_archive.conftest import Dossier, Ingest, imap_source
from tests.mailfactory import make_mail
from tests.servers.dovecot import Dovecot
from tests.servers.fixtures import ImapUser
from tests.servers.smtp import smtp_server

dossier = mail_fixtures.dossier  # the mail tests' partner, person and deal (fixture)
ingest = mail_fixtures.ingest

# What a test expects of one entry: action, record type, record id, actor (user id or label),
# and fields whose [old, new] must be as given (other fields may be there too).
Expected = tuple[str, str, int | None, int | str, dict[str, list[Any]]]


@dataclass
class Ctx:
    database: Database
    world: World
    dossier: Dossier
    ingest: Ingest
    client: FlaskClient


def entries_after(database: Database, last_id: int) -> list[AuditEntry]:
    with database.session() as s:
        rows = list(
            s.scalars(select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id))
        )
        s.expunge_all()
        return rows


def last_id(database: Database) -> int:
    with database.session() as s:
        return int(s.scalar(select(func.max(AuditEntry.id))) or 0)


def matches(entry: AuditEntry, expected: Expected) -> bool:
    action, record_type, record_id, actor, fields = expected
    who = entry.actor_id if isinstance(actor, int) else entry.actor_label
    return (entry.action, entry.record_type, entry.record_id, who) == (
        action,
        record_type,
        record_id,
        actor,
    ) and all((entry.changes or {}).get(k) == v for k, v in fields.items())


# -- the write paths --------------------------------------------------------------------------


def partner_update(c: Ctx) -> list[Expected]:
    with c.database.session() as s:
        partners.update(s, c.world.sales_a2, c.dossier.partner_id, {"city": "Beroun"})
    return [
        ("update", "partner", c.dossier.partner_id, c.world.sales_a2.id, {"city": [None, "Beroun"]})
    ]


def partner_create_and_delete(c: Ctx) -> list[Expected]:
    with c.database.session() as s:
        p = partners.create(s, c.world.sales_a, {"name": "Zámečnictví Beroun", "category": "C"})
        pid = p.id
    with c.database.session() as s:
        partners.delete(s, c.world.sales_a, pid)
    who = c.world.sales_a.id
    return [
        (
            "create",
            "partner",
            pid,
            who,
            {"name": [None, "Zámečnictví Beroun"], "category": [None, "C"]},
        ),
        ("delete", "partner", pid, who, {"name": ["Zámečnictví Beroun", None]}),
    ]


def person_paths(c: Ctx) -> list[Expected]:
    with c.database.session() as s:
        person = persons.create(
            s, c.world.sales_a, {"partner_id": c.dossier.partner_id, "name": "Eva Malá"}
        )
        pid = person.id
    with c.database.session() as s:
        persons.update(s, c.world.sales_a, pid, {"function": "účetní"})
    with c.database.session() as s:
        persons.delete(s, c.world.sales_a, pid)
    who = c.world.sales_a.id
    return [
        ("create", "person", pid, who, {"partner_id": [None, c.dossier.partner_id]}),
        ("update", "person", pid, who, {"function": [None, "účetní"]}),
        ("delete", "person", pid, who, {}),
    ]


def deal_update(c: Ctx) -> list[Expected]:
    with c.database.session() as s:
        deals.update(s, c.world.sales_a, c.dossier.deal_id, {"value": "2600000.50"})
    # decimals are kept as exact strings
    return [
        ("update", "deal", c.dossier.deal_id, c.world.sales_a.id, {"value": [None, "2600000.50"]})
    ]


def deal_delete(c: Ctx) -> list[Expected]:
    with c.database.session() as s:
        d = deals.create(s, c.world.sales_a, {"title": "Sklad", "partner_id": c.dossier.partner_id})
        did = d.id
    with c.database.session() as s:
        deals.delete(s, c.world.sales_a, did)
    who = c.world.sales_a.id
    return [
        ("create", "deal", did, who, {"title": [None, "Sklad"]}),
        ("delete", "deal", did, who, {"title": ["Sklad", None]}),
    ]


def activity_with_follow_up(c: Ctx) -> list[Expected]:
    day = dt.date(2027, 3, 1)
    with c.database.session() as s:
        a = activities.create(
            s,
            c.world.sales_a,
            {
                "kind": "call",
                "title": "Hovor o hale",
                "partner_id": c.dossier.partner_id,
                "next_contact_date": day.isoformat(),
            },
        )
        aid = a.id
        follow_up = aid + 1
    with c.database.session() as s:
        activities.delete(s, c.world.sales_a, follow_up)
    who = c.world.sales_a.id
    return [
        ("create", "activity", aid, who, {"next_contact_date": [None, "2027-03-01"]}),
        ("create", "activity", follow_up, who, {}),  # the follow-up task
        ("delete", "activity", follow_up, who, {}),
    ]


def deal_action_and_close(c: Ctx) -> list[Expected]:
    with c.database.session() as s:
        task, _ = activities.deal_action(
            s, c.world.sales_a, c.dossier.deal_id, "task", {"title": "Poslat nabídku"}
        )
        note, _ = activities.deal_action(
            s, c.world.sales_a, c.dossier.deal_id, "close", {"status": "won"}
        )
        ids = task.id, note.id
    who = c.world.sales_a.id
    return [
        ("create", "activity", ids[0], who, {"title": [None, "Poslat nabídku"]}),
        ("update", "deal", c.dossier.deal_id, who, {"status": ["open", "won"]}),
        ("create", "activity", ids[1], who, {"kind": [None, "note"]}),
    ]


def made_private(c: Ctx) -> list[Expected]:
    with c.database.session() as s:
        partners.update(s, c.world.sales_a, c.dossier.partner_id, {"private": True})
    who = c.world.sales_a.id
    return [
        ("update", "partner", c.dossier.partner_id, who, {"private": [False, True]}),
        ("update", "deal", c.dossier.deal_id, who, {"private": [False, True]}),
    ]


def import_by_user(c: Ctx) -> list[Expected]:
    report = import_partners_from_bytes(
        c.database, "Název;Město\nPila Šumava;Vimperk\n".encode(), c.world.manager_a.email
    )
    assert report.created == 1, report
    with c.database.session() as s:
        pid = s.scalars(select(func.max(AuditEntry.record_id))).one()
    return [("create", "partner", pid, c.world.manager_a.id, {"name": [None, "Pila Šumava"]})]


def mail_filed_by_sync(c: Ctx) -> list[Expected]:
    result = c.ingest(make_mail(subject="Poptávka"), imap_source(c.world.sales_a.id, 1))
    mid = result.message_id
    who = c.world.sales_a.id
    return [
        ("file", "partner", c.dossier.partner_id, who, {"message_id": [None, mid]}),
        ("file", "person", c.dossier.person_id, who, {"message_id": [None, mid]}),
    ]


def mail_link_unlink_dismiss(c: Ctx) -> list[Expected]:
    triaged = c.ingest(
        make_mail(sender=("Neznámý", "nekdo@example.org")),
        imap_source(c.world.sales_a.id, 3, folder="CRM", explicit=True),
    ).message_id
    other = c.ingest(
        make_mail(subject="Reklama", sender=("Spam", "spam@example.org")),
        imap_source(c.world.sales_a.id, 4, folder="CRM", explicit=True),
    ).message_id
    assert triaged and other
    with c.database.session() as s:
        user = s.get(type(c.world.sales_a), c.world.sales_a.id)
        assert user is not None
        m = mail.load_message(s, user, triaged)
        link = mail.add_link(s, user, m, "deal", c.dossier.deal_id)
        s.flush()
        mail.remove_link(s, user, m, link.id)
        mail.dismiss(s, user, mail.load_message(s, user, other))
    who = c.world.sales_a.id
    return [
        ("link", "deal", c.dossier.deal_id, who, {"message_id": [None, triaged]}),
        ("unlink", "deal", c.dossier.deal_id, who, {"message_id": [triaged, None]}),
        ("dismiss", "message", other, who, {"status": ["triage", "dismissed"]}),
    ]


def fetched(response: Any) -> int:
    """The status of a streamed file answer, closed (its file handle with it)."""
    response.close()
    return int(response.status_code)


def downloads(c: Ctx) -> list[Expected]:
    mid = c.ingest(
        make_mail(attachments=[("nabidka.pdf", "application/pdf", b"%PDF-1.4 x")]),
        imap_source(c.world.sales_a.id, 5),
    ).message_id
    login(c.client, c.world.sales_a)
    assert fetched(c.client.get(f"/mail/{mid}/raw")) == 200
    with c.database.session() as s:
        position = s.get(Message, mid).attachments[0].position  # type: ignore[union-attr]
        token = create_token(s, c.world.sales_a2.email, "test")
    assert fetched(c.client.get(f"/mail/{mid}/attachments/{position}")) == 200
    api = {"Authorization": f"Bearer {token}"}
    assert fetched(c.client.get(f"/api/v1/messages/{mid}/raw", headers=api)) == 200
    jana, petr = c.world.sales_a.id, c.world.sales_a2.id
    return [
        ("download", "message", mid, jana, {"raw": [None, True]}),
        ("download", "message", mid, jana, {"attachment": [None, "nabidka.pdf"]}),
        ("download", "message", mid, petr, {"raw": [None, True]}),
    ]


def sign_ins(c: Ctx) -> list[Expected]:
    email = c.world.sales_a.email
    with c.database.session() as s:
        users.log_in(s, email, World.password, "192.0.2.7")
    with c.database.session() as s:
        with pytest.raises(AuthenticationFailed):
            users.log_in(s, email, "wrong", "192.0.2.8")
        s.commit()  # the failure is kept, as the login view does
    with c.database.session() as s:
        with pytest.raises(AuthenticationFailed):
            users.log_in(s, "nikdo@firma.cz", "wrong", "192.0.2.9")
        s.commit()
    uid = c.world.sales_a.id
    return [
        ("sign-in", "user", uid, uid, {"address": [None, "192.0.2.7"]}),
        ("sign-in-failed", "user", uid, "address:192.0.2.8", {"email": [None, email]}),
        ("sign-in-failed", "user", None, "address:192.0.2.9", {"email": [None, "nikdo@firma.cz"]}),
    ]


def web_login(c: Ctx) -> list[Expected]:
    login(c.client, c.world.sales_b)
    uid = c.world.sales_b.id
    return [("sign-in", "user", uid, uid, {})]


WRITE_PATHS: list[Callable[[Ctx], list[Expected]]] = [
    partner_update,
    partner_create_and_delete,
    person_paths,
    deal_update,
    deal_delete,
    activity_with_follow_up,
    deal_action_and_close,
    made_private,
    import_by_user,
    mail_filed_by_sync,
    mail_link_unlink_dismiss,
    downloads,
    sign_ins,
    web_login,
]


@pytest.fixture
def ctx(
    database: Database, world: World, dossier: Dossier, ingest: Ingest, client: FlaskClient
) -> Ctx:
    return Ctx(database, world, dossier, ingest, client)


@pytest.mark.parametrize("path", WRITE_PATHS, ids=lambda f: f.__name__)
def test_every_write_path_writes_its_entry(ctx: Ctx, path: Callable[[Ctx], list[Expected]]) -> None:
    before = last_id(ctx.database)
    expected = path(ctx)
    found = entries_after(ctx.database, before)
    for want in expected:
        seen = [(e.action, e.record_type, e.record_id, e.actor_label, e.changes) for e in found]
        assert any(matches(e, want) for e in found), f"no entry {want} among {seen}"
    assert all(e.at.tzinfo is not None for e in found)
    labels = {e.actor_id: e.actor_label for e in found if e.actor_id == ctx.world.sales_a.id}
    assert set(labels.values()) <= {"Jana Nováková <jana@firma.cz>"}


def test_a_refused_change_leaves_no_entry(
    database: Database, world: World, dossier: Dossier
) -> None:
    before = last_id(database)
    with database.session() as s, pytest.raises(ValidationError):
        partners.update(s, world.sales_a, dossier.partner_id, {"category": "Z"})
    with pytest.raises(RuntimeError), database.session() as s:
        partners.update(s, world.sales_a, dossier.partner_id, {"city": "Beroun"})
        raise RuntimeError("the transaction fails after the change")
    assert entries_after(database, before) == []


def test_saving_an_unchanged_form_records_no_field_change(
    database: Database, world: World, dossier: Dossier
) -> None:
    before = last_id(database)
    with database.session() as s:
        partners.update(s, world.sales_a, dossier.partner_id, {"city": "", "note": None})
    (entry,) = entries_after(database, before)
    assert entry.changes is None


def test_backup_and_restore_keep_the_log(
    database: Database, settings: Settings, world: World, dossier: Dossier, tmp_path: Path
) -> None:
    with database.session() as s:
        partners.update(s, world.sales_a, dossier.partner_id, {"city": "Beroun"})
    with database.session() as s:
        kept = [
            (e.at, e.actor_id, e.actor_label, e.action, e.record_type, e.record_id, e.changes)
            for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
    archive = tmp_path / "backup.tar.gz"
    backup(settings, archive)
    with database.session() as s:
        partners.update(s, world.sales_a, dossier.partner_id, {"city": "Kladno"})
    restore(settings, archive)
    with database.session() as s:
        back = [
            (e.at, e.actor_id, e.actor_label, e.action, e.record_type, e.record_id, e.changes)
            for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
    assert back == kept
    assert any(row[6] == {"city": [None, "Beroun"]} for row in back)


def test_sending_writes_a_send_entry(
    client: FlaskClient,
    database: Database,
    world: World,
    dossier: Dossier,
    dovecot: Dovecot,
    imap_user: ImapUser,
) -> None:
    with smtp_server(imap_user.name, imap_user.password, require_auth=True) as smtp:
        account_id = add_imap(database, imap_user, world.sales_a.email, "jana", smtp)
        login(client, world.sales_a)
        before = last_id(database)
        sent = post_form(
            client,
            "/mail/compose",
            {
                "account_id": account_id,
                "to": "jan.novak@stavby-pribram.cz",
                "subject": f"Nabídka [D-{dossier.deal_id}]",
                "body": "Dobrý den.",
            },
        )
        assert sent.status_code == 302, sent.get_data(as_text=True)
        smtp.wait_for(1)
    with database.session() as s:
        message_id = s.scalars(select(Message.id)).one()
    found = entries_after(database, before)
    send = [e for e in found if e.action == "send"]
    assert [(e.record_type, e.record_id, e.actor_id) for e in send] == [
        ("message", message_id, world.sales_a.id)
    ]
    assert send[0].changes == {
        "to": [None, "jan.novak@stavby-pribram.cz"],
        "subject": [None, f"Nabídka [D-{dossier.deal_id}]"],
    }
    # and what was sent is filed to the deal, by Jana
    assert any(e.action == "file" and e.record_type == "deal" for e in found)
