"""The four record resources, each through the same checks: create, read, list, change,
delete, bad input, and who may see what."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask.testing import FlaskClient

from crm.db import Database
from crm.models import Activity, Deal, Partner, Person, User
from tests.api.conftest import Api, ApiFor, group_id
from tests.conftest import World, count

Body = dict[str, Any]
Ctx = dict[str, int]


@dataclass(frozen=True)
class Case:
    path: str
    model: type
    records: Callable[[Ctx], list[Body]]  # three valid records, the first one the main one
    sort: str
    filters: list[tuple[dict[str, str], list[int]]]  # filter -> indices of records, sorted
    patch: Body
    patched: Body
    put: Callable[[Ctx], Body]  # a full replacement with only some fields
    put_resets: Body  # fields the replacement left out, now empty
    bad: Callable[[Ctx], Body]
    bad_fields: set[str]
    wrong_types: Callable[[Ctx], Body]
    wrong_type_fields: set[str]
    typo: tuple[str, str]  # a misspelt field and the suggestion
    in_group: bool = True  # has group_id (persons follow their partner)
    shown: dict[str, Any] = field(default_factory=dict)  # answers of the first record


CASES = [
    Case(
        path="partners",
        model=Partner,
        records=lambda c: [
            {
                "name": "Železárny Třinec a.s.",
                "city": "Třinec",
                "category": "A",
                "kind": "supplier",
                "emails": ["Obchod@Zelezarny-Trinec.cz"],
                "domains": ["zelezarny-trinec.cz", "@TRZ.cz"],
                "company_id": "18050646",
                "vat_id": "CZ18050646",
                "country": "cz",
            },
            {"name": "Agro Žatec s.r.o.", "city": "Žatec", "category": "B", "region": "Tuzemsko"},
            {
                "name": "Ślusarstwo Łódź sp. z o.o.",
                "city": "Łódź",
                "country": "PL",
                "category": "A",
                "phones": "+48 42 123 45 67, +48 600 100 200",
            },
        ],
        sort="-name",
        filters=[({"category": "A"}, [0, 2]), ({"q": "lodz"}, [2]), ({"kind": "Supplier"}, [0])],
        patch={"city": "Ostrava-Kunčice"},
        patched={"city": "Ostrava-Kunčice", "name": "Železárny Třinec a.s.", "category": "A"},
        put=lambda c: {
            "name": "Třinecké železárny a.s.",
            "group_id": c["group_id"],
            "salesperson_id": c["user_id"],
        },
        put_resets={"city": "", "kind": None, "kind_id": None, "domains": [], "emails": []},
        bad=lambda c: {
            "name": "",
            "emails": ["jana@"],
            "domains": ["seznam.cz"],
            "country": "Česko",
            "category": "Z",
        },
        bad_fields={"name", "emails", "domains", "country", "category"},
        wrong_types=lambda c: {
            "name": 42,
            "emails": [1, 2],
            "private": "možná",
            "group_id": "Tým A",
        },
        wrong_type_fields={"name", "emails", "private", "group_id"},
        typo=("nmae", "name"),
        shown={
            "kind": "Supplier",
            "emails": ["obchod@zelezarny-trinec.cz"],
            "domains": ["trz.cz", "zelezarny-trinec.cz"],
            "country": "CZ",
            "status": "active",
            "group": "Tým A",
            "salesperson": "Jana Nováková",
        },
    ),
    Case(
        path="persons",
        model=Person,
        records=lambda c: [
            {
                "partner_id": c["partner_id"],
                "name": "Jiří Čermák",
                "function": "jednatel",
                "emails": ["jiri.cermak@stavby-pribram.cz"],
                "birthday": "23.04.1971",
            },
            {
                "partner_id": c["partner_id"],
                "name": "Ľubomír Šťastný",
                "function": "nákupca",
                "phones": ["+421 905 123 456"],
            },
            {"partner_id": c["partner_id"], "name": "Małgorzata Żak", "function": "księgowa"},
        ],
        sort="-name",
        filters=[({"partner_id": "{partner_id}"}, [2, 1, 0]), ({"q": "stastny"}, [1])],
        patch={"function": "ředitel"},
        patched={"function": "ředitel", "name": "Jiří Čermák", "birthday": "1971-04-23"},
        put=lambda c: {"partner_id": c["partner_id"], "name": "Jiří Čermák ml."},
        put_resets={"function": "", "emails": [], "birthday": None},
        bad=lambda c: {
            "partner_id": c["partner_id"],
            "name": "",
            "emails": ["jiri@"],
            "birthday": "31.02.2020",
        },
        bad_fields={"name", "emails", "birthday"},
        wrong_types=lambda c: {"partner_id": "Stavby", "name": ["Jiří"], "birthday": 19710423},
        wrong_type_fields={"partner_id", "name", "birthday"},
        typo=("fuction", "function"),
        in_group=False,
        shown={"partner": "Stavby Příbram s.r.o.", "birthday": "1971-04-23"},
    ),
    Case(
        path="deals",
        model=Deal,
        records=lambda c: [
            {
                "title": "Okna pro školu v Příbrami",
                "partner_id": c["partner_id"],
                "value": 1250000.5,
                "stage": "Offer sent",
                "expected_close": "2025-06-30",
            },
            {
                "title": "Střecha haly Žatec",
                "partner_id": c["partner_id"],
                "value": "480 000,00",
                "expected_close": "15. 9. 2025",
            },
            {
                "title": "Dostawa stali – Łódź",
                "partner_id": c["partner_id"],
                "value": 99000,
                "currency": "PLN",
                "expected_close": "2025-12-31",
            },
        ],
        sort="-value",
        filters=[
            ({"close_from": "2025-01-01"}, [0, 1, 2]),
            ({"currency": "CZK", "close_from": "2025-01-01"}, [0, 1]),
            ({"currency": "PLN"}, [2]),
            ({"q": "skolu"}, [0]),
            ({"stage": "offer sent"}, [0]),
            ({"close_from": "2025-06-01", "close_to": "2025-07-01"}, [0]),
        ],
        patch={"stage": "Negotiation", "value": 1300000},
        patched={"stage": "Negotiation", "value": 1300000.0, "title": "Okna pro školu v Příbrami"},
        put=lambda c: {
            "title": "Okna pro gymnázium",
            "partner_id": c["partner_id"],
            "group_id": c["group_id"],
            "salesperson_id": c["user_id"],
        },
        put_resets={"value": None, "expected_close": None, "stage": None, "currency": "CZK"},
        bad=lambda c: {
            "title": "",
            "partner_id": c["partner_id"],
            "value": -5,
            "currency": "Kč",
            "probability": 150,
            "stage": "Neexistuje",
        },
        bad_fields={"title", "value", "currency", "probability", "stage"},
        wrong_types=lambda c: {
            "title": {"cs": "Okna"},
            "partner_id": c["partner_id"],
            "value": True,
            "expected_close": 20250630,
            "probability": 50.5,
        },
        wrong_type_fields={"title", "value", "expected_close", "probability"},
        typo=("titel", "title"),
        shown={
            "partner": "Stavby Příbram s.r.o.",
            "currency": "CZK",
            "status": "open",
            "stage": "Offer sent",
            "probability": 50,
            "value": 1250000.5,
        },
    ),
    Case(
        path="activities",
        model=Activity,
        records=lambda c: [
            {
                "kind": "call",
                "title": "Zavolat panu Čermákovi",
                "partner_id": c["partner_id"],
                "due_date": "2025-03-03",
                "note": "Ptát se na termín – „co nejdřív“.",
            },
            {
                "kind": "task",
                "title": "Poslat nabídku – střecha",
                "deal_id": c["deal_id"],
                "due_date": "2025-03-10",
            },
            {
                "kind": "call",
                "title": "Ověřit termín dodání",
                "partner_id": c["partner_id"],
                "due_date": "2025-02-20",
                "done": True,
            },
        ],
        sort="due_date",
        filters=[
            ({"kind": "call"}, [2, 0]),
            ({"done": "true"}, [2]),
            ({"deal_id": "{deal_id}"}, [1]),
            ({"partner_id": "{partner_id}", "due_from": "2025-03-01"}, [0, 1]),
        ],
        patch={"done": True},
        patched={"done": True, "title": "Zavolat panu Čermákovi"},
        put=lambda c: {
            "kind": "meeting",
            "title": "Schůzka v Příbrami",
            "partner_id": c["partner_id"],
            "group_id": c["group_id"],
            "salesperson_id": c["user_id"],
        },
        put_resets={"due_date": None, "note": "", "done": False},
        bad=lambda c: {
            "kind": "schůzka",
            "title": "",
            "due_date": "zítra",
            "partner_id": c["partner_id"],
        },
        bad_fields={"kind", "title", "due_date"},
        wrong_types=lambda c: {
            "kind": "call",
            "title": "Zavolat",
            "partner_id": c["partner_id"],
            "done": "napůl",
            "due_date": [2025, 3, 3],
            "custom": "barva",
        },
        wrong_type_fields={"done", "due_date", "custom"},
        typo=("due_dat", "due_date"),
        shown={"partner": "Stavby Příbram s.r.o.", "deal": None, "done": False, "done_at": None},
    ),
]
IDS = [case.path for case in CASES]


@pytest.fixture
def ctx(api: Api, partner_a: dict[str, Any], world: World) -> Ctx:
    deal = api.post(
        "/api/v1/deals", {"title": "Střecha – sklad Příbram", "partner_id": partner_a["id"]}
    )
    assert deal.status_code == 201
    return {
        "partner_id": partner_a["id"],
        "deal_id": deal.get_json()["id"],
        "group_id": group_id(world.sales_a),
        "user_id": world.sales_a.id,
    }


def url(case: Case, record_id: int | None = None) -> str:
    return f"/api/v1/{case.path}" + ("" if record_id is None else f"/{record_id}")


def create_all(api: Api, case: Case, ctx: Ctx) -> list[Body]:
    made = []
    for body in case.records(ctx):
        response = api.post(url(case), body)
        assert response.status_code == 201, response.get_json()
        made.append(response.get_json())
    return made


def fields_of(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "invalid" and error["message"]
    return dict(error["fields"])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_create_answers_201_with_the_record_and_its_location(
    api: Api, ctx: Ctx, case: Case
) -> None:
    body = case.records(ctx)[0]
    response = api.post(url(case), body)
    assert response.status_code == 201
    created = response.get_json()
    assert isinstance(created["id"], int)
    assert response.headers["Location"] == url(case, created["id"])
    for key, value in {**body, **case.shown}.items():
        if key not in case.shown and key not in ("kind", "emails", "domains", "birthday"):
            assert created[key] == value, key
    for key, value in case.shown.items():
        assert created[key] == value, key
    fetched = api.get(response.headers["Location"])
    assert fetched.status_code == 200 and fetched.get_json() == created


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_list_filters_sorts_and_pages(api: Api, ctx: Ctx, case: Case) -> None:
    made = create_all(api, case, ctx)
    listed = api.get(url(case), per_page=500).get_json()
    assert set(listed) == {"total", "page", "per_page", "items"}
    assert listed["total"] >= 3 and {r["id"] for r in made} <= {r["id"] for r in listed["items"]}
    for raw_filter, expected in case.filters:
        params = {k: v.format(**ctx) for k, v in raw_filter.items()}
        response = api.get(url(case), sort=case.sort, **params)
        assert response.status_code == 200, response.get_json()
        page = response.get_json()
        assert [r["id"] for r in page["items"]] == [made[i]["id"] for i in expected], params
        assert page["total"] == len(expected)
        if len(expected) >= 2:
            second = api.get(url(case), sort=case.sort, per_page="1", page="2", **params)
            paged = second.get_json()
            assert paged["total"] == len(expected) and paged["page"] == 2
            assert [r["id"] for r in paged["items"]] == [made[expected[1]]["id"]]
            beyond = api.get(url(case), per_page="1", page="99", **params).get_json()
            assert beyond["items"] == [] and beyond["total"] == len(expected)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize(
    ("params", "bad"),
    [
        ({"page": "0"}, "page"),
        ({"per_page": "501"}, "per_page"),
        ({"per_page": "deset"}, "per_page"),
        ({"sort": "barva"}, "sort"),
        ({"barva": "modrá"}, "barva"),
    ],
)
def test_bad_list_parameters_are_422(
    api: Api, world: World, case: Case, params: dict[str, str], bad: str
) -> None:
    assert bad in fields_of(api.get(url(case), **params))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_patch_changes_only_the_given_fields(api: Api, ctx: Ctx, case: Case) -> None:
    created = api.post(url(case), case.records(ctx)[0]).get_json()
    response = api.patch(url(case, created["id"]), case.patch)
    assert response.status_code == 200, response.get_json()
    changed = response.get_json()
    for key, value in case.patched.items():
        assert changed[key] == value, key
    unchanged = {k for k in created if k not in case.patch and k not in case.patched}
    for key in unchanged - {"updated_at", "stage_id", "done_at", "version"}:
        assert changed[key] == created[key], key
    assert api.get(url(case, created["id"])).get_json() == changed


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_put_replaces_every_field(api: Api, ctx: Ctx, case: Case) -> None:
    created = api.post(url(case), case.records(ctx)[0]).get_json()
    body = case.put(ctx)
    response = api.put(url(case, created["id"]), body)
    assert response.status_code == 200, response.get_json()
    replaced = response.get_json()
    for key, value in {**body, **case.put_resets}.items():
        assert replaced[key] == value, key
    assert replaced["id"] == created["id"]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_delete_answers_204_and_the_record_is_gone(
    api: Api, ctx: Ctx, case: Case, database: Database
) -> None:
    created = api.post(url(case), case.records(ctx)[1]).get_json()
    before = count(database, case.model)
    response = api.delete(url(case, created["id"]))
    assert response.status_code == 204 and response.get_data() == b""
    assert count(database, case.model) == before - 1
    assert count(database, case.model, trashed=True) == 1  # an admin may restore it
    again = api.get(url(case, created["id"]))
    assert again.status_code == 404 and again.get_json()["error"]["code"] == "not_found"
    assert api.delete(url(case, created["id"])).status_code == 404


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_bad_values_are_422_per_field_and_nothing_is_stored(
    api: Api, ctx: Ctx, case: Case, database: Database
) -> None:
    before = count(database, case.model)
    assert set(fields_of(api.post(url(case), case.bad(ctx)))) == case.bad_fields
    assert set(fields_of(api.post(url(case), case.wrong_types(ctx)))) == case.wrong_type_fields
    assert count(database, case.model) == before
    created = api.post(url(case), case.records(ctx)[0]).get_json()
    assert set(fields_of(api.put(url(case, created["id"]), case.bad(ctx)))) == case.bad_fields
    assert api.get(url(case, created["id"])).get_json() == created


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_unknown_and_read_only_fields_are_refused(
    api: Api, ctx: Ctx, case: Case, database: Database
) -> None:
    before = count(database, case.model)
    typo, suggestion = case.typo
    body = {**case.records(ctx)[0], typo: "x", "barva": "modrá", "id": 7, "created_at": "dnes"}
    fields = fields_of(api.post(url(case), body))
    assert set(fields) == {typo, "barva", "id", "created_at"}
    assert f"did you mean “{suggestion}”" in fields[typo]
    assert fields["barva"] == "is not a known field"
    assert fields["id"] == fields["created_at"] == "is read-only"
    assert count(database, case.model) == before
    created = api.post(url(case), case.records(ctx)[0]).get_json()
    assert set(fields_of(api.patch(url(case, created["id"]), {typo: "y"}))) == {typo}


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize(
    ("data", "content_type", "says"),
    [
        (None, None, "send a JSON object"),
        ("", "application/json", "send a JSON object"),
        ("name=Příbram", "application/x-www-form-urlencoded", "not valid JSON"),
        ('{"name": "Příbram"', "application/json", "not valid JSON"),
        ('["Příbram"]', "application/json", "not an array"),
        ('"Příbram"', "application/json", "not a string"),
        ("null", "application/json", "not null"),
        (b"\xff\xfe{}", "application/json", "not UTF-8"),
        ("[" * 100_000 + "]" * 100_000, "application/json", "nested too deeply"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_400(
    api: Api,
    ctx: Ctx,
    case: Case,
    database: Database,
    data: str | bytes | None,
    content_type: str | None,
    says: str,
) -> None:
    before = count(database, case.model)
    created = api.post(url(case), case.records(ctx)[0]).get_json()
    for method, path in (("POST", url(case)), ("PATCH", url(case, created["id"]))):
        response = api.raw(method, path, data=data, content_type=content_type)
        assert response.status_code == 400, response.get_data(as_text=True)
        error = response.get_json()["error"]
        assert error["code"] == "bad_request" and says in error["message"]
    assert count(database, case.model) == before + 1


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_another_teams_salesperson_cannot_see_or_touch_the_record(
    api: Api, api_for: ApiFor, ctx: Ctx, case: Case, world: World, database: Database
) -> None:
    created = api.post(url(case), case.records(ctx)[0]).get_json()
    one = url(case, created["id"])
    zofia = api_for(world.sales_b)
    for response in (
        zofia.get(one),
        zofia.patch(one, case.patch),
        zofia.put(one, case.put(ctx)),
        zofia.delete(one),
    ):
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"
    listed = zofia.get(url(case), per_page=500).get_json()
    assert created["id"] not in {r["id"] for r in listed["items"]}
    assert api.get(one).get_json() == created
    for colleague in (world.manager_a, world.admin, world.sales_a2):
        assert api_for(colleague).get(one).status_code == 200


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_colleague_may_see_but_not_delete_someone_elses_record(
    api: Api, api_for: ApiFor, ctx: Ctx, case: Case, world: World
) -> None:
    created = api.post(url(case), case.records(ctx)[0]).get_json()
    response = api_for(world.sales_a2).delete(url(case, created["id"]))
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert api.get(url(case, created["id"])).status_code == 200
    assert api_for(world.manager_a).delete(url(case, created["id"])).status_code == 204


def foreign_attempt(case: Case, ctx: Ctx, world: World) -> tuple[User, Body, str]:
    """A record that its author may not put where it would go."""
    if case.in_group:
        return (
            world.sales_a,
            {**case.records(ctx)[0], "group_id": group_id(world.sales_b)},
            ("group_id"),
        )
    return world.sales_b, case.records(ctx)[0], "partner_id"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_nobody_writes_into_another_teams_records(
    api_for: ApiFor, ctx: Ctx, case: Case, world: World, database: Database
) -> None:
    before = count(database, case.model)
    user, body, field_name = foreign_attempt(case, ctx, world)
    assert field_name in fields_of(api_for(user).post(url(case), body))
    assert count(database, case.model) == before
    if case.in_group:
        created = api_for(world.sales_a).post(url(case), case.records(ctx)[0]).get_json()
        moved = api_for(world.sales_a).patch(
            url(case, created["id"]), {"group_id": group_id(world.sales_b)}
        )
        assert "group_id" in fields_of(moved)
        admin = api_for(world.admin).patch(
            url(case, created["id"]), {"group_id": group_id(world.sales_b)}
        )
        assert admin.status_code == 200
        assert admin.get_json()["group_id"] == group_id(world.sales_b)


def test_unknown_ids_and_methods(api: Api, world: World) -> None:
    assert api.get("/api/v1/partners/999999").status_code == 404
    assert api.get(f"/api/v1/partners/{2**31}").status_code == 404
    assert api.get("/api/v1/partners/-1").status_code == 404
    response = api.raw("DELETE", "/api/v1/partners")
    assert response.status_code == 405 and response.get_json()["error"]["code"]


def test_a_clash_is_409(api: Api, partner_a: dict[str, Any], client: FlaskClient) -> None:
    clash = api.post("/api/v1/partners", {"name": "Kopie Příbram", "company_id": "27082440"})
    assert clash.status_code == 409
    assert clash.get_json()["error"] == {
        "code": "conflict",
        "message": "a partner with company ID 27082440 already exists",
    }
    deal = api.post("/api/v1/deals", {"title": "Lešení", "partner_id": partner_a["id"]})
    assert deal.status_code == 201
    busy = api.delete(f"/api/v1/partners/{partner_a['id']}")
    assert busy.status_code == 409 and "has deals" in busy.get_json()["error"]["message"]


def test_codebook_fields_take_a_label_or_an_id_but_not_both(api: Api, world: World) -> None:
    stages = api.get("/api/v1/codebooks/deal_stage").get_json()["entries"]
    kinds = {
        e["label"]: e["id"] for e in api.get("/api/v1/codebooks/partner_kind").get_json()["entries"]
    }
    by_id = api.post("/api/v1/partners", {"name": "Mlýn Kroměříž", "kind_id": kinds["Supplier"]})
    assert by_id.status_code == 201 and by_id.get_json()["kind"] == "Supplier"
    by_label_id = api.patch(
        f"/api/v1/partners/{by_id.get_json()['id']}", {"kind": str(kinds["Prospect"])}
    )
    assert by_label_id.get_json()["kind"] == "Prospect"
    both = api.post(
        "/api/v1/partners", {"name": "Mlýn", "kind": "Supplier", "kind_id": kinds["Supplier"]}
    )
    assert fields_of(both) == {"kind": "give kind (label or id) or kind_id, not both"}
    wrong_book = api.post("/api/v1/partners", {"name": "Mlýn", "kind_id": stages[0]["id"]})
    assert set(fields_of(wrong_book)) == {"kind"}
