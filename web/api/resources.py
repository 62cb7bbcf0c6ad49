"""CRUD routes for every record service, registered once from a small declaration per resource.

``GET /<name>`` lists (``page``, ``per_page``, ``sort`` and the service's filters as query
parameters), ``POST /<name>`` creates (201 with ``Location``), ``GET``/``PATCH``/``PUT``/``DELETE
/<name>/<id>`` read, change some fields, replace all fields and delete (204).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from crm.errors import StaleRecord, ValidationError
from crm.services.activities import activities
from crm.services.deals import deals
from crm.services.partners import partners
from crm.services.persons import persons
from crm.services.records import ListQuery, Page, RecordService
from web import db
from web.api.auth import api_user
from web.api.common import (
    BLANK,
    ID,
    etag,
    if_match,
    json_kind_errors,
    json_object,
    reject_unknown,
)

Schema = dict[str, Any]

# Output-only values every record has, besides its input fields.
BASE_OUTPUT: dict[str, Schema] = {
    "id": {"type": "integer", "readOnly": True},
    "created_at": {"type": "string", "format": "date-time", "readOnly": True},
    "updated_at": {"type": "string", "format": "date-time", "readOnly": True},
}
NAME_OF = {"type": ["string", "null"], "readOnly": True}
SCOPE_OUTPUT: dict[str, Schema] = {
    "salesperson": {**NAME_OF, "description": "The salesperson's name"},
    "group": {**NAME_OF, "description": "The group's name"},
    "owner_company_id": {
        "type": ["integer", "null"],
        "readOnly": True,
        "description": "Follows the group",
    },
}
# A deal created or replaced as lost names its reason (DealService.clean). A change (PATCH) may
# leave it out when the deal has one already, which only the record knows.
LOST_NEEDS_A_REASON: Schema = {
    "description": "A lost deal needs a close reason",
    "anyOf": [
        {"not": {"required": ["status"], "properties": {"status": {"const": "lost"}}}},
        {
            "required": ["close_reason"],
            "properties": {"close_reason": {"not": {"anyOf": [{"type": "null"}, BLANK]}}},
        },
        {"required": ["close_reason_id"], "properties": {"close_reason_id": {"type": "integer"}}},
    ],
}


@dataclass(frozen=True)
class Resource:
    """A record service served under ``/api/v1/<path>``.

    ``output`` declares what the service's ``as_dict`` adds beyond the input fields and
    ``BASE_OUTPUT`` (names of linked records, timestamps); the OpenAPI schema is built from
    the fields and this, and a test checks that the two agree with real answers.
    """

    path: str
    schema_name: str
    service: RecordService[Any]
    output: Mapping[str, Schema] = field(default_factory=dict)
    # Fields of which a record needs one, not blank (a person: the name whole or its last name).
    named_by: tuple[str, ...] = ()
    # What a whole record (created or replaced) must satisfy besides each field's schema.
    rules: tuple[Schema, ...] = ()

    def input_names(self) -> set[str]:
        names = {"custom"}
        for spec in self.service.fields:
            names.update((spec.name, spec.attr))
        return names

    def output_names(self) -> set[str]:
        return self.input_names() | set(BASE_OUTPUT) | set(self.output)

    def check_input(self, data: Mapping[str, Any]) -> None:
        """Refuse unknown and read-only fields, a codebook field given twice, and a value of
        the wrong JSON type."""
        reject_unknown(data, self.input_names(), read_only=self.output_names() - self.input_names())
        twice = {
            spec.name: f"give {spec.name} (label or id) or {spec.attr}, not both"
            for spec in self.service.fields
            if spec.kind == "codebook" and spec.name in data and spec.attr in data
        }
        errors = {**twice, **json_kind_errors(self.service.fields, data)}
        if errors:
            raise ValidationError(errors)

    def endpoint(self, action: str) -> str:
        return f"{self.path}_{action}"


RESOURCES: tuple[Resource, ...] = (
    Resource("partners", "Partner", partners, SCOPE_OUTPUT),
    Resource(
        "persons",
        "Person",
        persons,
        {"partner": {"type": "string", "readOnly": True, "description": "The partner's name"}},
        named_by=("last_name", "name"),
    ),
    Resource(
        "deals",
        "Deal",
        deals,
        {
            "partner": {"type": "string", "readOnly": True, "description": "The partner's name"},
            "closed_at": {"type": ["string", "null"], "format": "date-time", "readOnly": True},
            **SCOPE_OUTPUT,
        },
        rules=(LOST_NEEDS_A_REASON,),
    ),
    Resource(
        "activities",
        "Activity",
        activities,
        {
            "done_at": {"type": ["string", "null"], "format": "date-time", "readOnly": True},
            "partner": {**NAME_OF, "description": "The partner's name"},
            "deal": {**NAME_OF, "description": "The deal's title"},
            **SCOPE_OUTPUT,
        },
    ),
)


def page_dict(resource: Resource, page: Page[Any]) -> dict[str, Any]:
    return {
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
        "items": [resource.service.as_dict(record) for record in page.items],
    }


def created(body: dict[str, Any], location: str) -> ResponseReturnValue:
    return jsonify(body), 201, {"Location": location}


def commit_fresh(*records: object) -> None:
    """Commit, then let the answer read the records back as stored (as a later GET would)."""
    db.commit()
    for record in records:
        db.session().expire(record)


def stale_response(exc: StaleRecord) -> ResponseReturnValue:
    """412 with what is saved now and its ETag, so the client can merge and retry."""
    db.discard()
    body = {"error": {"code": exc.code, "message": exc.message}, "current": exc.current}
    return jsonify(body), 412, {"ETag": etag(exc.current["version"])}


def register_resource(bp: Blueprint, resource: Resource) -> None:
    service = resource.service

    def list_records() -> ResponseReturnValue:
        query = ListQuery.from_args(request.args.to_dict())
        return page_dict(resource, service.list(db.session(), api_user(), query))

    def create_record() -> ResponseReturnValue:
        data = json_object()
        resource.check_input(data)
        record = service.create(db.session(), api_user(), data)
        commit_fresh(record)
        url = url_for(f"api.{resource.endpoint('get')}", record_id=record.id)
        return (
            jsonify(service.as_dict(record)),
            201,
            {"Location": url, "ETag": etag(record.version)},
        )

    def get_record(record_id: int) -> ResponseReturnValue:
        record = service.get(db.session(), api_user(), record_id)
        return service.as_dict(record), {"ETag": etag(record.version)}

    def update_record(record_id: int) -> ResponseReturnValue:
        data = json_object()
        resource.check_input(data)
        partial = request.method == "PATCH"
        expected = if_match()
        try:
            record = service.update(
                db.session(),
                api_user(),
                record_id,
                data,
                partial=partial,
                expected_version=expected,
            )
        except StaleRecord as exc:
            return stale_response(exc)
        commit_fresh(record)
        return service.as_dict(record), {"ETag": etag(record.version)}

    def delete_record(record_id: int) -> ResponseReturnValue:
        expected = if_match()
        try:
            service.delete(db.session(), api_user(), record_id, expected_version=expected)
        except StaleRecord as exc:
            return stale_response(exc)
        db.commit()
        return Response(status=204)

    one = f"/{resource.path}/<{ID}:record_id>"
    bp.add_url_rule(f"/{resource.path}", resource.endpoint("list"), list_records, methods=["GET"])
    bp.add_url_rule(
        f"/{resource.path}", resource.endpoint("create"), create_record, methods=["POST"]
    )
    bp.add_url_rule(one, resource.endpoint("get"), get_record, methods=["GET"])
    bp.add_url_rule(one, resource.endpoint("update"), update_record, methods=["PATCH"])
    bp.add_url_rule(one, resource.endpoint("replace"), update_record, methods=["PUT"])
    bp.add_url_rule(one, resource.endpoint("delete"), delete_record, methods=["DELETE"])


def register(bp: Blueprint) -> None:
    for resource in RESOURCES:
        register_resource(bp, resource)


def resource_for(path: str) -> Resource:
    return next(r for r in RESOURCES if r.path == path)
