"""GET /api/v1/partners/{id}/timeline: deals and activities, newest first, as the user may see."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from crm.db import Database
from crm.models import Activity, Deal
from tests.api.conftest import Api, ApiFor
from tests.conftest import World


def backdate(database: Database, model: type[Deal | Activity], record_id: int, day: str) -> None:
    with database.session() as s:
        record = s.get(model, record_id)
        assert isinstance(record, Deal | Activity)
        record.created_at = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)


@pytest.fixture
def history(api: Api, partner_a: dict[str, Any], database: Database) -> dict[str, int]:
    """On Stavby Příbram: a deal in January, a call in February, a second deal in mid
    February and a meeting in March (created in another order)."""
    pid = partner_a["id"]
    first = api.post("/api/v1/deals", {"title": "Lešení – Příbram", "partner_id": pid})
    call = api.post(
        "/api/v1/activities",
        {"kind": "call", "title": "Hovor s paní Kořínkovou", "partner_id": pid, "done": True},
    )
    second = api.post(
        "/api/v1/deals", {"title": "Bednění – Dobříš", "partner_id": pid, "value": 35000}
    )
    meeting = api.post(f"/api/v1/deals/{first.get_json()['id']}/actions/meeting", {})
    ids = {
        "first": first.get_json()["id"],
        "call": call.get_json()["id"],
        "second": second.get_json()["id"],
        "meeting": meeting.get_json()["activity"]["id"],
    }
    backdate(database, Activity, ids["meeting"], "2025-03-01T09:00:00")
    backdate(database, Deal, ids["second"], "2025-02-15T10:30:00")
    backdate(database, Deal, ids["first"], "2025-01-10T08:00:00")
    backdate(database, Activity, ids["call"], "2025-02-01T14:00:00")
    return ids


def entries(api: Api, partner_id: int, **params: str) -> list[tuple[str, int]]:
    response = api.get(f"/api/v1/partners/{partner_id}/timeline", **params)
    assert response.status_code == 200, response.get_json()
    assert set(response.get_json()) == {"items"}
    return [(e["record_type"], e["record_id"]) for e in response.get_json()["items"]]


def test_newest_first_mixing_deals_and_activities(
    api: Api, partner_a: dict[str, Any], history: dict[str, int]
) -> None:
    expected = [
        ("activity", history["meeting"]),
        ("deal", history["second"]),
        ("activity", history["call"]),
        ("deal", history["first"]),
    ]
    assert entries(api, partner_a["id"]) == expected
    items = api.get(f"/api/v1/partners/{partner_a['id']}/timeline").get_json()["items"]
    assert items[0]["kind"] == "meeting" and items[0]["title"] == "Meeting: Lešení – Příbram"
    assert items[0]["at"].startswith("2025-03-01T09:00:00")
    assert items[1]["kind"] == "deal" and items[1]["extra"] == {"value": "35000.00 CZK"}
    assert items[2]["done"] is True
    assert entries(api, partner_a["id"], limit="2") == expected[:2]
    assert entries(api, partner_a["id"], limit="2", offset="2") == expected[2:]
    assert entries(api, partner_a["id"], offset="4") == []


def test_another_salespersons_private_deal_is_hidden(
    api: Api, api_for: ApiFor, partner_a: dict[str, Any], history: dict[str, int], world: World
) -> None:
    petr = api_for(world.sales_a2)
    secret = petr.post(
        "/api/v1/deals",
        {"title": "Tajná nabídka – Příbram", "partner_id": partner_a["id"], "private": True},
    )
    assert secret.status_code == 201
    hidden = ("deal", secret.get_json()["id"])
    assert hidden not in entries(api, partner_a["id"])
    assert len(entries(api, partner_a["id"])) == 4
    assert entries(petr, partner_a["id"])[0] == hidden
    assert entries(api_for(world.manager_a), partner_a["id"])[0] == hidden
    assert api.get(f"/api/v1/deals/{hidden[1]}").status_code == 404


def test_an_invisible_partners_timeline_is_404(
    api_for: ApiFor, partner_a: dict[str, Any], world: World
) -> None:
    response = api_for(world.sales_b).get(f"/api/v1/partners/{partner_a['id']}/timeline")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert api_for(world.sales_b).get("/api/v1/partners/424242/timeline").status_code == 404


@pytest.mark.parametrize(
    "params",
    [{"limit": "0"}, {"limit": "501"}, {"limit": "deset"}, {"offset": "-1"}, {"limit": "٣"}],
)
def test_bad_limit_or_offset_is_422(
    api: Api, partner_a: dict[str, Any], params: dict[str, str]
) -> None:
    response = api.get(f"/api/v1/partners/{partner_a['id']}/timeline", **params)
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == set(params)
