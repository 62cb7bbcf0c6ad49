"""/api/v1/openapi.json: valid OpenAPI 3.1, every served path in it, and real answers fit it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from crm.db import Database
from crm.services import codebooks
from tests.api.conftest import Api, ApiFor
from tests.conftest import World

SPEC_URI = "urn:dossier:openapi"


def spec_of(api: Api) -> dict[str, Any]:
    response = api.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return dict(response.get_json())


def served(app: Flask) -> set[tuple[str, str]]:
    """(path in OpenAPI form, method) for every API route the app serves."""
    out = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        out |= {(path, m.lower()) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
    return out


def described(spec: dict[str, Any]) -> set[tuple[str, str]]:
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return {(p, m) for p, item in spec["paths"].items() for m in item if m in methods}


def conforms(spec: dict[str, Any], schema_name: str, instance: Any) -> None:
    registry: Registry = Registry().with_resource(
        SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    validator = Draft202012Validator(
        {"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]
    assert not errors, f"{schema_name}: {errors}"


def test_the_description_is_valid_openapi_and_lists_every_served_path(api: Api, app: Flask) -> None:
    spec = spec_of(api)
    validate(spec)
    assert spec["openapi"] == "3.1.0"
    assert described(spec) == served(app)
    ids = [
        op["operationId"]
        for item in spec["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    ]
    assert len(ids) == len(set(ids)) == len(served(app))


def test_lists_take_the_services_filters_and_sort_keys(api: Api) -> None:
    spec = spec_of(api)
    params = {p["name"]: p for p in spec["paths"]["/api/v1/deals"]["get"]["parameters"]}
    assert {"page", "per_page", "sort", "q", "stage", "status", "close_from"} <= set(params)
    # each filter, or empty (a web form's blank filter filters nothing)
    given = {name: p["schema"]["anyOf"][0] for name, p in params.items()}
    assert all(
        p["schema"]["anyOf"][1] == {"type": "string", "maxLength": 0} for p in params.values()
    )
    assert given["status"] == {"enum": ["open", "won", "lost"]}
    assert given["close_from"]["format"] == "date"
    assert {"value", "-value", "stage", "-created_at"} <= set(given["sort"]["enum"])
    assert given["page"]["maximum"] == 1_000_000 and given["per_page"]["maximum"] == 500
    partner_in = spec["components"]["schemas"]["PartnerInput"]
    assert partner_in["required"] == ["name"] and partner_in["additionalProperties"] is False
    assert partner_in["properties"]["domains"]["items"]["anyOf"][0]["format"] == "idn-hostname"
    # a codebook value by label (any case) or id, but not both ways at once
    assert {"not": {"required": ["kind", "kind_id"]}} in partner_in["allOf"]
    kinds = partner_in["properties"]["kind"]["anyOf"]
    assert re.fullmatch(kinds[0]["pattern"].strip("^$"), "cUSTOMER")
    assert not re.fullmatch(kinds[0]["pattern"].strip("^$"), "Customers")
    assert {"kind", "kind_id", "custom"} <= set(partner_in["properties"])
    assert "required" not in spec["components"]["schemas"]["PartnerPatch"]
    assert spec["components"]["schemas"]["Partner"]["properties"]["id"]["readOnly"] is True


def test_custom_fields_are_described_and_accepted(
    api: Api, world: World, database: Database, partner_a: dict[str, Any]
) -> None:
    with database.session() as s:
        codebooks.add_custom_field(
            s,
            world.admin,
            {
                "record_type": "partner",
                "key": "smlouva",
                "label": "Číslo smlouvy",
                "field_type": "text",
                "required": True,
            },
        )
        codebooks.add_custom_field(
            s,
            world.admin,
            {
                "record_type": "partner",
                "key": "kraj",
                "label": "Kraj",
                "field_type": "codebook",
                "codebook": "region",
            },
        )
    spec = spec_of(api)
    validate(spec)
    schemas = spec["components"]["schemas"]
    custom = schemas["PartnerInput"]["properties"]["custom"]
    assert set(custom["properties"]) == {"smlouva", "kraj"} and custom["required"] == ["smlouva"]
    assert schemas["PartnerInput"]["required"] == ["name", "custom"]
    assert "required" not in schemas["PartnerPatch"]["properties"]["custom"]
    params = {p["name"] for p in spec["paths"]["/api/v1/partners"]["get"]["parameters"]}
    assert "custom.smlouva" in params
    created = api.post(
        "/api/v1/partners",
        {"name": "Pila Vimperk", "custom": {"smlouva": "SML-2025/017", "kraj": "Tuzemsko"}},
    )
    assert created.status_code == 201, created.get_json()
    record = created.get_json()
    assert record["custom"]["smlouva"] == "SML-2025/017"
    conforms(spec, "Partner", record)
    found = api.get("/api/v1/partners", **{"custom.smlouva": "sml-2025/017"}).get_json()
    assert [p["id"] for p in found["items"]] == [record["id"]]
    changed = api.patch(f"/api/v1/partners/{record['id']}", {"custom": {"kraj": "Zahraničí"}})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["custom"]["smlouva"] == "SML-2025/017"
    bad = api.post("/api/v1/partners", {"name": "Pila", "custom": {"barva": "zelená"}})
    assert bad.status_code == 422
    assert bad.get_json()["error"]["fields"] == {
        "custom.barva": "is not a custom field",
        "custom.smlouva": "is required",
    }


@pytest.fixture
def answers(api: Api, api_for: ApiFor, partner_a: dict[str, Any], world: World) -> dict[str, Any]:
    """One real answer of every kind."""
    pid = partner_a["id"]
    deal = api.post(
        "/api/v1/deals",
        {"title": "Oprava mostu Žďár", "partner_id": pid, "value": 1500.5, "stage": "Lead"},
    ).get_json()
    person = api.post(
        "/api/v1/persons",
        {"partner_id": pid, "name": "Štěpánka Ďurišová", "birthday": "1980-02-29"},
    ).get_json()
    meeting = api.post(f"/api/v1/deals/{deal['id']}/actions/meeting", {"due_date": "2025-05-05"})
    closed = api.post(f"/api/v1/deals/{deal['id']}/actions/close", {"status": "won"})
    return {
        "Partner": partner_a,
        "Deal": deal,
        "Person": person,
        "DealActionResult": closed.get_json(),
        "Activity": meeting.get_json()["activity"],
        "PartnerList": api.get("/api/v1/partners").get_json(),
        "PersonList": api.get("/api/v1/persons").get_json(),
        "DealList": api.get("/api/v1/deals").get_json(),
        "ActivityList": api.get("/api/v1/activities").get_json(),
        "Timeline": api.get(f"/api/v1/partners/{pid}/timeline").get_json(),
        "CodebookList": api.get("/api/v1/codebooks").get_json(),
        "Codebook": api.get("/api/v1/codebooks/deal_stage").get_json(),
        "User": api.get("/api/v1/me").get_json(),
        "Error": api.post("/api/v1/partners", {"name": ""}).get_json(),
    }


def test_real_answers_fit_the_description(api: Api, answers: dict[str, Any]) -> None:
    spec = spec_of(api)
    for name, answer in answers.items():
        conforms(spec, name, answer)
    for name in ("Partner", "Person", "Deal", "Activity"):
        properties = spec["components"]["schemas"][name]["properties"]
        assert set(answers[name]) == set(properties), name
