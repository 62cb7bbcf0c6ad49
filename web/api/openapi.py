"""``/api/v1/openapi.json``: OpenAPI 3.1, built from the record services' field specs, filters
and sort keys (and the database's custom fields), so the description cannot drift from what the
API accepts."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version
from typing import Any

from flask import Blueprint
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from crm.fields import FieldSpec
from crm.models import CODEBOOKS, DEAL_STATUSES, ROLES, CustomField
from crm.services.activities import DEAL_ACTIONS
from crm.services.deals import deals
from crm.services.records import MAX_PER_PAGE, custom_fields_for
from crm.services.users import LANGUAGES
from web import db
from web.api import messages_openapi
from web.api.common import MAX_ID, PREFIX
from web.api.resources import BASE_OUTPUT, RESOURCES, Resource, Schema
from web.api.views import (
    ACTION_SETS,
    CLOSE_FIELDS,
    TIMELINE_DEFAULT,
    TIMELINE_MAX,
    TIMELINE_MAX_OFFSET,
    action_fields,
)

ITEM_FORMATS = {"email": "email", "domain": "idn-hostname"}
ERRORS = {
    "400": ("BadRequest", "The body is missing, is not JSON or is not a JSON object"),
    "401": ("Unauthorized", "No valid API token (`Authorization: Bearer TOKEN`)"),
    "403": ("Forbidden", "The record is visible but this user may not do that to it"),
    "404": ("NotFound", "No such record, or one the user may not see"),
    "409": ("Conflict", "The change clashes with the stored data"),
    "422": ("Invalid", "Bad values; `fields` names each bad field or parameter"),
}


def ref(kind: str, name: str) -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def with_null(schema: Schema) -> Schema:
    kind = schema["type"]
    return {**schema, "type": [*([kind] if isinstance(kind, str) else kind), "null"]}


def described(spec: FieldSpec, schema: Schema) -> Schema:
    out = {"title": spec.label, **schema}
    if spec.help:
        out["description"] = spec.help
    if spec.default is not None:
        out["default"] = spec.default
    return out


def bounds(spec: FieldSpec) -> Schema:
    out: Schema = {}
    if spec.minimum is not None:
        out["minimum"] = spec.minimum
    if spec.maximum is not None:
        out["maximum"] = spec.maximum
    return out


def value_schema(spec: FieldSpec, *, output: bool) -> Schema:
    """The JSON schema of one non-codebook field as sent (input) or as answered (output)."""
    optional = not spec.required
    schema: Schema
    if spec.kind in ("str", "text"):
        # An absent or null text is stored as "", so answers always carry a string.
        schema = {"type": "string"}
        if not output:
            if spec.max_length:
                schema["maxLength"] = spec.max_length
            if spec.required:
                schema["minLength"] = 1
            else:
                schema = with_null(schema)
        return schema
    if spec.kind in ("int", "ref"):
        schema = {"type": "integer", **bounds(spec)}
    elif spec.kind == "decimal":
        # Input takes a number or a numeric string ("1 250,50"); answers are numbers.
        schema = {"type": "number" if output else ["number", "string"], **bounds(spec)}
    elif spec.kind == "date":
        schema = {"type": "string", "format": "date"}
    elif spec.kind == "bool":
        return {"type": "boolean"}
    elif spec.kind == "choice":
        nullable = optional and (not output or spec.default is None)
        return {"enum": [*spec.choices, *([None] if nullable else [])]}
    elif spec.kind == "list":
        item: Schema = {"type": "string"}
        if spec.item in ITEM_FORMATS:
            item["format"] = ITEM_FORMATS[spec.item]
        if spec.max_length:
            item["maxLength"] = spec.max_length
        return {"type": "array", "items": item, "maxItems": 50}
    else:
        raise AssertionError(f"no schema for field kind {spec.kind}")
    return with_null(schema) if optional else schema


def field_properties(spec: FieldSpec, *, output: bool) -> dict[str, Schema]:
    """One field's properties: a codebook field is two (``kind`` label, ``kind_id`` id)."""
    if spec.kind == "codebook":
        source = f"Codebook `{spec.codebook}` (see {PREFIX}/codebooks/{spec.codebook})"
        label: Schema = {"type": ["string", "null"], "description": f"{source}: the entry's label"}
        if not output:
            label = {
                "type": ["string", "integer", "null"],
                "description": f"{source}: the entry's label (any case) or id",
            }
        return {
            spec.name: described(spec, label),
            spec.attr: described(
                spec, {"type": ["integer", "null"], "description": f"{source}: the entry's id"}
            ),
        }
    return {spec.name: described(spec, value_schema(spec, output=output))}


def custom_schema(fields: Sequence[CustomField], *, output: bool, partial: bool = False) -> Schema:
    """The ``custom`` object: the admin's custom fields of the record type. In a partial
    update only the keys given change, and null clears one."""
    properties: dict[str, Schema] = {}
    for cf in fields:
        schema: Schema
        if cf.field_type == "number":
            schema = {"type": ["number", "null"] if output else ["number", "string", "null"]}
        elif cf.field_type == "date":
            schema = {"type": ["string", "null"], "format": "date"}
        elif cf.field_type == "codebook":
            schema = {
                "type": ["integer", "null"] if output else ["integer", "string", "null"],
                "description": f"Codebook `{cf.codebook}`: "
                + ("the entry's id" if output else "the entry's label or id"),
            }
        else:
            schema = {"type": ["string", "null"], "maxLength": 500}
        properties[cf.key] = {"title": cf.label, **schema}
    out: Schema = {
        "type": "object",
        "description": "Custom fields defined by an administrator",
        "properties": properties,
    }
    if not output:
        out["additionalProperties"] = False
        required = [cf.key for cf in fields if cf.required]
        if required and not partial:
            out["required"] = required
    return out


def input_schema(resource: Resource, customs: Sequence[CustomField], *, partial: bool) -> Schema:
    properties: dict[str, Schema] = {}
    for spec in resource.service.fields:
        properties.update(field_properties(spec, output=False))
    properties["custom"] = custom_schema(customs, output=False, partial=partial)
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if partial:
        schema["description"] = "Only the fields given are changed."
        return schema
    schema["description"] = "Fields left out take their defaults (empty for most)."
    required = [spec.name for spec in resource.service.fields if spec.required]
    if any(cf.required for cf in customs):
        required.append("custom")
    if required:
        schema["required"] = required
    return schema


def output_schema(resource: Resource, customs: Sequence[CustomField]) -> Schema:
    properties: dict[str, Schema] = {"id": BASE_OUTPUT["id"]}
    for spec in resource.service.fields:
        properties.update(field_properties(spec, output=True))
    properties["custom"] = custom_schema(customs, output=True)
    properties.update({k: v for k, v in BASE_OUTPUT.items() if k != "id"})
    properties.update(resource.output)
    return {"type": "object", "properties": properties, "required": list(properties)}


def list_schema(resource: Resource) -> Schema:
    return {
        "type": "object",
        "properties": {
            "total": {"type": "integer", "description": "Records matching the filters"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "items": {"type": "array", "items": ref("schemas", resource.schema_name)},
        },
        "required": ["total", "page", "per_page", "items"],
    }


def filter_parameters(resource: Resource, customs: Sequence[CustomField]) -> list[Schema]:
    specs = {spec.name: spec for spec in resource.service.fields}
    params: list[Schema] = []
    for name in resource.service.filters:
        spec = specs.get(name)
        schema: Schema
        if name == "q":
            description = "Text search in the name or title; accents optional"
            schema = {"type": "string"}
        elif spec is not None and spec.kind == "codebook":
            description = f"Codebook `{spec.codebook}` entry: label or id"
            schema = {"type": "string"}
        elif spec is not None:
            description = f"{spec.label} equals"
            schema = {
                k: v
                for k, v in value_schema(spec, output=True).items()
                if k not in ("minimum", "maximum")
            }
            if "enum" in schema:
                schema = {"enum": [c for c in schema["enum"] if c is not None]}
            elif isinstance(schema.get("type"), list):
                schema["type"] = schema["type"][0]
        elif name.endswith(("_from", "_to")):
            edge = "on or after" if name.endswith("_from") else "on or before"
            description = f"Date {edge} (YYYY-MM-DD)"
            schema = {"type": "string", "format": "date"}
        else:
            description = f"Filter by {name.replace('_', ' ')}"
            schema = {"type": "string"}
        params.append({"name": name, "in": "query", "description": description, "schema": schema})
    for cf in customs:
        params.append(
            {
                "name": f"custom.{cf.key}",
                "in": "query",
                "description": f"Custom field {cf.label} equals",
                "schema": {"type": "string"},
            }
        )
    return params


def sort_keys(resource: Resource, customs: Sequence[CustomField]) -> list[str]:
    keys = [*resource.service.sort_keys, "id", *(f"custom.{cf.key}" for cf in customs)]
    return [variant for key in keys for variant in (key, f"-{key}")]


def errors(*codes: str) -> dict[str, Schema]:
    return {code: ref("responses", ERRORS[code][0]) for code in codes}


def json_content(schema: Schema) -> Schema:
    return {"content": {"application/json": {"schema": schema}}}


def body(schema: Schema, description: str = "") -> Schema:
    out: Schema = {"required": True, **json_content(schema)}
    if description:
        out["description"] = description
    return out


def answer(description: str, schema: Schema) -> Schema:
    return {"description": description, **json_content(schema)}


def id_parameter(name: str, what: str) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": f"The {what}'s id",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
    }


LOCATION = {"Location": {"description": "The new record's URL", "schema": {"type": "string"}}}


def resource_paths(resource: Resource, customs: Sequence[CustomField]) -> dict[str, Schema]:
    name, path, tags = resource.schema_name, resource.path, [resource.path]
    record = ref("schemas", name)
    singular = name.lower()
    paging = [
        {
            "name": "page",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "default": 1},
        },
        {
            "name": "per_page",
            "in": "query",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_PER_PAGE,
                "default": 50,
            },
        },
        {
            "name": "sort",
            "in": "query",
            "description": "A sort key; a leading - sorts descending",
            "schema": {
                "enum": sort_keys(resource, customs),
                "default": resource.service.default_sort,
            },
        },
    ]
    return {
        f"{PREFIX}/{path}": {
            "get": {
                "operationId": resource.endpoint("list"),
                "tags": tags,
                "summary": f"List {path}",
                "parameters": [*paging, *filter_parameters(resource, customs)],
                "responses": {
                    "200": answer(
                        f"One page of the {path} the user may see",
                        ref("schemas", f"{name}List"),
                    ),
                    **errors("401", "422"),
                },
            },
            "post": {
                "operationId": resource.endpoint("create"),
                "tags": tags,
                "summary": f"Create a {singular}",
                "requestBody": body(ref("schemas", f"{name}Input")),
                "responses": {
                    "201": {**answer(f"The new {singular}", record), "headers": LOCATION},
                    **errors("400", "401", "409", "422"),
                },
            },
        },
        f"{PREFIX}/{path}/{{record_id}}": {
            "parameters": [id_parameter("record_id", singular)],
            "get": {
                "operationId": resource.endpoint("get"),
                "tags": tags,
                "summary": f"One {singular}",
                "responses": {"200": answer(f"The {singular}", record), **errors("401", "404")},
            },
            "patch": {
                "operationId": resource.endpoint("update"),
                "tags": tags,
                "summary": f"Change some fields of a {singular}",
                "requestBody": body(ref("schemas", f"{name}Patch")),
                "responses": {
                    "200": answer(f"The changed {singular}", record),
                    **errors("400", "401", "403", "404", "409", "422"),
                },
            },
            "put": {
                "operationId": resource.endpoint("replace"),
                "tags": tags,
                "summary": f"Replace every field of a {singular}",
                "requestBody": body(ref("schemas", f"{name}Input")),
                "responses": {
                    "200": answer(f"The changed {singular}", record),
                    **errors("400", "401", "403", "404", "409", "422"),
                },
            },
            "delete": {
                "operationId": resource.endpoint("delete"),
                "tags": tags,
                "summary": f"Delete a {singular}",
                "responses": {
                    "204": {"description": "Deleted"},
                    **errors("401", "403", "404", "409"),
                },
            },
        },
    }


def action_schemas(activity_input: Schema, customs: Sequence[CustomField]) -> dict[str, Schema]:
    wanted = action_fields("task")
    properties = {k: v for k, v in activity_input["properties"].items() if k in wanted}
    close_specs = {spec.name: spec for spec in deals.fields if spec.name in CLOSE_FIELDS}
    close_properties: dict[str, Schema] = {
        "status": {"enum": [s for s in DEAL_STATUSES if s != "open"]},
    }
    for name in CLOSE_FIELDS[1:]:
        close_properties[name] = field_properties(close_specs[name], output=False)[name]
    close_properties["close_reason"] = {
        **close_properties["close_reason"],
        "description": "Codebook `close_reason`: label or id; required when lost",
    }
    return {
        "DealActionInput": {
            "type": "object",
            "description": "Task, call or meeting: an activity on the deal. The title defaults "
            "to “<Action>: <deal title>”; " + ", ".join(ACTION_SETS) + " are set by the action.",
            "properties": properties,
            "additionalProperties": False,
            **({"required": ["custom"]} if any(cf.required for cf in customs) else {}),
        },
        "DealCloseInput": {
            "type": "object",
            "description": "Close the deal as won or lost; adds a note activity.",
            "properties": close_properties,
            "required": ["status"],
            "additionalProperties": False,
        },
        "DealActionResult": {
            "type": "object",
            "properties": {"activity": ref("schemas", "Activity"), "deal": ref("schemas", "Deal")},
            "required": ["activity", "deal"],
        },
    }


def extra_paths() -> dict[str, Schema]:
    return {
        f"{PREFIX}/deals/{{deal_id}}/actions/{{action}}": {
            "post": {
                "operationId": "deal_action",
                "tags": ["deals"],
                "summary": "A deal action: task, call, meeting or close",
                "parameters": [
                    id_parameter("deal_id", "deal"),
                    {
                        "name": "action",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": list(DEAL_ACTIONS)},
                    },
                ],
                "requestBody": body(
                    {
                        "oneOf": [
                            ref("schemas", "DealActionInput"),
                            ref("schemas", "DealCloseInput"),
                        ]
                    },
                    "DealCloseInput for close, DealActionInput for the others",
                ),
                "responses": {
                    "201": {
                        **answer(
                            "The activity the action made and the deal after it",
                            ref("schemas", "DealActionResult"),
                        ),
                        "headers": LOCATION,
                    },
                    **errors("400", "401", "404", "409", "422"),
                },
            }
        },
        f"{PREFIX}/partners/{{partner_id}}/timeline": {
            "get": {
                "operationId": "partner_timeline",
                "tags": ["partners"],
                "summary": "A partner's timeline: deals, activities, ... newest first",
                "parameters": [
                    id_parameter("partner_id", "partner"),
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": TIMELINE_MAX,
                            "default": TIMELINE_DEFAULT,
                        },
                    },
                    {
                        "name": "offset",
                        "in": "query",
                        "schema": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": TIMELINE_MAX_OFFSET,
                            "default": 0,
                        },
                    },
                ],
                "responses": {
                    "200": answer("Timeline entries", ref("schemas", "Timeline")),
                    **errors("401", "404", "422"),
                },
            }
        },
        f"{PREFIX}/codebooks": {
            "get": {
                "operationId": "codebook_list",
                "tags": ["codebooks"],
                "summary": "Every codebook with its entries",
                "responses": {
                    "200": answer("The codebooks", ref("schemas", "CodebookList")),
                    **errors("401"),
                },
            }
        },
        f"{PREFIX}/codebooks/{{name}}": {
            "get": {
                "operationId": "codebook_get",
                "tags": ["codebooks"],
                "summary": "One codebook with its entries, retired ones included",
                "parameters": [
                    {
                        "name": "name",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                        "examples": {k: {"value": k} for k in CODEBOOKS},
                    }
                ],
                "responses": {
                    "200": answer("The codebook", ref("schemas", "Codebook")),
                    **errors("401", "404"),
                },
            }
        },
        f"{PREFIX}/me": {
            "get": {
                "operationId": "me",
                "tags": ["users"],
                "summary": "The user the token belongs to",
                "responses": {"200": answer("The user", ref("schemas", "User")), **errors("401")},
            }
        },
        f"{PREFIX}/openapi.json": {
            "get": {
                "operationId": "openapi",
                "tags": ["meta"],
                "summary": "This description",
                "responses": {
                    "200": answer("OpenAPI 3.1", {"type": "object"}),
                    **errors("401"),
                },
            }
        },
    }


def fixed_schemas() -> dict[str, Schema]:
    nullable_text = {"type": ["string", "null"]}
    return {
        "Error": {
            "type": "object",
            "properties": {
                "error": {
                    "type": "object",
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "fields": {
                            "type": "object",
                            "description": "What is wrong with each bad field",
                            "additionalProperties": {"type": "string"},
                        },
                    },
                    "required": ["code", "message"],
                }
            },
            "required": ["error"],
        },
        "TimelineEntry": {
            "type": "object",
            "properties": {
                "at": {"type": "string", "format": "date-time"},
                "kind": {"type": "string", "description": "An activity kind, deal, mail, ..."},
                "record_type": {"type": "string"},
                "record_id": {"type": "integer"},
                "title": {"type": "string"},
                "summary": {"type": "string"},
                "who": {"type": "string"},
                "done": {"type": ["boolean", "null"]},
                "extra": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "required": ["at", "kind", "record_type", "record_id", "title", "summary", "who"],
        },
        "Timeline": {
            "type": "object",
            "properties": {"items": {"type": "array", "items": ref("schemas", "TimelineEntry")}},
            "required": ["items"],
        },
        "CodebookEntry": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "label": {"type": "string"},
                "active": {"type": "boolean", "description": "Retired entries are false"},
                "probability": {
                    "type": ["integer", "null"],
                    "description": "A pipeline stage's default probability (%)",
                },
                "position": {"type": "integer"},
            },
            "required": ["id", "label", "active", "probability", "position"],
        },
        "Codebook": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "label": {"type": "string"},
                "entries": {"type": "array", "items": ref("schemas", "CodebookEntry")},
            },
            "required": ["name", "label", "entries"],
        },
        "CodebookList": {
            "type": "object",
            "properties": {"items": {"type": "array", "items": ref("schemas", "Codebook")}},
            "required": ["items"],
        },
        "User": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "email": {"type": "string"},
                "name": {"type": "string"},
                "role": {"enum": list(ROLES)},
                "language": {"enum": list(LANGUAGES)},
                "groups": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"id": {"type": "integer"}, "name": nullable_text},
                        "required": ["id", "name"],
                    },
                },
            },
            "required": ["id", "email", "name", "role", "language", "groups"],
        },
    }


def build_spec(session: Session) -> dict[str, Any]:
    schemas: dict[str, Schema] = {}
    paths: dict[str, Schema] = {}
    activity_customs: list[CustomField] = []
    for resource in RESOURCES:
        customs = custom_fields_for(session, resource.service.record_type)
        if resource.path == "activities":
            activity_customs = customs
        name = resource.schema_name
        schemas[name] = output_schema(resource, customs)
        schemas[f"{name}Input"] = input_schema(resource, customs, partial=False)
        schemas[f"{name}Patch"] = input_schema(resource, customs, partial=True)
        schemas[f"{name}List"] = list_schema(resource)
        paths.update(resource_paths(resource, customs))
    schemas.update(action_schemas(schemas["ActivityInput"], activity_customs))
    schemas.update(fixed_schemas())
    schemas.update(messages_openapi.schemas())
    paths.update(extra_paths())
    paths.update(messages_openapi.paths())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Dossier API",
            "version": version("dossier"),
            "description": "Partners, persons, deals, activities and mail of the Dossier CRM. "
            "Every request needs `Authorization: Bearer TOKEN` (`dossier token create EMAIL`). "
            'Errors answer `{"error": {"code", "message", "fields"?}}`. A user sees '
            "and changes only the records the permission rule shows them; others answer 404.",
        },
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
            "responses": {
                name: answer(description, ref("schemas", "Error"))
                for name, description in ERRORS.values()
            },
        },
    }


def openapi() -> ResponseReturnValue:
    return build_spec(db.session())


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/openapi.json", "openapi", openapi)
