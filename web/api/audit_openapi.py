"""The OpenAPI description of /api/v1/audit (merged by web.api.openapi.build_spec)."""

from __future__ import annotations

from typing import Any

from crm.audit import RECORD_TYPES
from web.api.audit import MAX_PAGE, MAX_PER_PAGE
from web.api.common import MAX_ID, PREFIX

Schema = dict[str, Any]
EMPTY = {"type": "string", "maxLength": 0}  # a parameter left empty is taken as not given
ID_SCHEMA = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
DAY = {"type": "string", "format": "date", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}


def _query(name: str, description: str, schema: Schema) -> Schema:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"anyOf": [schema, EMPTY]},
    }


def _err(*codes: str) -> dict[str, Schema]:
    names = {"401": "Unauthorized", "403": "Forbidden", "422": "Invalid"}
    return {code: {"$ref": f"#/components/responses/{names[code]}"} for code in codes}


def schemas() -> dict[str, Schema]:
    return {
        "AuditEntry": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "at": {"type": "string", "format": "date-time"},
                "user_id": {"type": ["integer", "null"], "description": "The acting user"},
                "actor": {
                    "type": "string",
                    "description": "Who it was at the time: the user's name and email, or a "
                    "worker or command (worker:mail-sync, command:import)",
                },
                "action": {
                    "type": "string",
                    "description": "create, update, delete, link, unlink, dismiss, file, send, "
                    "download, sign-in, sign-in-failed (more may come)",
                },
                "record_type": {"type": "string"},
                "record_id": {"type": ["integer", "null"]},
                "changes": {
                    "type": ["object", "null"],
                    "description": "The changed fields, {field: [old, new]}; references as ids",
                    "additionalProperties": {"type": "array", "minItems": 2, "maxItems": 2},
                },
            },
            "required": [
                "id",
                "at",
                "user_id",
                "actor",
                "action",
                "record_type",
                "record_id",
                "changes",
            ],
        },
        "AuditList": {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEntry"}},
                "total": {"type": "integer", "minimum": 0},
                "page": {"type": "integer", "minimum": 1},
                "per_page": {"type": "integer", "minimum": 1},
            },
            "required": ["items", "total", "page", "per_page"],
        },
    }


def paths() -> dict[str, Schema]:
    return {
        f"{PREFIX}/audit": {
            "get": {
                "operationId": "audit_list",
                "tags": ["audit"],
                "summary": "The audit log, newest first (admins; managers: their records)",
                "description": "Who changed, linked, filed, sent or downloaded what, and sign-ins. "
                "Admins read every entry, managers the entries of records they may see; "
                "others are refused (403).",
                "parameters": [
                    _query(
                        "record_type",
                        "Entries about this kind of record",
                        {"enum": list(RECORD_TYPES)},
                    ),
                    _query("record_id", "Entries about the record of this id", ID_SCHEMA),
                    _query("user_id", "Entries of this acting user", ID_SCHEMA),
                    _query("from", "On or after this day (UTC)", DAY),
                    _query("to", "On or before this day (UTC)", DAY),
                    _query("page", "", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}),
                    _query(
                        "per_page",
                        "Entries per page (50 unless given)",
                        {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
                    ),
                ],
                "responses": {
                    "200": {
                        "description": "One page of entries",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/AuditList"}
                            }
                        },
                    },
                    **_err("401", "403", "422"),
                },
            }
        }
    }
