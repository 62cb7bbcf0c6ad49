"""The who-sees-what rule, for every resource, at the service layer every caller goes through."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from crm.db import Database
from crm.errors import NotFound, PermissionDenied, ValidationError
from crm.models import User
from crm.services.activities import activities
from crm.services.deals import deals
from crm.services.partners import partners
from crm.services.persons import persons
from crm.services.records import ListQuery, RecordService
from crm.timeline import partner_timeline
from tests.conftest import World


def _make(db: Database, actor: User, name: str, private: bool = False) -> dict[str, int]:
    """A partner with a person, a deal and an activity, all made by ``actor``."""
    with db.session() as s:
        partner = partners.create(s, actor, {"name": name, "private": private})
        person = persons.create(s, actor, {"partner_id": partner.id, "name": f"Osoba {name}"})
        deal = deals.create(
            s, actor, {"title": f"Zakázka {name}", "partner_id": partner.id, "private": private}
        )
        activity = activities.create(
            s,
            actor,
            {"kind": "call", "title": f"Hovor {name}", "deal_id": deal.id, "private": private},
        )
        return {
            "partner": partner.id,
            "person": person.id,
            "deal": deal.id,
            "activity": activity.id,
        }


@pytest.fixture
def records(database: Database, world: World) -> dict[str, dict[str, int]]:
    return {
        "a_shared": _make(database, world.sales_a, "Stavby Příbram"),
        "a_private": _make(database, world.sales_a, "Soukromá Jana", private=True),
        "b_shared": _make(database, world.sales_b, "Budowy Łódź"),
    }


SERVICES: dict[str, RecordService[Any]] = {
    "partner": partners,
    "person": persons,
    "deal": deals,
    "activity": activities,
}
# who -> which record sets they see
EXPECTED = {
    "admin": {"a_shared", "a_private", "b_shared"},
    "manager_a": {"a_shared", "a_private"},
    "sales_a": {"a_shared", "a_private"},
    "sales_a2": {"a_shared"},
    "sales_b": {"b_shared"},
}


@pytest.mark.parametrize("kind", list(SERVICES))
@pytest.mark.parametrize("who", list(EXPECTED))
def test_get_and_list_follow_the_rule(
    database: Database, world: World, records: dict[str, dict[str, int]], kind: str, who: str
) -> None:
    service = SERVICES[kind]
    actor = getattr(world, who)
    with database.session() as s:
        listed = {r.id for r in service.list(s, actor, ListQuery(per_page=500)).items}
        for name, ids in records.items():
            if name in EXPECTED[who]:
                assert service.get(s, actor, ids[kind]).id == ids[kind]
                assert ids[kind] in listed
            else:
                with pytest.raises(NotFound):
                    service.get(s, actor, ids[kind])
                assert ids[kind] not in listed


@pytest.mark.parametrize("kind", list(SERVICES))
def test_invisible_records_cannot_be_changed_or_deleted(
    database: Database, world: World, records: dict[str, dict[str, int]], kind: str
) -> None:
    service = SERVICES[kind]
    target = records["a_shared"][kind]
    field = {"partner": "name", "person": "name", "deal": "title", "activity": "title"}[kind]
    attempts: list[Callable[[Any], Any]] = [
        lambda s: service.update(s, world.sales_b, target, {field: "Hacked"}),
        lambda s: service.delete(s, world.sales_b, target),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound), database.session() as s:
            attempt(s)
    with database.session() as s:
        assert service.title_of(service.get(s, world.admin, target)) != "Hacked"


def test_sales_cannot_move_a_record_into_a_foreign_group(database: Database, world: World) -> None:
    with database.session() as s:
        group_b = world.sales_b.group_ids[0]
        with pytest.raises(ValidationError) as err:
            partners.create(s, world.sales_a, {"name": "Cizí", "group_id": group_b})
        assert "group_id" in err.value.errors


def test_child_records_cannot_hang_on_an_invisible_parent(
    database: Database, world: World, records: dict[str, dict[str, int]]
) -> None:
    a = records["a_shared"]
    with database.session() as s:
        with pytest.raises(ValidationError) as err:
            persons.create(s, world.sales_b, {"partner_id": a["partner"], "name": "Vetřelec"})
        assert err.value.errors == {"partner_id": "no such partner"}
        with pytest.raises(ValidationError):
            deals.create(s, world.sales_b, {"title": "X", "partner_id": a["partner"]})
        with pytest.raises(ValidationError):
            activities.create(
                s, world.sales_b, {"kind": "task", "title": "X", "deal_id": a["deal"]}
            )
        with pytest.raises(NotFound):
            activities.deal_action(s, world.sales_b, a["deal"], "meeting", {})


def test_colleague_may_not_delete_anothers_record(
    database: Database, world: World, records: dict[str, dict[str, int]]
) -> None:
    with pytest.raises(PermissionDenied), database.session() as s:
        activities.delete(s, world.sales_a2, records["a_shared"]["activity"])
    with database.session() as s:
        activities.delete(s, world.manager_a, records["a_shared"]["activity"])


def test_timeline_shows_only_what_the_user_may_see(database: Database, world: World) -> None:
    with database.session() as s:
        partner = partners.create(s, world.sales_a, {"name": "Společný zákazník"})
        deals.create(s, world.sales_a, {"title": "Veřejná", "partner_id": partner.id})
        deals.create(
            s, world.sales_a, {"title": "Tajná", "partner_id": partner.id, "private": True}
        )
    with database.session() as s:
        mine = {e.title for e in partner_timeline(s, world.sales_a, partner.id)}
        colleague = {e.title for e in partner_timeline(s, world.sales_a2, partner.id)}
    assert mine == {"Veřejná", "Tajná"}
    assert colleague == {"Veřejná"}
