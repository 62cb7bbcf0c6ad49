"""ETag and If-Match on the record resources (issue 9 §6, RFC 9110 §13.1.1)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, ApiFor
from tests.conftest import World


def write(api: Api, method: str, path: str, etag: str | None, body: Any = None) -> Any:
    headers = {**api.headers, **({"If-Match": etag} if etag is not None else {})}
    return api.client.open(path, method=method, json=body, headers=headers)


def test_get_answers_the_version_as_etag_and_writes_the_new_one(
    api: Api, partner_a: dict[str, Any]
) -> None:
    path = f"/api/v1/partners/{partner_a['id']}"
    response = api.get(path)
    assert response.headers["ETag"] == '"1"'
    assert response.get_json()["version"] == 1
    changed = write(api, "PATCH", path, '"1"', {"city": "Tábor"})
    assert changed.status_code == 200, changed.get_json()
    assert changed.headers["ETag"] == '"2"'
    assert changed.get_json()["version"] == 2
    assert api.get(path).headers["ETag"] == '"2"'


@pytest.mark.parametrize("method", ["PATCH", "PUT", "DELETE"])
def test_a_stale_if_match_is_412_with_the_current_record(
    api_for: ApiFor, world: World, api: Api, partner_a: dict[str, Any], method: str
) -> None:
    path = f"/api/v1/partners/{partner_a['id']}"
    manager = api_for(world.manager_a)
    assert write(manager, "PATCH", path, '"1"', {"phones": ["+420 777 111 222"]}).status_code == 200
    body: dict[str, Any] | None = {"name": partner_a["name"], "note": "volat ráno"}
    if method == "PUT":
        body = {**(body or {}), **{k: partner_a[k] for k in ("group_id", "salesperson_id")}}
    elif method == "DELETE":
        body = None
    refused = write(api, method, path, '"1"', body)
    assert refused.status_code == 412, refused.get_json()
    answer = refused.get_json()
    assert answer["error"]["code"] == "stale"
    assert answer["current"]["phones"] == ["+420 777 111 222"]
    assert answer["current"]["note"] == ""
    assert refused.headers["ETag"] == '"2"'
    stored = api.get(path).get_json()
    assert (stored["version"], stored["note"]) == (2, "")
    # With the current version the same request goes through, keeping the manager's phone.
    accepted = write(api, method, path, refused.headers["ETag"], body)
    assert accepted.status_code in (200, 204), accepted.get_json()
    if method == "DELETE":
        assert api.get(path).status_code == 404
    else:
        assert accepted.headers["ETag"] == '"3"'
        assert accepted.get_json()["note"] == "volat ráno"
        if method == "PATCH":
            assert accepted.get_json()["phones"] == ["+420 777 111 222"]


@pytest.mark.parametrize("etag", ["3", 'W/"1"', '"1", "2"', '"abc"', '""'])
def test_a_malformed_if_match_is_400_and_writes_nothing(
    api: Api, partner_a: dict[str, Any], etag: str
) -> None:
    path = f"/api/v1/partners/{partner_a['id']}"
    response = write(api, "PATCH", path, etag, {"city": "Tábor"})
    assert response.status_code == 400, response.get_json()
    assert api.get(path).get_json()["city"] == "Příbram"


def test_star_and_no_if_match_write_whatever_the_version(
    api: Api, partner_a: dict[str, Any]
) -> None:
    path = f"/api/v1/partners/{partner_a['id']}"
    assert write(api, "PATCH", path, None, {"city": "Tábor"}).status_code == 200
    assert write(api, "PATCH", path, "*", {"city": "Písek"}).status_code == 200
    assert api.get(path).get_json()["city"] == "Písek"
    assert write(api, "DELETE", path, "*").status_code == 204


def test_every_record_resource_has_an_etag(api: Api, partner_a: dict[str, Any]) -> None:
    created = api.post("/api/v1/deals", {"title": "Krov", "partner_id": partner_a["id"]})
    assert created.status_code == 201 and created.headers["ETag"] == '"1"'
    deal_path = f"/api/v1/deals/{created.get_json()['id']}"
    assert write(api, "PATCH", deal_path, '"2"', {"value": 5}).status_code == 412
    assert write(api, "PATCH", deal_path, '"1"', {"value": 5}).status_code == 200
