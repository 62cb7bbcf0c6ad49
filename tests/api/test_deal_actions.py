"""POST /api/v1/deals/{id}/actions/{task|call|meeting|close}."""

from __future__ import annotations

from typing import Any

import pytest

from crm.db import Database
from crm.models import Activity
from tests.api.conftest import Api, ApiFor
from tests.conftest import World, count


@pytest.fixture
def deal(api: Api, partner_a: dict[str, Any]) -> dict[str, Any]:
    response = api.post(
        "/api/v1/deals",
        {
            "title": "Zateplení haly v Kolíně",
            "partner_id": partner_a["id"],
            "value": 2_400_000,
            "stage": "Negotiation",
        },
    )
    assert response.status_code == 201
    return dict(response.get_json())


def action(api: Api, deal: dict[str, Any], name: str, body: Any) -> Any:
    return api.post(f"/api/v1/deals/{deal['id']}/actions/{name}", body)


def test_meeting_creates_a_meeting_activity_on_the_deal(
    api: Api, deal: dict[str, Any], partner_a: dict[str, Any]
) -> None:
    response = action(
        api,
        deal,
        "meeting",
        {"due_date": "2025-03-14", "note": "Prohlídka střechy s panem Šťastným"},
    )
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"activity", "deal"}
    activity = body["activity"]
    assert activity["title"] == "Meeting: Zateplení haly v Kolíně"
    assert activity["kind"] == "meeting" and activity["due_date"] == "2025-03-14"
    assert activity["deal_id"] == deal["id"] and activity["partner_id"] == partner_a["id"]
    assert body["deal"]["id"] == deal["id"] and body["deal"]["status"] == "open"
    assert response.headers["Location"] == f"/api/v1/activities/{activity['id']}"
    listed = api.get("/api/v1/activities", deal_id=str(deal["id"])).get_json()
    assert [a["id"] for a in listed["items"]] == [activity["id"]]


@pytest.mark.parametrize("name", ["task", "call"])
def test_task_and_call_take_their_own_title(api: Api, deal: dict[str, Any], name: str) -> None:
    response = action(api, deal, name, {"title": "Poslat výkresy – fasáda", "due_date": None})
    assert response.status_code == 201
    assert response.get_json()["activity"]["kind"] == name
    assert response.get_json()["activity"]["title"] == "Poslat výkresy – fasáda"
    untitled = action(api, deal, name, {})
    assert untitled.get_json()["activity"]["title"] == f"{name.title()}: Zateplení haly v Kolíně"


def test_close_won(api: Api, deal: dict[str, Any]) -> None:
    response = action(api, deal, "close", {"status": "won", "close_note": "Podepsáno v Brně."})
    assert response.status_code == 201
    closed, note = response.get_json()["deal"], response.get_json()["activity"]
    assert closed["status"] == "won" and closed["probability"] == 100 and closed["closed_at"]
    assert closed["close_note"] == "Podepsáno v Brně."
    assert note["kind"] == "note" and note["done"] is True
    assert note["title"] == "Close: Zateplení haly v Kolíně"
    assert note["note"] == "WON\n\nPodepsáno v Brně."
    assert api.get(f"/api/v1/deals/{deal['id']}").get_json() == closed


def test_close_lost_needs_a_reason(api: Api, deal: dict[str, Any], database: Database) -> None:
    before = count(database, Activity)
    refused = action(api, deal, "close", {"status": "lost"})
    assert refused.status_code == 422
    assert refused.get_json()["error"]["fields"] == {
        "close_reason": "is required when a deal is lost"
    }
    assert api.get(f"/api/v1/deals/{deal['id']}").get_json()["status"] == "open"
    assert count(database, Activity) == before
    lost = action(api, deal, "close", {"status": "lost", "close_reason": "price"})
    assert lost.status_code == 201
    assert lost.get_json()["deal"]["close_reason"] == "Price"
    assert lost.get_json()["activity"]["note"] == "LOST – Price"


def test_closing_twice_is_a_conflict(api: Api, deal: dict[str, Any], database: Database) -> None:
    assert action(api, deal, "close", {"status": "won"}).status_code == 201
    before = count(database, Activity)
    again = action(api, deal, "close", {"status": "lost", "close_reason": "Price"})
    assert again.status_code == 409
    assert again.get_json()["error"] == {
        "code": "conflict",
        "message": "the deal is already won",
    }
    assert count(database, Activity) == before


@pytest.mark.parametrize(
    ("name", "body", "fields"),
    [
        ("close", {"status": "odloženo"}, {"status"}),
        ("close", {"status": "lost", "close_reason": "Počasí"}, {"close_reason"}),
        ("close", {"status": "won", "reason": "Cena"}, {"reason"}),
        ("meeting", {"kind": "call"}, {"kind"}),
        ("task", {"partner_id": 1, "deal_id": 2}, {"partner_id", "deal_id"}),
        ("call", {"due_date": "včera"}, {"due_date"}),
        ("meeting", {"title": 7}, {"title"}),
    ],
)
def test_bad_action_input_is_422_and_stores_nothing(
    api: Api,
    deal: dict[str, Any],
    database: Database,
    name: str,
    body: dict[str, Any],
    fields: set[str],
) -> None:
    before = count(database, Activity)
    response = action(api, deal, name, body)
    assert response.status_code == 422, response.get_json()
    assert set(response.get_json()["error"]["fields"]) == fields
    assert count(database, Activity) == before
    assert api.get(f"/api/v1/deals/{deal['id']}").get_json()["status"] == "open"


def test_fields_set_by_the_action_and_typos_are_named(api: Api, deal: dict[str, Any]) -> None:
    fields = action(api, deal, "task", {"kind": "call", "titel": "x"}).get_json()["error"]["fields"]
    assert fields["kind"] == "is set by this action and cannot be given"
    assert "did you mean “title”" in fields["titel"]
    close = action(api, deal, "close", {"status": "won", "reason": "x"}).get_json()
    assert "did you mean “close_reason”" in close["error"]["fields"]["reason"]


def test_unknown_action_missing_body_and_invisible_deal(
    api: Api, api_for: ApiFor, deal: dict[str, Any], world: World, database: Database
) -> None:
    assert action(api, deal, "lunch", {}).status_code == 404
    missing = api.raw("POST", f"/api/v1/deals/{deal['id']}/actions/task")
    assert missing.status_code == 400 and missing.get_json()["error"]["code"] == "bad_request"
    assert action(api, {"id": 999_999}, "task", {}).status_code == 404
    before = count(database, Activity)
    zofia = api_for(world.sales_b)
    for name, body in (("meeting", {}), ("close", {"status": "won"})):
        response = action(zofia, deal, name, body)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"
    assert count(database, Activity) == before
    assert api.get(f"/api/v1/deals/{deal['id']}").get_json()["status"] == "open"


def test_close_says_what_happens_to_the_open_activities(
    api: Api, deal: dict[str, Any], database: Database
) -> None:
    task = action(api, deal, "task", {"title": "Poslat smlouvu"}).get_json()["activity"]
    for bad in ("burn", {}, [], 0, False, "KEEP"):
        wrong = action(api, deal, "close", {"status": "won", "open_tasks": bad})
        assert wrong.status_code == 422, bad
        assert "open_tasks" in wrong.get_json()["error"]["fields"]
    assert api.get(f"/api/v1/deals/{deal['id']}").get_json()["status"] == "open"
    done = action(api, deal, "close", {"status": "won", "open_tasks": "done"})
    assert done.status_code == 201
    assert api.get(f"/api/v1/activities/{task['id']}").get_json()["done"] is True


def test_close_keeps_the_open_activities_unless_told(api: Api, deal: dict[str, Any]) -> None:
    task = action(api, deal, "task", {"title": "Fakturovat"}).get_json()["activity"]
    assert action(api, deal, "close", {"status": "won"}).status_code == 201
    assert api.get(f"/api/v1/activities/{task['id']}").get_json()["done"] is False
