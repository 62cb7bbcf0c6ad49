"""The outbox (issue 9 §1): every write path's entry, readers with their own positions, no gaps.

The write-path table lists each committed change that alters what a record shows or who may
see it, and the entries it must leave: (entity, id, action, payload keys and values).
The reader tests use real concurrent transactions on PostgreSQL, where ids commit out of order.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from crm import outbox
from crm.cli import main
from crm.db import Database
from crm.errors import NotFound
from crm.models import OutboxEntry, User
from crm.services.activities import activities
from crm.services.deals import deals
from crm.services.importer import import_partners_from_bytes
from crm.services.partners import partners
from crm.services.persons import persons
from crm.settings import Settings
from mail_archive import service as mail
from tests.conftest import World
from tests.mail_archive import conftest as mail_fixtures
from tests.mail_archive.conftest import Dossier, Ingest, imap_source, upload_source
from tests.mailfactory import make_mail

dossier = mail_fixtures.dossier  # the mail tests' partner, person and deal (fixture)
ingest = mail_fixtures.ingest

# entity, entity id, action, payload items that must be there (others may be too)
Want = tuple[str, int, str, dict[str, Any]]


@dataclass
class Ctx:
    database: Database
    world: World
    dossier: Dossier
    ingest: Ingest

    def user(self, s: Any, user: User) -> User:
        found = s.get(User, user.id)
        assert found is not None
        return found


def newest_id(database: Database) -> int:
    with database.session() as s:
        return int(s.scalar(select(func.max(OutboxEntry.id))) or 0)


def entries_after(database: Database, last: int) -> list[tuple[str, int, str, dict[str, Any]]]:
    with database.session() as s:
        rows = s.scalars(select(OutboxEntry).where(OutboxEntry.id > last).order_by(OutboxEntry.id))
        return [(r.entity, r.entity_id, r.action, dict(r.payload or {})) for r in rows]


def filed_mail(c: Ctx, uid: int, **kw: Any) -> int:
    """A mail from the dossier's person, filed by the rules to partner, person (and nothing
    else: the deal is not named)."""
    result = c.ingest(
        make_mail(subject=f"Poptávka {uid}", **kw), imap_source(c.world.sales_a.id, uid)
    )
    assert result.message_id is not None
    return result.message_id


# -- the write paths --------------------------------------------------------------------------


def partner_create_update_delete(c: Ctx) -> list[Want]:
    with c.database.session() as s:
        p = partners.create(s, c.world.sales_a, {"name": "Pila Vimperk", "city": "Vimperk"})
        pid = p.id
        person = persons.create(s, c.world.sales_a, {"partner_id": pid, "name": "Eva Malá"})
        person_id = person.id
    with c.database.session() as s:
        partners.update(s, c.world.sales_a, pid, {"city": "Prachatice"})
    with c.database.session() as s:
        partners.delete(s, c.world.sales_a, pid)  # its persons go with it (ON DELETE CASCADE)
    return [
        ("partner", pid, "create", {}),
        ("partner", pid, "update", {"fields": ["city"]}),
        ("person", person_id, "visibility", {"because": [f"partner:{pid}"], "fields": ["deleted"]}),
        ("partner", pid, "delete", {}),
    ]


def person_update(c: Ctx) -> list[Want]:
    with c.database.session() as s:
        persons.update(s, c.world.sales_a, c.dossier.person_id, {"phones": "+420 601 111 222"})
    return [("person", c.dossier.person_id, "update", {"fields": ["phones"]})]


def deal_close(c: Ctx) -> list[Want]:
    with c.database.session() as s:
        deals.close(s, c.world.sales_a, c.dossier.deal_id, {"status": "won"})
    fields = ["closed_at", "probability", "status"]
    return [("deal", c.dossier.deal_id, "update", {"fields": fields})]


def activity_follow_up(c: Ctx) -> list[Want]:
    with c.database.session() as s:
        call = activities.create(
            s,
            c.world.sales_a,
            {
                "kind": "call",
                "title": "Hovor o hale",
                "partner_id": c.dossier.partner_id,
                "next_contact_date": "2027-03-01",
            },
        )
        call_id = call.id
    return [
        ("activity", call_id, "create", {}),
        ("activity", call_id + 1, "create", {"follow_up": True}),
    ]


def partner_made_private(c: Ctx) -> list[Want]:
    message_id = filed_mail(c, 11)
    with c.database.session() as s:
        deal_message = c.ingest(
            make_mail(subject="K zakázce"), upload_source(c.world.sales_a.id, "deal-mail")
        ).message_id
        assert deal_message is not None
        mail.add_link(
            s,
            c.user(s, c.world.sales_a),
            mail.load_message(s, c.world.sales_a, deal_message),
            "deal",
            c.dossier.deal_id,
        )
    with c.database.session() as s:
        partners.update(s, c.world.sales_a, c.dossier.partner_id, {"private": True})
    because = {"because": [f"partner:{c.dossier.partner_id}"], "fields": ["private"]}
    return [
        ("partner", c.dossier.partner_id, "update", {"fields": ["private"]}),
        ("person", c.dossier.person_id, "visibility", because),
        ("message", message_id, "visibility", because),
        # the deal goes private with its partner, and the mail filed to the deal follows it
        ("deal", c.dossier.deal_id, "update", {"fields": ["private"]}),
        ("message", deal_message, "visibility", {"because": [f"deal:{c.dossier.deal_id}"]}),
    ]


def partner_moved_to_another_group(c: Ctx) -> list[Want]:
    message_id = filed_mail(c, 12)
    team_b = c.world.sales_b.group_ids[0]
    with c.database.session() as s:
        partners.update(
            s,
            c.world.admin,
            c.dossier.partner_id,
            {"group_id": team_b, "salesperson_id": c.world.sales_b.id},
        )
    because = {
        "because": [f"partner:{c.dossier.partner_id}"],
        "fields": ["group_id", "salesperson_id"],
    }
    return [
        ("partner", c.dossier.partner_id, "update", {"fields": ["group_id", "salesperson_id"]}),
        ("person", c.dossier.person_id, "visibility", because),
        ("message", message_id, "visibility", because),
    ]


def deal_given_to_a_colleague(c: Ctx) -> list[Want]:
    with c.database.session() as s:
        deals.update(
            s, c.world.manager_a, c.dossier.deal_id, {"salesperson_id": c.world.sales_a2.id}
        )
    return [("deal", c.dossier.deal_id, "update", {"fields": ["salesperson_id"]})]


def mail_filed_and_duplicate_adds_links(c: Ctx) -> list[Want]:
    raw = make_mail(subject="Nabídka haly")
    first = c.ingest(raw, imap_source(c.world.sales_a.id, 13)).message_id
    assert first is not None
    # the same message again, uploaded to the deal: the copy adds the deal's link
    again = c.ingest(raw, upload_source(c.world.sales_a.id, "again", deal_id=c.dossier.deal_id))
    assert again.message_id == first and again.links
    return [
        ("message", first, "create", {}),
        ("message", first, "update", {"links": ["added"]}),
    ]


def mail_link_unlink_dismiss(c: Ctx) -> list[Want]:
    triaged = c.ingest(
        make_mail(sender=("Neznámý", "nekdo@example.org")),
        imap_source(c.world.sales_a.id, 14, folder="CRM", explicit=True),
    ).message_id
    other = c.ingest(
        make_mail(subject="Reklama", sender=("Spam", "spam@example.org")),
        imap_source(c.world.sales_a.id, 15, folder="CRM", explicit=True),
    ).message_id
    assert triaged and other
    with c.database.session() as s:
        user = c.user(s, c.world.sales_a)
        m = mail.load_message(s, user, triaged)
        link = mail.add_link(s, user, m, "deal", c.dossier.deal_id)
        s.flush()
        mail.remove_link(s, user, m, link.id)
        mail.dismiss(s, user, mail.load_message(s, user, other))
    return [
        ("message", triaged, "create", {}),
        ("message", triaged, "update", {"links": ["added"]}),
        ("message", triaged, "update", {"links": ["removed"]}),
        ("message", other, "update", {"fields": ["status"]}),
    ]


def import_creates(c: Ctx) -> list[Want]:
    report = import_partners_from_bytes(
        c.database, "Název;Město\nPila Šumava;Vimperk\n".encode(), c.world.manager_a.email
    )
    assert report.created == 1, report
    with c.database.session() as s:
        pid = int(
            s.scalar(select(func.max(OutboxEntry.entity_id)).where(OutboxEntry.entity == "partner"))
            or 0
        )
    return [("partner", pid, "create", {})]


WRITE_PATHS: list[Callable[[Ctx], list[Want]]] = [
    partner_create_update_delete,
    person_update,
    deal_close,
    activity_follow_up,
    partner_made_private,
    partner_moved_to_another_group,
    deal_given_to_a_colleague,
    mail_filed_and_duplicate_adds_links,
    mail_link_unlink_dismiss,
    import_creates,
]


@pytest.fixture
def ctx(database: Database, world: World, dossier: Dossier, ingest: Ingest) -> Ctx:
    return Ctx(database, world, dossier, ingest)


def has(found: list[tuple[str, int, str, dict[str, Any]]], want: Want) -> bool:
    entity, entity_id, action, payload = want
    return any(
        (e, i, a) == (entity, entity_id, action) and all(p.get(k) == v for k, v in payload.items())
        for e, i, a, p in found
    )


@pytest.mark.parametrize("path", WRITE_PATHS, ids=lambda f: f.__name__)
def test_every_write_path_writes_its_entry(ctx: Ctx, path: Callable[[Ctx], list[Want]]) -> None:
    before = newest_id(ctx.database)
    expected = path(ctx)
    found = entries_after(ctx.database, before)
    for want in expected:
        assert has(found, want), f"no entry {want} among {found}"
    assert all(isinstance(p, dict) for *_, p in found)


def test_a_visibility_change_names_only_what_follows_it(ctx: Ctx) -> None:
    """Moving the Kraków partner touches neither Příbram's person nor its mail."""
    filed_mail(ctx, 21)
    before = newest_id(ctx.database)
    with ctx.database.session() as s:
        partners.update(
            s,
            ctx.world.admin,
            ctx.dossier.other_partner_id,
            {"group_id": ctx.world.sales_a.group_ids[0]},
        )
    found = entries_after(ctx.database, before)
    assert [(e, i) for e, i, *_ in found] == [("partner", ctx.dossier.other_partner_id)]


def test_a_save_that_changes_nothing_tells_no_reader(ctx: Ctx) -> None:
    before = newest_id(ctx.database)
    with ctx.database.session() as s:
        partners.update(
            s, ctx.world.sales_a, ctx.dossier.partner_id, {"name": "Stavby Příbram s.r.o."}
        )
    assert entries_after(ctx.database, before) == []


def test_a_refused_change_writes_nothing(ctx: Ctx) -> None:
    before = newest_id(ctx.database)
    with pytest.raises(NotFound), ctx.database.session() as s:
        partners.update(s, ctx.world.sales_b, ctx.dossier.partner_id, {"city": "Kraków"})
    assert entries_after(ctx.database, before) == []


# -- readers ----------------------------------------------------------------------------------


def write_partners(database: Database, user: User, *names: str) -> list[int]:
    with database.session() as s:
        return [partners.create(s, user, {"name": n}).id for n in names]


def read_ids(database: Database, reader: str, *, ack: bool = True, limit: int = 100) -> list[int]:
    with database.session() as s:
        entries = outbox.read(s, reader, limit)
        if ack:
            outbox.acknowledge(s, reader, entries)
        return [e.entity_id for e in entries if e.entity == "partner"]


def test_each_reader_keeps_its_own_position(database: Database, world: World) -> None:
    with database.session() as s:
        outbox.register(s, "search")
        outbox.register(s, "calendar")
    first = write_partners(database, world.sales_a, "Alfa", "Beta")
    assert read_ids(database, "search") == first
    second = write_partners(database, world.sales_a, "Gama")
    assert read_ids(database, "search") == second
    # the calendar has read nothing yet: it gets everything, in order
    assert read_ids(database, "calendar") == first + second
    assert read_ids(database, "calendar") == []


def test_a_reader_that_crashes_resumes_where_it_acknowledged(
    database: Database, world: World
) -> None:
    with database.session() as s:
        outbox.register(s, "search")
    ids = write_partners(database, world.sales_a, "Alfa", "Beta", "Gama")

    class Crash(Exception):
        pass

    # the reader's own effect and its position live in one transaction: a crash undoes both
    with pytest.raises(Crash), database.session() as s:
        entries = outbox.read(s, "search", 2)
        s.add(User(email="effect@firma.cz", name="Effect", role="sales", password_hash="x"))
        outbox.acknowledge(s, "search", entries)
        s.flush()
        raise Crash
    with database.session() as s:
        assert s.scalar(select(User.id).where(User.email == "effect@firma.cz")) is None
    assert read_ids(database, "search", limit=2) == ids[:2]  # the same two again
    assert read_ids(database, "search") == ids[2:]


def test_a_reader_registered_at_the_head_skips_the_past(database: Database, world: World) -> None:
    write_partners(database, world.sales_a, "Stará")
    with database.session() as s:
        outbox.register(s, "late")
        outbox.register(s, "late", at="start")  # registered already: nothing changes
    new = write_partners(database, world.sales_a, "Nová")
    assert read_ids(database, "late") == new
    with pytest.raises(NotFound), database.session() as s:
        outbox.read(s, "nobody")


def test_prune_keeps_what_the_slowest_reader_has_not_passed(
    database: Database, world: World
) -> None:
    with database.session() as s:
        outbox.register(s, "fast")
        outbox.register(s, "slow")
    ids = write_partners(database, world.sales_a, "Alfa", "Beta", "Gama")
    read_ids(database, "fast")
    with database.session() as s:
        assert outbox.prune(s) == 0  # slow has read nothing
    with database.session() as s:
        entries = outbox.read(s, "slow", 1)
        outbox.acknowledge(s, "slow", entries)
    with database.session() as s:
        assert outbox.prune(s) == 1
    assert read_ids(database, "slow") == ids[1:]  # nothing slow still needs went
    with database.session() as s:
        outbox.unregister(s, "slow")
        outbox.unregister(s, "fast")
    with database.session() as s:
        outbox.prune(s)
    with database.session() as s:
        # the newest entry stays, so new entries never reuse an id a position has passed
        assert s.scalar(select(func.count(OutboxEntry.id))) == 1
        outbox.register(s, "again")
    assert read_ids(database, "again") == []
    assert read_ids(database, "again") == []
    new = write_partners(database, world.sales_a, "Delta")
    assert read_ids(database, "again") == new


def test_dossier_outbox_prints_each_readers_lag(
    database: Database, world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOSSIER_HOME", str(settings.home))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    empty = CliRunner().invoke(main, ["outbox"], catch_exceptions=False)
    assert empty.exit_code == 0 and "No reader is registered" in empty.output
    with database.session() as s:
        outbox.register(s, "search")
        outbox.register(s, "calendar")
    write_partners(database, world.sales_a, "Alfa", "Beta", "Gama")
    read_ids(database, "search")
    with database.session() as s:
        s.execute(
            OutboxEntry.__table__.update().values(
                created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
            )
        )
    result = CliRunner().invoke(main, ["outbox"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split()[1:] for line in result.output.splitlines()[1:3]}
    assert lines["calendar"] == ["3", "30", "min"]
    assert lines["search"] == ["0", "-"]


# -- no gaps on PostgreSQL --------------------------------------------------------------------


def only_postgres(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite serializes writers: ids commit in order there")


def test_an_id_committed_late_is_not_skipped(
    backend: str, database: Database, world: World
) -> None:
    """Writer A takes id 1, writer B id 2 and commits first; a reader polls between them."""
    only_postgres(backend)
    with database.session() as s:
        outbox.register(s, "search")
    a = database.new_session()
    b = database.new_session()
    try:
        late = partners.create(a, world.sales_a, {"name": "Pozdní"}).id
        a.flush()
        early = partners.create(b, world.sales_a, {"name": "Rychlá"}).id
        b.commit()
        assert late < early
        polled = read_ids(database, "search")
        assert late not in polled
        a.commit()
    finally:
        a.close()
        b.close()
    rest = read_ids(database, "search")
    seen = polled + rest
    assert sorted(seen) == sorted([late, early]) and len(seen) == 2


def test_an_older_transaction_with_a_later_id_is_not_skipped(
    backend: str, database: Database, world: World
) -> None:
    """B starts writing first (smaller transaction id) but takes its outbox id after A's."""
    only_postgres(backend)
    with database.session() as s:
        outbox.register(s, "search")
    a = database.new_session()
    b = database.new_session()
    try:
        b.add(User(email="b@firma.cz", name="B", role="sales", password_hash="x"))
        b.flush()  # B has its transaction id now
        first = partners.create(a, world.sales_a, {"name": "A"}).id
        a.flush()
        second = partners.create(b, world.sales_a, {"name": "B"}).id
        b.commit()
        polled = read_ids(database, "search")
        a.commit()
    finally:
        a.close()
        b.close()
    seen = polled + read_ids(database, "search")
    assert sorted(seen) == sorted([first, second]) and len(seen) == 2


def test_concurrent_writers_and_a_polling_reader_miss_nothing(
    backend: str, database: Database, world: World
) -> None:
    only_postgres(backend)
    with database.session() as s:
        outbox.register(s, "search")
    written: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        rng = random.Random(n)
        try:
            for i in range(15):
                with database.session() as s:
                    pid = partners.create(s, world.sales_a, {"name": f"W{n}-{i}"}).id
                    s.flush()
                    threading.Event().wait(rng.random() / 200)  # commit after others' ids
                with lock:
                    written.append(pid)
        except BaseException as exc:  # pragma: no cover - shown by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    seen: list[int] = []
    while any(t.is_alive() for t in threads):
        seen += read_ids(database, "search", limit=7)
    for t in threads:
        t.join()
    seen += read_ids(database, "search")
    assert not errors
    assert sorted(seen) == sorted(written)  # nothing missed, nothing twice
    assert len(written) == 60


def test_a_second_process_of_the_same_reader_gets_nothing(
    backend: str, database: Database, world: World
) -> None:
    only_postgres(backend)
    with database.session() as s:
        outbox.register(s, "search")
    write_partners(database, world.sales_a, "Alfa")
    first = database.new_session()
    try:
        assert [e.entity for e in outbox.read(first, "search")] == ["partner"]
        with database.session() as second:
            assert outbox.read(second, "search") == []
    finally:
        first.rollback()
        first.close()
