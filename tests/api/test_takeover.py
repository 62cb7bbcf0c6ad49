"""Taking over a colleague's records through the API (issue 8, finding 3).

Seeing a shared record lets a colleague work on it; only its salesperson (while in its group),
the managers of its group and admins may change who it belongs to (salesperson, group, private)
or delete it, and a record may be given only to a member of its group (admins: anyone).
A refused change is 422 with the field named; a refused delete is 403. Every record type:
partners, deals, activities, and persons through their partner.
"""

from __future__ import annotations

from typing import Any

import pytest

from crm.db import Database
from crm.models import User
from crm.services.users import create_user
from tests.api.conftest import Api, ApiFor, group_id
from tests.conftest import World, world_password_hash

PATHS = ["partners", "deals", "activities"]
NOT_YOURS = (
    "only the record's salesperson, a manager of its group or an administrator may change this"
)


@pytest.fixture
def janas(api: Api) -> dict[str, int]:
    """Jana's shared partner, a deal on it and an activity on the deal (all Tým A)."""
    partner = api.post("/api/v1/partners", {"name": "Stavby Příbram s.r.o."})
    deal = api.post(
        "/api/v1/deals", {"title": "Lešení Příbram", "partner_id": partner.get_json()["id"]}
    )
    activity = api.post(
        "/api/v1/activities",
        {"kind": "call", "title": "Zavolat stavbyvedoucímu", "deal_id": deal.get_json()["id"]},
    )
    for response in (partner, deal, activity):
        assert response.status_code == 201, response.get_json()
    return {
        "partners": partner.get_json()["id"],
        "deals": deal.get_json()["id"],
        "activities": activity.get_json()["id"],
    }


def url(path: str, janas: dict[str, int]) -> str:
    return f"/api/v1/{path}/{janas[path]}"


def refused(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "invalid"
    return dict(error["fields"])


def owner(api: Api, path: str, janas: dict[str, int]) -> tuple[Any, Any, Any]:
    body = api.get(url(path, janas)).get_json()
    return body["salesperson_id"], body["group_id"], body["private"]


@pytest.mark.parametrize("path", PATHS)
def test_a_colleague_cannot_take_a_shared_record_and_delete_it(
    api: Api, api_for: ApiFor, world: World, janas: dict[str, int], path: str
) -> None:
    petr = api_for(world.sales_a2)
    taken = petr.patch(url(path, janas), {"salesperson_id": world.sales_a2.id, "private": True})
    assert refused(taken) == {"salesperson_id": NOT_YOURS, "private": NOT_YOURS}
    assert owner(api, path, janas) == (world.sales_a.id, group_id(world.sales_a), False)
    # A full replacement is the same write.
    body = {k: v for k, v in api.get(url(path, janas)).get_json().items()}
    replaced = petr.put(
        url(path, janas),
        {
            **{k: body[k] for k in ("name", "title", "kind", "partner_id", "deal_id") if k in body},
            "group_id": body["group_id"],
            "salesperson_id": world.sales_a2.id,
        },
    )
    assert "salesperson_id" in refused(replaced)
    deleted = petr.delete(url(path, janas))
    assert deleted.status_code == 403
    assert deleted.get_json()["error"]["code"] == "forbidden"
    assert api.get(url(path, janas)).status_code == 200
    # Working on it is still fine: that is what sharing is for.
    field = "city" if path == "partners" else "title"
    assert petr.patch(url(path, janas), {field: "Příbram II"}).status_code == 200


@pytest.mark.parametrize("path", PATHS)
def test_a_colleague_cannot_hide_a_shared_record_from_the_team(
    api: Api, api_for: ApiFor, world: World, janas: dict[str, int], path: str
) -> None:
    assert refused(api_for(world.sales_a2).patch(url(path, janas), {"private": True})) == {
        "private": NOT_YOURS
    }
    assert api_for(world.sales_a2).get(url(path, janas)).get_json()["private"] is False


@pytest.mark.parametrize("path", PATHS)
def test_nobody_but_an_admin_hands_a_record_to_another_team(
    api: Api, api_for: ApiFor, world: World, janas: dict[str, int], path: str
) -> None:
    zofia = api_for(world.sales_b)
    by_colleague = api_for(world.sales_a2).patch(
        url(path, janas), {"salesperson_id": world.sales_b.id}
    )
    assert refused(by_colleague) == {"salesperson_id": NOT_YOURS}
    for giver in (api, api_for(world.manager_a)):
        handed = giver.patch(url(path, janas), {"salesperson_id": world.sales_b.id})
        assert refused(handed) == {"salesperson_id": "must be a member of the record's group"}
    assert zofia.get(url(path, janas)).status_code == 404
    assert owner(api, path, janas)[0] == world.sales_a.id


@pytest.mark.parametrize("path", PATHS)
def test_another_teams_salesperson_cannot_move_the_record_to_their_group(
    api: Api, api_for: ApiFor, world: World, janas: dict[str, int], path: str
) -> None:
    # An admin may give a record to anyone; the new salesperson is still not of its team.
    admin = api_for(world.admin)
    assert admin.patch(url(path, janas), {"salesperson_id": world.sales_b.id}).status_code == 200
    zofia = api_for(world.sales_b)
    assert zofia.get(url(path, janas)).status_code == 200
    moved = zofia.patch(url(path, janas), {"group_id": group_id(world.sales_b)})
    assert refused(moved) == {"group_id": NOT_YOURS}
    assert refused(zofia.patch(url(path, janas), {"private": True})) == {"private": NOT_YOURS}
    assert zofia.delete(url(path, janas)).status_code == 403
    assert api.get(url(path, janas)).status_code == 200  # Tým A still sees it
    assert (
        api_for(world.sales_a)
        .patch(url(path, janas), {"group_id": group_id(world.sales_b)})
        .status_code
        == 422
    )


@pytest.mark.parametrize("path", PATHS)
def test_the_salesperson_hands_over_to_a_teammate_and_then_cannot_take_it_back(
    api: Api, api_for: ApiFor, world: World, janas: dict[str, int], path: str
) -> None:
    handed = api.patch(url(path, janas), {"salesperson_id": world.sales_a2.id})
    assert handed.status_code == 200 and handed.get_json()["salesperson"] == "Petr Dvořák"
    back = api.patch(url(path, janas), {"salesperson_id": world.sales_a.id})
    assert refused(back) == {"salesperson_id": NOT_YOURS}
    petr = api_for(world.sales_a2)
    assert petr.patch(url(path, janas), {"private": True}).status_code == 200
    assert api.get(url(path, janas)).status_code == 404  # now Petr's private record


@pytest.mark.parametrize("path", PATHS)
def test_the_groups_manager_reassigns_and_deletes(
    api: Api, api_for: ApiFor, world: World, janas: dict[str, int], path: str
) -> None:
    manager = api_for(world.manager_a)
    changed = manager.patch(
        url(path, janas), {"salesperson_id": world.sales_a2.id, "private": True}
    )
    assert changed.status_code == 200, changed.get_json()
    assert owner(api_for(world.sales_a2), path, janas) == (
        world.sales_a2.id,
        group_id(world.sales_a),
        True,
    )
    if path == "activities":
        assert manager.delete(url(path, janas)).status_code == 204


@pytest.mark.parametrize("path", PATHS)
def test_an_admin_may_do_anything(
    api: Api, api_for: ApiFor, world: World, janas: dict[str, int], path: str
) -> None:
    admin = api_for(world.admin)
    moved = admin.patch(
        url(path, janas),
        {"salesperson_id": world.sales_b.id, "group_id": group_id(world.sales_b)},
    )
    assert moved.status_code == 200, moved.get_json()
    assert api_for(world.sales_b).get(url(path, janas)).get_json()["group"] == "Tým B"
    assert api.get(url(path, janas)).status_code == 404


@pytest.fixture
def manager_ab(database: Database, world: World) -> User:
    with database.session() as s:
        user = create_user(s, "vedouci@firma.cz", "Věra Vedoucí", "manager", ["Tým A", "Tým B"])
        user.password_hash = world_password_hash()
    return user


@pytest.mark.parametrize("path", PATHS)
def test_moving_to_another_group_needs_a_salesperson_of_that_group(
    api_for: ApiFor, world: World, janas: dict[str, int], path: str, manager_ab: User
) -> None:
    vera = api_for(manager_ab)
    alone = vera.patch(url(path, janas), {"group_id": group_id(world.sales_b)})
    assert list(refused(alone)) == ["group_id"]
    together = vera.patch(
        url(path, janas),
        {"group_id": group_id(world.sales_b), "salesperson_id": world.sales_b.id},
    )
    assert together.status_code == 200, together.get_json()
    assert api_for(world.sales_b).get(url(path, janas)).status_code == 200


def test_what_a_salesperson_may_set_on_a_new_record(
    api: Api, api_for: ApiFor, world: World, janas: dict[str, int]
) -> None:
    for_zofia = api.post(
        "/api/v1/partners", {"name": "Pro Zofii", "salesperson_id": world.sales_b.id}
    )
    assert refused(for_zofia) == {"salesperson_id": "must be a member of the record's group"}
    into_b = api.post(
        "/api/v1/partners", {"name": "Do týmu B", "group_id": group_id(world.sales_b)}
    )
    assert "group_id" in refused(into_b)
    deal_for_zofia = api.post(
        "/api/v1/deals",
        {"title": "Cizí", "partner_id": janas["partners"], "salesperson_id": world.sales_b.id},
    )
    assert "salesperson_id" in refused(deal_for_zofia)
    for_petr = api.post(
        "/api/v1/partners",
        {"name": "Pro Petra", "salesperson_id": world.sales_a2.id, "private": True},
    )
    assert for_petr.status_code == 201
    assert (
        api_for(world.sales_a2)
        .get(f"/api/v1/partners/{for_petr.get_json()['id']}")
        .get_json()["salesperson"]
        == "Petr Dvořák"
    )
    manager = api_for(world.manager_a)
    assert "salesperson_id" in refused(
        manager.post("/api/v1/partners", {"name": "X", "salesperson_id": world.sales_b.id})
    )
    admin = api_for(world.admin)
    anyone = admin.post(
        "/api/v1/partners",
        {
            "name": "Od správce",
            "group_id": group_id(world.sales_a),
            "salesperson_id": world.sales_b.id,
        },
    )
    assert anyone.status_code == 201


def test_persons_follow_their_partner(
    api: Api, api_for: ApiFor, world: World, janas: dict[str, int]
) -> None:
    person = api.post(
        "/api/v1/persons", {"partner_id": janas["partners"], "name": "Jiří Čermák"}
    ).get_json()
    petr = api_for(world.sales_a2)
    own = petr.post("/api/v1/partners", {"name": "Petrova firma", "private": True}).get_json()
    one = f"/api/v1/persons/{person['id']}"
    assert "partner_id" in refused(petr.patch(one, {"partner_id": own["id"]}))
    assert petr.delete(one).status_code == 403
    assert petr.patch(one, {"function": "jednatel"}).status_code == 200  # working on it is fine
    assert api.get(one).get_json()["partner_id"] == janas["partners"]
    # The partner's salesperson may move the person, and the group's manager may delete them.
    moved = api.patch(one, {"partner_id": own["id"]})
    assert moved.status_code == 422  # Petr's private partner: Jana cannot see it
    mine = api.post("/api/v1/partners", {"name": "Janina druhá firma"}).get_json()
    assert api.patch(one, {"partner_id": mine["id"]}).status_code == 200
    assert api_for(world.manager_a).delete(one).status_code == 204


def test_deal_actions_obey_the_rule(
    api: Api, api_for: ApiFor, world: World, janas: dict[str, int]
) -> None:
    petr = api_for(world.sales_a2)
    deal = janas["deals"]
    task = petr.post(
        f"/api/v1/deals/{deal}/actions/task",
        {"title": "Pro Zofii", "salesperson_id": world.sales_b.id},
    )
    assert refused(task) == {"salesperson_id": "must be a member of the record's group"}
    ok = petr.post(f"/api/v1/deals/{deal}/actions/call", {"title": "Zavolat"})
    assert ok.status_code == 201 and ok.get_json()["activity"]["salesperson"] == "Petr Dvořák"
    # Closing a colleague's shared deal is work on it, not taking it.
    closed = petr.post(f"/api/v1/deals/{deal}/actions/close", {"status": "won"})
    assert closed.status_code == 201, closed.get_json()
    assert closed.get_json()["deal"]["salesperson_id"] == world.sales_a.id


def test_a_next_contact_goes_only_to_a_member_of_the_team(
    api: Api, api_for: ApiFor, world: World, janas: dict[str, int]
) -> None:
    body = {
        "kind": "call",
        "title": "Úvodní hovor",
        "deal_id": janas["deals"],
        "private": True,
        "next_contact_date": "2030-01-15",
        "next_contact_task": "Tajná nabídka Příbram",
    }
    to_zofia = api.post(
        "/api/v1/activities", {**body, "next_contact_assignee_id": world.sales_b.id}
    )
    assert refused(to_zofia) == {
        "next_contact_assignee_id": "must be a member of the record's group"
    }
    zofias = api_for(world.sales_b).get("/api/v1/activities").get_json()
    assert zofias["total"] == 0
    to_petr = api.post(
        "/api/v1/activities", {**body, "next_contact_assignee_id": world.sales_a2.id}
    )
    assert to_petr.status_code == 201
    petrs = api_for(world.sales_a2).get("/api/v1/activities", q="Tajná nabídka").get_json()
    assert [a["salesperson"] for a in petrs["items"]] == ["Petr Dvořák"]
