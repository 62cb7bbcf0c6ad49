"""GET /api/v1/audit: admins read every entry, managers those of records they see, others 403;
bad filters are 422 naming the filter."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.api.conftest import ApiFor
from tests.conftest import World


def audit(api_for: ApiFor, user: Any, **params: Any) -> Any:
    response = api_for(user).get("/api/v1/audit", **params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_admin_reads_a_change_with_old_and_new(
    api_for: ApiFor, world: World, partner_a: dict[str, Any]
) -> None:
    jana = api_for(world.sales_a)
    assert jana.patch(f"/api/v1/partners/{partner_a['id']}", {"city": "Beroun"}).status_code == 200
    body = audit(api_for, world.admin, record_type="partner", record_id=partner_a["id"])
    assert [e["action"] for e in body["items"]] == ["update", "create"]  # newest first
    update = body["items"][0]
    assert update["changes"] == {"city": ["Příbram", "Beroun"]}
    assert update["user_id"] == world.sales_a.id
    assert update["actor"] == "Jana Nováková <jana@firma.cz>"
    assert body["total"] == 2


def test_filters_by_user_and_day(api_for: ApiFor, world: World, partner_a: dict[str, Any]) -> None:
    api_for(world.manager_a).patch(f"/api/v1/partners/{partner_a['id']}", {"category": "A"})
    mine = audit(api_for, world.admin, user_id=world.manager_a.id)
    assert [(e["action"], e["changes"]) for e in mine["items"]] == [
        ("update", {"category": [None, "A"]})
    ]
    today = dt.datetime.now(dt.UTC).date()
    assert audit(api_for, world.admin, **{"from": today.isoformat()})["total"] == 2
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    assert audit(api_for, world.admin, to=yesterday)["total"] == 0
    assert audit(api_for, world.admin, to=today.isoformat(), per_page=1)["items"][0]["action"] == (
        "update"
    )


def test_a_manager_reads_only_entries_of_records_they_see(
    api_for: ApiFor, world: World, partner_a: dict[str, Any]
) -> None:
    zofia = api_for(world.sales_b)
    other = zofia.post("/api/v1/partners", {"name": "Mleczarnia Kraków"}).get_json()
    seen = audit(api_for, world.manager_a)
    assert {e["record_id"] for e in seen["items"]} == {partner_a["id"]}
    assert audit(api_for, world.manager_a, record_id=other["id"])["items"] == []
    everything = audit(api_for, world.admin, record_type="partner")
    assert {e["record_id"] for e in everything["items"]} == {partner_a["id"], other["id"]}


@pytest.mark.parametrize("who", ["sales_a", "sales_b"])
def test_salespeople_are_refused(api_for: ApiFor, world: World, who: str) -> None:
    response = api_for(getattr(world, who)).get("/api/v1/audit")
    assert response.status_code == 403


@pytest.mark.parametrize(
    "params, field",
    [
        ({"record_type": "spaceship"}, "record_type"),
        ({"record_id": "abc"}, "record_id"),
        ({"user_id": "-1"}, "user_id"),
        ({"from": "2026-02-31"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"per_page": "0"}, "per_page"),
    ],
)
def test_bad_filters_are_422(
    api_for: ApiFor, world: World, params: dict[str, str], field: str
) -> None:
    response = api_for(world.admin).get("/api/v1/audit", **params)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]


def test_the_description_lists_the_audit_log(api_for: ApiFor, world: World) -> None:
    spec = api_for(world.admin).get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/audit"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"record_type", "from", "to"}
    assert {"200", "403", "422"} <= set(operation["responses"])
