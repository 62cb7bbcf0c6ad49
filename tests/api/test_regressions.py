"""Bad input and leaks once found through the API in crm's rules; each stays as a regression test:
nulls for defaulted choices, out-of-range numbers, deletes under activities, private parents,
an activity's group, and the outbox on closing a deal."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from crm.db import Database
from crm.models import OutboxEntry
from tests.api.conftest import Api, ApiFor
from tests.conftest import World


@pytest.mark.parametrize(("path", "field"), [("partners", "status"), ("deals", "currency")])
def test_null_for_a_choice_with_a_default_is_not_a_server_error(
    api: Api, partner_a: dict[str, Any], path: str, field: str
) -> None:
    deal = api.post("/api/v1/deals", {"title": "Střecha", "partner_id": partner_a["id"]})
    record_id = partner_a["id"] if path == "partners" else deal.get_json()["id"]
    response = api.patch(f"/api/v1/{path}/{record_id}", {field: None})
    assert response.status_code in (200, 422)


@pytest.mark.parametrize("path", ["partners", "deals"])
def test_deleting_a_record_with_activities_is_not_a_server_error(
    api: Api, partner_a: dict[str, Any], path: str
) -> None:
    if path == "partners":
        target = partner_a["id"]
        body = {"kind": "call", "title": "Hovor", "partner_id": target}
    else:
        deal = api.post("/api/v1/deals", {"title": "Okna", "partner_id": partner_a["id"]})
        target = deal.get_json()["id"]
        body = {"kind": "call", "title": "Hovor", "deal_id": target}
    assert api.post("/api/v1/activities", body).status_code == 201
    assert api.delete(f"/api/v1/{path}/{target}").status_code in (204, 409)


def test_a_unicode_digit_as_page_is_422(api: Api, world: World) -> None:
    assert api.get("/api/v1/partners", page="²").status_code == 422


def test_a_huge_id_filter_is_not_a_server_error(api: Api, world: World) -> None:
    response = api.get("/api/v1/partners", salesperson_id="9" * 20)
    assert response.status_code in (200, 422)


def test_a_meeting_on_a_private_deal_stays_private(
    api: Api, api_for: ApiFor, partner_a: dict[str, Any], world: World
) -> None:
    petr = api_for(world.sales_a2)
    deal = petr.post(
        "/api/v1/deals",
        {"title": "Tajná nabídka", "partner_id": partner_a["id"], "private": True},
    ).get_json()
    petr.post(f"/api/v1/deals/{deal['id']}/actions/meeting", {})
    timeline = api.get(f"/api/v1/partners/{partner_a['id']}/timeline").get_json()["items"]
    assert all("Tajná" not in entry["title"] for entry in timeline)


def test_an_activity_names_its_group(api: Api, partner_a: dict[str, Any]) -> None:
    body = {"kind": "note", "title": "Poznámka", "partner_id": partner_a["id"]}
    assert api.post("/api/v1/activities", body).get_json()["group"] == "Tým A"


def test_closing_a_deal_tells_the_outbox(
    api: Api, partner_a: dict[str, Any], database: Database
) -> None:
    deal = api.post("/api/v1/deals", {"title": "Okna", "partner_id": partner_a["id"]}).get_json()
    api.post(f"/api/v1/deals/{deal['id']}/actions/close", {"status": "won"})
    with database.session() as s:
        actions = s.scalars(
            select(OutboxEntry.action).where(
                OutboxEntry.entity == "deal", OutboxEntry.entity_id == deal["id"]
            )
        ).all()
    assert list(actions) == ["create", "update"]


@pytest.mark.parametrize(("path", "field"), [("persons", "partner_id"), ("partners", "group_id")])
def test_a_huge_id_in_a_body_is_not_a_server_error(
    api: Api, partner_a: dict[str, Any], path: str, field: str
) -> None:
    body = {"name": "Jan Veliký", "partner_id": partner_a["id"], field: 10**30}
    if path == "partners":
        del body["partner_id"]
    response = api.post(f"/api/v1/{path}", body)
    assert response.status_code == 422 and field in response.get_json()["error"]["fields"]


def test_the_longest_name_parts_are_stored_whole(api: Api, partner_a: dict[str, Any]) -> None:
    """Each part at its limit: the sort keys derived from them (last + first name, 301
    characters folded) fit their columns on PostgreSQL, and so does a ligature that folding
    spells as several letters."""
    body = {
        "partner_id": partner_a["id"],
        "title_before": "doc. Ing.",
        "first_name": "J" * 100,
        "last_name": "Ǆ" + "á" * 199,  # NFKD: "DŽ", two letters and a caron
        "title_after": "C" * 49,
    }
    created = api.post("/api/v1/persons", body)
    assert created.status_code == 201, created.get_data(as_text=True)
    person = created.get_json()
    assert person["last_name"] == body["last_name"] and person["first_name"] == "J" * 100
    found = api.get("/api/v1/persons", q="dzaaa", sort="last_name").get_json()["items"]
    assert [p["id"] for p in found] == [person["id"]]


def test_a_json_list_longer_than_its_limit_is_refused_even_with_blank_entries(
    api: Api, partner_a: dict[str, Any]
) -> None:
    """The description says at most 50 entries: a list of 51, some of them blank, is refused
    and the partner keeps its phones."""
    phones = ["+420 601 000 001", " "] * 25 + ["+420 601 000 002"]
    response = api.patch(f"/api/v1/partners/{partner_a['id']}", {"phones": phones})
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {"phones": "at most 50 entries"}
    kept = api.get(f"/api/v1/partners/{partner_a['id']}").get_json()["phones"]
    assert kept == partner_a["phones"]


def test_the_description_says_a_lost_deal_needs_its_reason(
    api: Api, partner_a: dict[str, Any]
) -> None:
    """What the API refuses, its description says: a deal created as lost without a reason."""
    schema = api.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    rules = schema["DealInput"]["allOf"]
    assert any(rule.get("description") == "A lost deal needs a close reason" for rule in rules)
    body = {"title": "Okna", "partner_id": partner_a["id"], "status": "lost"}
    refused = api.post("/api/v1/deals", body)
    assert refused.status_code == 422
    assert refused.get_json()["error"]["fields"] == {
        "close_reason": "is required when a deal is lost"
    }
