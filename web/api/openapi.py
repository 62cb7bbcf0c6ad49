"""``/api/v1/openapi.json``: OpenAPI 3.1, built from the record services' field specs, filters
and sort keys (and the database's custom fields), so the description cannot drift from what the
API accepts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib.metadata import version
from typing import Any

from flask import Blueprint
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from crm.fields import MAX_ITEMS, FieldSpec
from crm.models import CODEBOOKS, DEAL_STATUSES, ROLES, CodebookEntry, CustomField
from crm.services import codebooks
from crm.services.activities import DEAL_ACTIONS, OPEN_TASK_CHOICES
from crm.services.deals import deals
from crm.services.records import MAX_PER_PAGE, SCOPE_NAMES, custom_fields_for
from crm.services.users import LANGUAGES
from web import db
from web.api import audit_openapi, messages_openapi
from web.api.common import BLANK, MAX_ID, NOT_BLANK, PREFIX
from web.api.resources import BASE_OUTPUT, RESOURCES, Resource, Schema
from web.api.views import (
    ACTION_SETS,
    CLOSE_FIELDS,
    TIMELINE_DEFAULT,
    TIMELINE_MAX,
    TIMELINE_MAX_OFFSET,
    action_fields,
)

# The entries of every codebook, by codebook name: a codebook value is one of them.
Entries = Mapping[str, Sequence[CodebookEntry]]
# What a date input must look like: ISO 8601, in the years the API takes (1900-2200).
DATE_PATTERN = r"^(?:19[0-9]{2}|2[01][0-9]{2}|2200)-"
# A date and time input: ISO 8601 with its offset (crm.fields.ISO_DATETIME_RE).
DATETIME_PATTERN = (
    r"^(?:19[0-9]{2}|2[01][0-9]{2}|2200)-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}"
    r"(?::[0-9]{2}(?:\.[0-9]{1,6})?)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
# Whole numbers a list filter on an id takes (ASCII digits, at most 9 of them).
FILTER_ID_MAX = 999_999_999
MAX_PAGE = 1_000_000
# Numbers as text, the way people type them: "1250", "1 250,50", "-3.5" (web forms send these).
DECIMAL_PATTERN = r"^-?[0-9]{1,12}(?:[.,][0-9]{1,2})?$"
DECIMAL_LIMIT = 10**12

ITEM_FORMATS = {"email": "email", "domain": "idn-hostname"}
ERRORS = {
    "400": ("BadRequest", "The body is missing, is not JSON or is not a JSON object"),
    "401": ("Unauthorized", "No valid API token (`Authorization: Bearer TOKEN`)"),
    "403": ("Forbidden", "The record is visible but this user may not do that to it"),
    "404": ("NotFound", "No such record, or one the user may not see"),
    "409": ("Conflict", "The change clashes with the stored data"),
    "422": ("Invalid", "Bad values; `fields` names each bad field or parameter"),
    "413": ("TooLarge", "The request body is larger than the server takes"),
    "503": (
        "Busy",
        "The database stayed locked by another change; nothing was written, retry after "
        "`Retry-After` seconds",
    ),
    "507": ("StorageFull", "The disk holding the data is full; nothing was written"),
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before sending the request again",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}
# Every operation may meet a locked database; every write a full disk.
ALWAYS = ("503",)
ON_WRITE = ("413", "507")


def ref(kind: str, name: str) -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def with_null(schema: Schema) -> Schema:
    kind = schema["type"]
    return {**schema, "type": [*([kind] if isinstance(kind, str) else kind), "null"]}


def blank_or(schema: Schema) -> Schema:
    """An optional field given blank ("", as a web form sends it) takes its default."""
    options = schema["anyOf"] if set(schema) == {"anyOf"} else [schema]
    return {"anyOf": [*options, BLANK]}


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
            if spec.pattern:
                schema["pattern"] = spec.pattern
                return schema if spec.required else {"anyOf": [schema, BLANK, {"type": "null"}]}
            if spec.required:
                schema["pattern"] = NOT_BLANK  # blank is no value
            else:
                schema = with_null(schema)
        return schema
    if spec.kind == "ref":
        schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    elif spec.kind == "int":
        schema = {"type": "integer", "minimum": -(2**63) + 1, "maximum": 2**63 - 1, **bounds(spec)}
    elif spec.kind == "decimal":
        if output:
            return with_null({"type": "number"}) if optional else {"type": "number"}
        # Input takes a number or a numeric string ("1 250,50"); answers are numbers.
        number: Schema = {
            "type": "number",
            "exclusiveMinimum": -DECIMAL_LIMIT,
            "exclusiveMaximum": DECIMAL_LIMIT,
            **bounds(spec),
        }
        pattern = DECIMAL_PATTERN
        if spec.minimum is not None and spec.minimum >= 0:
            pattern = pattern.replace("^-?", "^")
        options = [number, {"type": "string", "pattern": pattern}]
        if optional:
            return blank_or({"anyOf": [*options, {"type": "null"}]})
        return {"anyOf": options}
    elif spec.kind == "date":
        schema = {"type": "string", "format": "date"}
        if not output:
            schema["pattern"] = DATE_PATTERN
            if optional:
                return blank_or(with_null(schema))
    elif spec.kind == "datetime":
        # RFC 3339 date-time with its offset; answers are in UTC (crm.fields.parse_datetime).
        schema = {"type": "string", "format": "date-time"}
        if not output:
            schema["pattern"] = DATETIME_PATTERN
            if optional:
                return blank_or(with_null(schema))
    elif spec.kind == "bool":
        return {"type": "boolean"}
    elif spec.kind == "choice":
        nullable = optional and (not output or spec.default is None)
        choice = {"enum": [*spec.choices, *([None] if nullable else [])]}
        return blank_or(choice) if optional and not output else choice
    elif spec.kind == "list":
        item: Schema = {"type": "string"}
        if spec.item in ITEM_FORMATS:
            item["format"] = ITEM_FORMATS[spec.item]
        if spec.item == "domain":
            item["pattern"] = r"[^.]\.[^.]"  # a mail domain has two labels at least
        if spec.item == "phone":
            # PHONE_RE after the item is stripped of spaces at its ends
            item["pattern"] = r"^\+?[0-9()/.-][0-9 ()/.-]{1,28}[0-9()/.-]$"
        if spec.max_length:
            item["maxLength"] = spec.max_length
        if spec.item in ("email", "domain", "phone"):
            item = {"anyOf": [item, BLANK]}  # a blank item is skipped
        listed: Schema = {"type": "array", "items": item, "maxItems": MAX_ITEMS}
        if output:
            return listed
        # null (or an empty array) clears the list
        return {
            **with_null(listed),
            "description": "Also taken, as a web form sends it: one string of items "
            "separated by commas, semicolons or new lines",
        }
    else:
        raise AssertionError(f"no schema for field kind {spec.kind}")
    return with_null(schema) if optional else schema


def any_case(label: str) -> str:
    """A regular expression (ECMA 262 and Python alike) matching ``label`` in any case."""
    out = []
    for char in label:
        lower, upper = char.lower(), char.upper()
        if len(lower) == len(upper) == 1 and lower != upper:
            out.append(f"[{lower}{upper}]")
        elif char in "\\^$.|?*+()[]{}/-":
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def codebook_value(entries: Sequence[CodebookEntry], *, nullable: bool) -> Schema:
    """A codebook value as input: an entry's label (any case), its id, or its id as text."""
    options: list[Schema] = []
    if entries:
        words = [any_case(e.label) for e in entries] + [str(e.id) for e in entries]
        options.append({"type": "string", "pattern": "^(?:" + "|".join(words) + ")$"})
        options.append({"type": "integer", "enum": [e.id for e in entries]})
    if nullable or not options:
        options.extend([{"type": "null"}, BLANK])
    return {"anyOf": options}


def codebook_id(entries: Sequence[CodebookEntry], *, nullable: bool) -> Schema:
    ids: list[Any] = [e.id for e in entries]
    return {"enum": [*ids, None]} if nullable or not ids else {"enum": ids}


def field_properties(spec: FieldSpec, *, output: bool, entries: Entries) -> dict[str, Schema]:
    """One field's properties: a codebook field is two (``kind`` label, ``kind_id`` id)."""
    if spec.kind == "codebook":
        assert spec.codebook
        source = f"Codebook `{spec.codebook}` (see {PREFIX}/codebooks/{spec.codebook})"
        label: Schema = {"type": ["string", "null"], "description": f"{source}: the entry's label"}
        ident: Schema = {"type": ["integer", "null"], "description": f"{source}: the entry's id"}
        if not output:
            found = entries.get(spec.codebook, ())
            label = {
                **codebook_value(found, nullable=not spec.required),
                "description": f"{source}: the entry's label (any case) or id; "
                f"give {spec.name} or {spec.attr}, not both",
            }
            ident = {
                **codebook_id(found, nullable=not spec.required),
                "description": f"{source}: the entry's id",
            }
        return {spec.name: described(spec, label), spec.attr: described(spec, ident)}
    return {spec.name: described(spec, value_schema(spec, output=output))}


def custom_schema(
    fields: Sequence[CustomField], entries: Entries, *, output: bool, partial: bool = False
) -> Schema:
    """The ``custom`` object: the admin's custom fields of the record type. In a partial
    update only the keys given change, and null clears one."""
    properties: dict[str, Schema] = {}
    for cf in fields:
        schema: Schema
        nullable = output or not cf.required or partial
        if cf.field_type == "number":
            schema = {"type": ["number", "null"]}
            if not output:
                schema = value_schema(FieldSpec(cf.key, cf.label, "decimal"), output=False)
        elif cf.field_type == "date":
            schema = {"type": ["string", "null"], "format": "date"}
            if not output:
                schema["pattern"] = DATE_PATTERN
        elif cf.field_type == "datetime":
            schema = {"type": ["string", "null"], "format": "date-time"}
            if not output:
                schema["pattern"] = DATETIME_PATTERN
        elif cf.field_type == "codebook":
            assert cf.codebook
            schema = {"type": ["integer", "null"]}
            if not output:
                schema = codebook_value(entries.get(cf.codebook, ()), nullable=nullable)
            schema["description"] = f"Codebook `{cf.codebook}`: " + (
                "the entry's id" if output else "the entry's label (any case) or id"
            )
        else:
            schema = {"type": ["string", "null"], "maxLength": 500}
            if not nullable:
                schema = {"type": "string", "maxLength": 500, "pattern": NOT_BLANK}
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
        if not fields:
            out["type"] = ["object", "null"]  # nothing to set: null is taken as no values
    return out


def input_schema(
    resource: Resource,
    customs: Sequence[CustomField],
    entries: Entries,
    *,
    partial: bool,
    replace: bool = False,
) -> Schema:
    """A record's fields as sent: to create (defaults for what is left out), to replace
    (``replace``: a record keeps a group and a salesperson, so both must be given) or to
    change some (``partial``)."""
    properties: dict[str, Schema] = {}
    for spec in resource.service.fields:
        properties.update(field_properties(spec, output=False, entries=entries))
    kept = [n for n in SCOPE_NAMES if n.endswith("_id") and n in properties]
    if partial or replace:
        for name in kept:  # a record's group and salesperson can change, not go
            properties[name] = {**properties[name], "type": "integer"}
    properties["custom"] = custom_schema(customs, entries, output=False, partial=partial)
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    both = [[s.name, s.attr] for s in resource.service.fields if s.kind == "codebook"]
    rules: list[Schema] = [{"not": {"required": pair}} for pair in both]
    if resource.named_by:
        # one of them given and not blank; a change may leave all of them out
        named = [
            {"required": [n], "properties": {n: {"type": "string", "pattern": NOT_BLANK}}}
            for n in resource.named_by
        ]
        if partial:
            named.append({"not": {"anyOf": [{"required": [n]} for n in resource.named_by]}})
        rules.append({"anyOf": named})
    if not partial:
        rules.extend(resource.rules)
    if rules:
        schema["allOf"] = rules
    if partial:
        schema["description"] = "Only the fields given are changed."
        return schema
    schema["description"] = "Fields left out take their defaults (empty for most)."
    required = [spec.name for spec in resource.service.fields if spec.required]
    if replace:
        required += kept
    if any(cf.required for cf in customs):
        required.append("custom")
    if required:
        schema["required"] = required
    return schema


def output_schema(resource: Resource, customs: Sequence[CustomField]) -> Schema:
    properties: dict[str, Schema] = {"id": BASE_OUTPUT["id"]}
    for spec in resource.service.fields:
        properties.update(field_properties(spec, output=True, entries={}))
    properties["custom"] = custom_schema(customs, {}, output=True)
    properties.update({k: v for k, v in BASE_OUTPUT.items() if k != "id"})
    properties.update(resource.output)
    properties["version"] = VERSION_OUTPUT
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


def or_empty(schema: Schema) -> Schema:
    """A list filter left empty (``?stage=``, as a web form sends it) filters nothing."""
    return {"anyOf": [schema, {"type": "string", "maxLength": 0}]}


def filter_schema(spec: FieldSpec | None, name: str, entries: Entries) -> tuple[str, Schema]:
    """The description and schema of one list filter."""
    if spec is not None and spec.kind == "codebook":
        assert spec.codebook
        options = codebook_value(entries.get(spec.codebook, ()), nullable=False)["anyOf"]
        texts = [o for o in options if o.get("type") == "string"]
        return f"Codebook `{spec.codebook}` entry: label (any case) or id", (
            texts[0] if texts else {"type": "string", "maxLength": 0}
        )
    if spec is not None and spec.kind in ("int", "ref"):
        return f"{spec.label} equals", {"type": "integer", "minimum": 0, "maximum": FILTER_ID_MAX}
    if spec is not None and spec.kind == "choice":
        return f"{spec.label} equals", {"enum": list(spec.choices)}
    if spec is not None and spec.kind == "bool":
        return f"{spec.label} is", {"enum": ["true", "false", "1", "0", "yes", "no"]}
    if name.endswith(("_from", "_to")):
        edge = "on or after" if name.endswith("_from") else "on or before"
        return f"Date {edge} (YYYY-MM-DD)", {
            "type": "string",
            "format": "date",
            "pattern": DATE_PATTERN,
        }
    if name == "q":
        return "Text search in the name or title; accents optional", {"type": "string"}
    return f"Filter by {name.replace('_', ' ')}", {"type": "string"}


def filter_parameters(
    resource: Resource, customs: Sequence[CustomField], entries: Entries
) -> list[Schema]:
    specs = {spec.name: spec for spec in resource.service.fields}
    params: list[Schema] = []
    for name in resource.service.filters:
        description, schema = filter_schema(specs.get(name), name, entries)
        params.append(
            {"name": name, "in": "query", "description": description, "schema": or_empty(schema)}
        )
    for cf in customs:
        schema = {"type": "string"}
        if cf.field_type == "codebook":
            spec = FieldSpec(cf.key, cf.label, "codebook", codebook=cf.codebook)
            schema = filter_schema(spec, cf.key, entries)[1]
        elif cf.field_type == "number":
            schema = {"type": "number"}
        elif cf.field_type == "date":
            schema = {"type": "string", "format": "date", "pattern": DATE_PATTERN}
        params.append(
            {
                "name": f"custom.{cf.key}",
                "in": "query",
                "description": f"Custom field {cf.label} equals",
                "schema": or_empty(schema),
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

# -- versions: ETag, If-Match, 412 (issue 9 §6) -----------------------------------------------
VERSION_OUTPUT: Schema = {
    "type": "integer",
    "minimum": 1,
    "readOnly": True,
    "description": "Counts the saves of the record; the ETag carries it",
}
ETAG = {
    "ETag": {
        "description": 'The record\'s version as an entity tag ("3"): send it back in '
        "`If-Match` to change or delete the record only if nobody saved it in between",
        "required": True,
        "schema": {"type": "string", "pattern": '^"[0-9]+"$'},
    }
}
IF_MATCH: Schema = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": 'The ETag the change is based on ("3"), or `*` for any version. When the '
    "record was saved since, nothing is written and the answer is 412 with the current "
    "record. Without it the write happens whatever the version (RFC 9110 §13.1.1).",
    "schema": {"type": "string", "pattern": '^(\\*|"[1-9][0-9]{0,8}")$'},
}


def stale_answer(record: Schema) -> Schema:
    """412: the error as everywhere, plus the record as saved now and its ETag."""
    schema: Schema = {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                "required": ["code", "message"],
            },
            "current": record,
        },
        "required": ["error", "current"],
    }
    description = (
        "Someone saved the record after the If-Match version; nothing was written. "
        "`current` is the record as saved now"
    )
    return {**answer(description, schema), "headers": ETAG}


def resource_paths(
    resource: Resource, customs: Sequence[CustomField], entries: Entries
) -> dict[str, Schema]:
    name, path, tags = resource.schema_name, resource.path, [resource.path]
    record = ref("schemas", name)
    singular = name.lower()
    paging = [
        {
            "name": "page",
            "in": "query",
            "schema": or_empty({"type": "integer", "minimum": 1, "maximum": MAX_PAGE}),
        },
        {
            "name": "per_page",
            "in": "query",
            "schema": or_empty({"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}),
            "description": "Records per page (50 unless given)",
        },
        {
            "name": "sort",
            "in": "query",
            "description": "A sort key; a leading - sorts descending "
            f"({resource.service.default_sort} unless given)",
            "schema": or_empty({"enum": sort_keys(resource, customs)}),
        },
    ]
    return {
        f"{PREFIX}/{path}": {
            "get": {
                "operationId": resource.endpoint("list"),
                "tags": tags,
                "summary": f"List {path}",
                "parameters": [*paging, *filter_parameters(resource, customs, entries)],
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
                    "201": {
                        **answer(f"The new {singular}", record),
                        "headers": {**LOCATION, **ETAG},
                    },
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
                "responses": {
                    "200": {**answer(f"The {singular}", record), "headers": ETAG},
                    **errors("401", "404"),
                },
            },
            "patch": {
                "operationId": resource.endpoint("update"),
                "tags": tags,
                "summary": f"Change some fields of a {singular}",
                "parameters": [IF_MATCH],
                "requestBody": body(ref("schemas", f"{name}Patch")),
                "responses": {
                    "200": {**answer(f"The changed {singular}", record), "headers": ETAG},
                    "412": stale_answer(record),
                    **errors("400", "401", "403", "404", "409", "422"),
                },
            },
            "put": {
                "operationId": resource.endpoint("replace"),
                "tags": tags,
                "summary": f"Replace every field of a {singular}",
                "parameters": [IF_MATCH],
                "requestBody": body(ref("schemas", f"{name}Replace")),
                "responses": {
                    "200": {**answer(f"The changed {singular}", record), "headers": ETAG},
                    "412": stale_answer(record),
                    **errors("400", "401", "403", "404", "409", "422"),
                },
            },
            "delete": {
                "operationId": resource.endpoint("delete"),
                "tags": tags,
                "summary": f"Delete a {singular}",
                "parameters": [IF_MATCH],
                "responses": {
                    "204": {"description": "Deleted"},
                    "412": stale_answer(record),
                    **errors("400", "401", "403", "404", "409"),
                },
            },
        },
    }


def action_schemas(
    activity_input: Schema, customs: Sequence[CustomField], entries: Entries
) -> dict[str, Schema]:
    wanted = action_fields("task")
    properties = {k: v for k, v in activity_input["properties"].items() if k in wanted}
    close_specs = {spec.name: spec for spec in deals.fields if spec.name in CLOSE_FIELDS}
    close_properties: dict[str, Schema] = {
        "status": {"enum": [s for s in DEAL_STATUSES if s != "open"]},
    }
    for name in CLOSE_FIELDS[1:]:
        close_properties[name] = field_properties(close_specs[name], output=False, entries=entries)[
            name
        ]
    reasons = codebook_value(entries.get("close_reason", ()), nullable=False)["anyOf"]
    reasons = [o for o in reasons if o.get("type") != "null" and o is not BLANK]
    empty: Schema = {"type": "string", "maxLength": 0}
    close_properties["close_reason"] = {
        "anyOf": [*reasons, {"type": "null"}, empty],
        "description": "Codebook `close_reason`: label (any case) or id; required when lost",
    }
    close_properties["open_tasks"] = {
        "anyOf": [{"enum": list(OPEN_TASK_CHOICES)}, {"type": "null"}, empty],
        "description": "What happens to the deal's open activities: keep (the default), done "
        "(marked done) or delete (to the trash; refused when some are not the caller's to delete)",
    }
    # the title defaults to "<Action>: <deal title>" when left out, null or empty
    properties["title"] = {"anyOf": [properties["title"], {"type": "null"}, empty]}
    lost_needs_reason: Schema = {
        "if": {"properties": {"status": {"const": "lost"}}},
        "then": {"required": ["close_reason"], "properties": {"close_reason": {"anyOf": reasons}}},
    }
    return {
        "DealActionInput": {
            "type": "object",
            "description": "Task, call or meeting: an activity on the deal. The title defaults "
            "to “<Action>: <deal title>”; " + ", ".join(ACTION_SETS) + " are set by the action.",
            "properties": properties,
            "additionalProperties": False,
            **({"required": ["custom"]} if any(cf.required for cf in customs) else {}),
            **({"allOf": activity_input["allOf"]} if "allOf" in activity_input else {}),
        },
        "DealCloseInput": {
            "type": "object",
            "description": "Close the deal as won or lost; adds a note activity.",
            "properties": close_properties,
            **({"allOf": [lost_needs_reason]} if reasons else {}),
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
        f"{PREFIX}/deals/{{deal_id}}/actions/close": {
            "post": {
                "operationId": "deal_close",
                "tags": ["deals"],
                "summary": "Close a deal as won or lost",
                "parameters": [id_parameter("deal_id", "deal")],
                "requestBody": body(ref("schemas", "DealCloseInput")),
                "responses": {
                    "201": {
                        **answer(
                            "The note activity the close made and the deal after it",
                            ref("schemas", "DealActionResult"),
                        ),
                        "headers": LOCATION,
                    },
                    **errors("400", "401", "403", "404", "409", "422"),
                },
            }
        },
        f"{PREFIX}/deals/{{deal_id}}/actions/{{action}}": {
            "post": {
                "operationId": "deal_action",
                "tags": ["deals"],
                "summary": "A deal action: a task, call or meeting on the deal",
                "parameters": [
                    id_parameter("deal_id", "deal"),
                    {
                        "name": "action",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": [a for a in DEAL_ACTIONS if a != "close"]},
                    },
                ],
                "requestBody": body(ref("schemas", "DealActionInput")),
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
                "labels": {
                    "type": "object",
                    "description": "The entry's name per UI language (cs, sk, pl, en); a language"
                    " left out reads `label`. Record fields take any of them as input.",
                    "additionalProperties": {"type": "string"},
                },
                "active": {"type": "boolean", "description": "Retired entries are false"},
                "probability": {
                    "type": ["integer", "null"],
                    "description": "A pipeline stage's default probability (%)",
                },
                "position": {"type": "integer"},
            },
            "required": ["id", "label", "labels", "active", "probability", "position"],
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


def codebook_entries(session: Session) -> dict[str, list[CodebookEntry]]:
    """Every codebook's entries, retired ones too (an id or label of one is still taken)."""
    return {
        name: codebooks.entries(session, name, include_inactive=True)
        for name in codebooks.codebook_names(session)
    }


def with_common_errors(paths: dict[str, Schema]) -> None:
    """Add the answers any operation may give: 503 when the database stays locked, and for a
    write also 413 (too large) and 507 (disk full)."""
    for item in paths.values():
        for method, operation in item.items():
            if method == "parameters":
                continue
            codes = ALWAYS if method == "get" else (*ALWAYS, *ON_WRITE)
            for code in codes:
                operation["responses"].setdefault(code, ref("responses", ERRORS[code][0]))


def build_spec(session: Session) -> dict[str, Any]:
    schemas: dict[str, Schema] = {}
    paths: dict[str, Schema] = {}
    activity_customs: list[CustomField] = []
    entries = codebook_entries(session)
    for resource in RESOURCES:
        customs = custom_fields_for(session, resource.service.record_type)
        if resource.path == "activities":
            activity_customs = customs
        name = resource.schema_name
        schemas[name] = output_schema(resource, customs)
        schemas[f"{name}Input"] = input_schema(resource, customs, entries, partial=False)
        schemas[f"{name}Patch"] = input_schema(resource, customs, entries, partial=True)
        schemas[f"{name}Replace"] = input_schema(
            resource, customs, entries, partial=False, replace=True
        )
        schemas[f"{name}List"] = list_schema(resource)
        paths.update(resource_paths(resource, customs, entries))
    schemas.update(action_schemas(schemas["ActivityInput"], activity_customs, entries))
    schemas.update(fixed_schemas())
    schemas.update(messages_openapi.schemas())
    schemas.update(audit_openapi.schemas())
    paths.update(extra_paths())
    paths.update(messages_openapi.paths())
    paths.update(audit_openapi.paths())
    with_common_errors(paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Dossier API",
            "version": version("dossier"),
            "description": "Partners, persons, deals, activities and mail of the Dossier CRM. "
            "Every request needs `Authorization: Bearer TOKEN` (`dossier token create EMAIL`). "
            'Errors answer `{"error": {"code", "message", "fields"?}}`. A user sees '
            "and changes only the records the permission rule shows them; others answer 404. "
            "Text may not contain NUL characters or lone surrogates (422). Dates are "
            "YYYY-MM-DD (D.M.YYYY is taken too, as the web forms type them).",
        },
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
            "responses": {
                name: {
                    **answer(description, ref("schemas", "Error")),
                    **({"headers": RETRY_AFTER} if name == "Busy" else {}),
                }
                for name, description in ERRORS.values()
            },
        },
    }


def openapi() -> ResponseReturnValue:
    return build_spec(db.session())


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/openapi.json", "openapi", openapi)
