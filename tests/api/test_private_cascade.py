"""A partner or deal made private takes what hangs on it along (issue 8, finding 2's sibling).

A shared deal of a private partner would name the partner to the whole team on the deal's
page, in the deal list and in the mail filed to it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from crm.db import Database
from crm.models import OutboxEntry
from tests.api.conftest import Api, ApiFor
from tests.conftest import World


def _deal_with_task(api: Api, partner_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    deal = api.post("/api/v1/deals", {"title": "Rekonstrukce haly", "partner_id": partner_id})
    assert deal.status_code == 201, deal.get_json()
    task = api.post(
        "/api/v1/activities",
        {"kind": "task", "title": "Zavolat stavbyvedoucímu", "deal_id": deal.get_json()["id"]},
    )
    assert task.status_code == 201, task.get_json()
    return deal.get_json(), task.get_json()


def test_a_partner_made_private_hides_its_deals_and_tasks_from_the_team(
    api: Api, api_for: ApiFor, world: World, partner_a: dict[str, Any], database: Database
) -> None:
    deal, task = _deal_with_task(api, partner_a["id"])
    petr = api_for(world.sales_a2)
    assert petr.get(f"/api/v1/deals/{deal['id']}").status_code == 200

    made = api.patch(f"/api/v1/partners/{partner_a['id']}", {"private": True})
    assert made.status_code == 200, made.get_json()

    # The colleague learns nothing of the partner through its deal or task any more.
    assert petr.get(f"/api/v1/deals/{deal['id']}").status_code == 404
    assert petr.get(f"/api/v1/activities/{task['id']}").status_code == 404
    listed = petr.get("/api/v1/deals").get_json()
    assert all(d["partner_id"] != partner_a["id"] for d in listed["items"])
    # Its salesperson and the team's manager still see all of it.
    for viewer in (api, api_for(world.manager_a)):
        assert viewer.get(f"/api/v1/deals/{deal['id']}").get_json()["private"] is True
        assert viewer.get(f"/api/v1/activities/{task['id']}").get_json()["private"] is True
    # Readers of the outbox (search, calendar) learn that both changed who sees them.
    with database.session() as s:
        changed = set(s.execute(select(OutboxEntry.entity, OutboxEntry.entity_id)).all())
    assert {("deal", deal["id"]), ("activity", task["id"])} <= changed


def test_a_deal_of_a_private_partner_cannot_be_shared_again(
    api: Api, api_for: ApiFor, world: World, partner_a: dict[str, Any]
) -> None:
    deal, _ = _deal_with_task(api, partner_a["id"])
    assert api.patch(f"/api/v1/partners/{partner_a['id']}", {"private": True}).status_code == 200

    answer = api.patch(f"/api/v1/deals/{deal['id']}", {"private": False})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["private"] is True
    assert api_for(world.sales_a2).get(f"/api/v1/deals/{deal['id']}").status_code == 404


def test_a_deal_made_private_hides_its_tasks(
    api: Api, api_for: ApiFor, world: World, partner_a: dict[str, Any]
) -> None:
    deal, task = _deal_with_task(api, partner_a["id"])
    assert api.patch(f"/api/v1/deals/{deal['id']}", {"private": True}).status_code == 200
    petr = api_for(world.sales_a2)
    assert petr.get(f"/api/v1/activities/{task['id']}").status_code == 404
    # The partner itself stays shared.
    assert petr.get(f"/api/v1/partners/{partner_a['id']}").status_code == 200
