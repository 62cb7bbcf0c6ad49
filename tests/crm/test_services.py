"""The CRM's rules as a user meets them through any front end."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm.db import Database
from crm.errors import Conflict, ValidationError
from crm.models import Activity, OutboxEntry, Partner
from crm.services import codebooks
from crm.services.activities import activities
from crm.services.deals import deals
from crm.services.partners import partners
from crm.services.records import ListQuery
from crm.timeline import partner_timeline
from tests.conftest import World, count


def test_bad_partner_input_lists_every_bad_field_and_stores_nothing(
    database: Database, world: World
) -> None:
    with pytest.raises(ValidationError) as err, database.session() as s:
        partners.create(
            s,
            world.sales_a,
            {
                "name": "",
                "emails": "obchod@",
                "domains": ["gmail.com"],
                "kind": "Neexistuje",
                "category": "Z",
                "phones": "volat ráno",
            },
        )
    assert set(err.value.errors) == {"name", "emails", "domains", "kind", "category", "phones"}
    assert count(database, Partner) == 0


def test_public_mail_domains_cannot_be_claimed(database: Database, world: World) -> None:
    with pytest.raises(ValidationError) as err, database.session() as s:
        partners.create(s, world.sales_a, {"name": "Jan Novák", "domains": "seznam.cz"})
    assert "public mail domain" in err.value.errors["domains"]


def test_company_id_is_unique(database: Database, world: World) -> None:
    with database.session() as s:
        partners.create(s, world.sales_a, {"name": "Agro Žatec a.s.", "company_id": "25123891"})
    with pytest.raises(Conflict), database.session() as s:
        partners.create(s, world.sales_b, {"name": "Kopie", "company_id": "25123891"})
    assert count(database, Partner) == 1


def test_domains_are_stored_and_filterable(database: Database, world: World) -> None:
    with database.session() as s:
        p = partners.create(
            s,
            world.sales_a,
            {"name": "Poľnohospodárske družstvo Senica", "domains": "pd-senica.sk\n@PD-Senica.sk"},
        )
        assert p.domains == ["pd-senica.sk"]
        partners.update(s, world.sales_a, p.id, {"domains": ["pd-senica.sk", "senica.sk"]})
    with database.session() as s:
        found = partners.list(s, world.sales_a, ListQuery({"domain": "senica.sk"})).items
        assert [x.name for x in found] == ["Poľnohospodárske družstvo Senica"]


def test_list_filters_sort_and_pages(database: Database, world: World) -> None:
    with database.session() as s:
        for i, name in enumerate(["Žabka", "Ačko", "Čistírna", "Brno Stav", "Cukrárna"]):
            partners.create(
                s, world.sales_a, {"name": name, "region": "Tuzemsko" if i % 2 else "Zahraničí"}
            )
    with database.session() as s:
        page = partners.list(s, world.sales_a, ListQuery(sort="name", per_page=2, page=2))
        assert page.total == 5 and page.pages == 3
        assert [p.name for p in page.items] == ["Čistírna", "Cukrárna"]
        home = partners.list(s, world.sales_a, ListQuery({"region": "tuzemsko"}))
        assert {p.name for p in home.items} == {"Ačko", "Brno Stav"}
        with pytest.raises(ValidationError) as err:
            partners.list(
                s, world.sales_a, ListQuery({"region": "Mars", "colour": "red"}, sort="password")
            )
        assert set(err.value.errors) == {"region", "colour", "sort"}


def test_deal_takes_first_stage_and_its_probability(database: Database, world: World) -> None:
    with database.session() as s:
        p = partners.create(s, world.sales_a, {"name": "Stavby Příbram"})
        d = deals.create(
            s,
            world.sales_a,
            {
                "title": "Hala Příbram",
                "partner_id": p.id,
                "value": "1 250 000,50",
                "currency": "EUR",
            },
        )
        assert d.stage is not None and d.stage.label == "Lead"
        assert d.probability == 10
        assert d.value == Decimal("1250000.50")
        assert d.group_id == p.group_id


def test_deal_actions_create_titled_activities_and_close(database: Database, world: World) -> None:
    with database.session() as s:
        p = partners.create(s, world.sales_a, {"name": "Agro Žatec"})
        d = deals.create(s, world.sales_a, {"title": "Sklad obilí", "partner_id": p.id})
        meeting, _ = activities.deal_action(
            s, world.sales_a, d.id, "meeting", {"due_date": "2026-12-01"}
        )
        assert (meeting.kind, meeting.title, meeting.partner_id) == (
            "meeting",
            "Meeting: Sklad obilí",
            p.id,
        )
        with pytest.raises(ValidationError) as err:
            activities.deal_action(s, world.sales_a, d.id, "close", {"status": "lost"})
        assert "close_reason" in err.value.errors
        note, closed = activities.deal_action(
            s,
            world.sales_a,
            d.id,
            "close",
            {"status": "lost", "close_reason": "Price", "close_note": "Levnější konkurence"},
        )
        assert closed.status == "lost" and closed.closed_at is not None
        assert note.title == "Close: Sklad obilí" and "Price" in note.note
        with pytest.raises(Conflict):
            activities.deal_action(s, world.sales_a, d.id, "close", {"status": "won"})


def test_next_contact_becomes_a_task_for_the_assignee(database: Database, world: World) -> None:
    with database.session() as s:
        p = partners.create(s, world.sales_a, {"name": "Budimex Łódź"})
        call = activities.create(
            s,
            world.sales_a,
            {
                "kind": "call",
                "title": "Telefonát s prezesem",
                "partner_id": p.id,
                "done": True,
                "next_contact_date": "2026-12-10",
                "next_contact_task": "Poslat nabídku",
                "next_contact_assignee_id": world.sales_a2.id,
            },
        )
        assert call.done_at is not None
    with database.session() as s:
        tasks = activities.list(
            s,
            world.sales_a2,
            ListQuery({"salesperson_id": str(world.sales_a2.id), "done": "false"}),
        ).items
        assert [(t.kind, t.title, t.due_date) for t in tasks] == [
            ("task", "Poslat nabídku", dt.date(2026, 12, 10))
        ]
        assert count(database, Activity) == 2


def test_custom_fields_validate_store_and_filter(database: Database, world: World) -> None:
    with database.session() as s:
        codebooks.add_entry(s, world.admin, "tractor_brand", {"label": "Zetor"})
        codebooks.add_entry(s, world.admin, "tractor_brand", {"label": "John Deere"})
        codebooks.add_custom_field(
            s,
            world.admin,
            {
                "record_type": "partner",
                "key": "brand",
                "label": "Tractor brand",
                "field_type": "codebook",
                "codebook": "tractor_brand",
            },
        )
        codebooks.add_custom_field(
            s,
            world.admin,
            {
                "record_type": "partner",
                "key": "hectares",
                "label": "Hectares",
                "field_type": "number",
            },
        )
    with database.session() as s:
        with pytest.raises(ValidationError) as err:
            partners.create(
                s,
                world.sales_a,
                {
                    "name": "Farma",
                    "custom": {"brand": "Fendt", "hectares": "hodně", "colour": "red"},
                },
            )
        assert set(err.value.errors) == {"custom.brand", "custom.hectares", "custom.colour"}
        partners.create(
            s, world.sales_a, {"name": "ZD Klas", "custom": {"brand": "Zetor", "hectares": "1 200"}}
        )
        partners.create(s, world.sales_a, {"name": "Agro Haná", "custom": {"brand": "John Deere"}})
    with database.session() as s:
        found = partners.list(s, world.sales_a, ListQuery({"custom.brand": "zetor"})).items
        assert [(p.name, p.custom["hectares"]) for p in found] == [("ZD Klas", 1200)]


def test_timeline_is_newest_first_across_sources(database: Database, world: World) -> None:
    with database.session() as s:
        p = partners.create(s, world.sales_a, {"name": "Stavby Příbram"})
        d = deals.create(s, world.sales_a, {"title": "Hala", "partner_id": p.id})
        a = activities.create(
            s, world.sales_a, {"kind": "note", "title": "Poznámka", "partner_id": p.id}
        )
        d.created_at = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        a.created_at = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    with database.session() as s:
        entries = partner_timeline(s, world.sales_a, p.id)
        assert [(e.kind, e.title) for e in entries] == [("note", "Poznámka"), ("deal", "Hala")]
        assert entries[0].at > entries[1].at


def test_every_change_writes_the_outbox(database: Database, world: World) -> None:
    with database.session() as s:
        p = partners.create(s, world.sales_a, {"name": "Outbox s.r.o."})
        partners.update(s, world.sales_a, p.id, {"city": "Olomouc"})
        partners.delete(s, world.sales_a, p.id)
    with database.session() as s:
        rows = s.execute(select(OutboxEntry.entity, OutboxEntry.action)).all()
    assert [tuple(r) for r in rows] == [
        ("partner", "create"),
        ("partner", "update"),
        ("partner", "delete"),
    ]


def test_partial_update_keeps_other_custom_values_and_can_clear_one(
    database: Database, world: World
) -> None:
    with database.session() as s:
        for key in ("silo", "hectares"):
            codebooks.add_custom_field(
                s,
                world.admin,
                {"record_type": "partner", "key": key, "label": key, "field_type": "number"},
            )
        p = partners.create(
            s, world.sales_a, {"name": "ZD Klas", "custom": {"silo": "3", "hectares": "1200"}}
        )
        partners.update(s, world.sales_a, p.id, {"custom": {"silo": "4"}})
        assert p.custom == {"silo": 4, "hectares": 1200}
        partners.update(s, world.sales_a, p.id, {"custom.hectares": ""})
        assert p.custom == {"silo": 4}


def test_nested_rollback_undoes_only_its_own_writes(database: Database, world: World) -> None:
    with pytest.raises(RuntimeError), database.session() as s:
        partners.create(s, world.sales_a, {"name": "Vnější"})
        with pytest.raises(ValueError), s.begin_nested():
            partners.create(s, world.sales_a, {"name": "Vnořená"})
            raise ValueError("undo the inner one")
        assert [p.name for p in partners.list(s, world.sales_a, ListQuery()).items] == ["Vnější"]
        raise RuntimeError("undo everything")
    assert count(database, Partner) == 0


def test_sorting_puts_empty_values_last(database: Database, world: World) -> None:
    with database.session() as s:
        for title, due in (("Bez termínu", None), ("Pozdě", "2026-12-20"), ("Brzy", "2026-12-01")):
            activities.create(s, world.sales_a, {"kind": "task", "title": title, "due_date": due})
    with database.session() as s:
        for sort, expected in (
            ("due_date", ["Brzy", "Pozdě", "Bez termínu"]),
            ("-due_date", ["Pozdě", "Brzy", "Bez termínu"]),
        ):
            page = activities.list(s, world.sales_a, ListQuery(sort=sort))
            assert [a.title for a in page.items] == expected


def test_activity_search_ignores_accents(database: Database, world: World) -> None:
    with database.session() as s:
        activities.create(s, world.sales_a, {"kind": "call", "title": "Hovor se Žatcem"})
    with database.session() as s:
        found = activities.list(s, world.sales_a, ListQuery({"q": "ZATCEM"})).items
        assert [a.title for a in found] == ["Hovor se Žatcem"]
