"""The OpenAPI description of /api/v1/messages (merged by web.api.openapi.build_spec)."""

from __future__ import annotations

from typing import Any

from mail_archive.models import LINK_HOWS, LINK_TYPES, STATUSES
from web.api.common import MAX_ID, PREFIX
from web.api.messages import MAX_PAGE, MAX_PER_PAGE, MAX_POSITION, MAX_QUERY

Schema = dict[str, Any]
TEXT = {"type": "string"}
NULLABLE_TEXT = {"type": ["string", "null"]}
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _err(*codes: str) -> dict[str, Schema]:
    names = {
        "400": "BadRequest",
        "401": "Unauthorized",
        "404": "NotFound",
        "409": "Conflict",
        "422": "Invalid",
    }
    return {code: {"$ref": f"#/components/responses/{names[code]}"} for code in codes}


def _json(description: str, schema: Schema) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query(name: str, description: str, schema: Schema | None = None) -> Schema:
    # a parameter left empty (?partner_id=) is taken as not given
    empty = {"type": "string", "maxLength": 0}
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"anyOf": [schema or ID_SCHEMA, empty]},
    }


def _path(name: str, what: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "description": what, "schema": ID_SCHEMA}


ADDRESS = {
    "type": "object",
    "properties": {"name": TEXT, "address": TEXT},
    "required": ["name", "address"],
}
LINK = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "record_type": {"enum": list(LINK_TYPES)},
        "record_id": {"type": "integer"},
        "how": {"enum": list(LINK_HOWS)},
        "by": NULLABLE_TEXT,
        "at": {"type": "string", "format": "date-time"},
    },
    "required": ["id", "record_type", "record_id", "how", "by", "at"],
}
SUMMARY_PROPS: Schema = {
    "id": {"type": "integer"},
    "subject": TEXT,
    "from": ADDRESS,
    "to": {"type": "array", "items": ADDRESS},
    "cc": {"type": "array", "items": ADDRESS},
    "date": {"type": ["string", "null"], "format": "date-time"},
    "archived_at": {"type": "string", "format": "date-time"},
    "direction": {"enum": ["in", "out"]},
    "status": {"enum": list(STATUSES)},
    "message_id": NULLABLE_TEXT,
    "thread": TEXT,
    "size": {"type": "integer"},
    "has_attachments": {"type": "boolean"},
    "auto": {"type": "boolean", "description": "An auto-reply, bounce or delivery report"},
}


def schemas() -> dict[str, Schema]:
    detail_props = {
        **SUMMARY_PROPS,
        "in_reply_to": NULLABLE_TEXT,
        "references": {"type": "array", "items": TEXT},
        "text": TEXT,
        "defects": {"type": "array", "items": TEXT},
        "links": {"type": "array", "items": LINK},
        "attachments": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "position": {"type": "integer"},
                    "filename": TEXT,
                    "content_type": TEXT,
                    "size": {"type": "integer"},
                    "inline": {"type": "boolean"},
                    "content_id": NULLABLE_TEXT,
                    "origin": {"enum": ["mime", "tnef", "rfc822"]},
                    "url": TEXT,
                },
            },
        },
        "sources": {
            "type": "array",
            "items": {"type": "object", "properties": {"kind": TEXT, "folder": NULLABLE_TEXT}},
        },
        "raw_url": TEXT,
    }
    return {
        "MessageSummary": {
            "type": "object",
            "properties": SUMMARY_PROPS,
            "required": list(SUMMARY_PROPS),
        },
        "Message": {"type": "object", "properties": detail_props, "required": list(detail_props)},
        "MessageList": {
            "type": "object",
            "properties": {
                "total": {"type": "integer"},
                "items": {"type": "array", "items": _ref("MessageSummary")},
            },
            "required": ["total", "items"],
        },
        "MessageFiled": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "status": {"enum": list(STATUSES)},
                "duplicate": {"type": "boolean"},
                "links": {"type": "array", "items": LINK},
                "defects": {"type": "array", "items": TEXT},
            },
            "required": ["id", "status", "duplicate", "links", "defects"],
        },
        "MessageLink": LINK,
        "MessageLinkInput": {
            "type": "object",
            "properties": {"record_type": {"enum": list(LINK_TYPES)}, "record_id": ID_SCHEMA},
            "required": ["record_type", "record_id"],
            "additionalProperties": False,
        },
    }


def paths() -> dict[str, Schema]:
    message_id = _path("message_id", "The message's id")
    binary = {"content": {"application/octet-stream": {"schema": {"type": "string"}}}}
    return {
        f"{PREFIX}/messages": {
            "get": {
                "operationId": "message_list",
                "tags": ["messages"],
                "summary": "Messages the user may see, newest first unless sorted",
                "parameters": [
                    _query("partner_id", "Only mail linked to this partner"),
                    _query("deal_id", "Only mail linked to this deal"),
                    _query("person_id", "Only mail linked to this person"),
                    {
                        "name": "status",
                        "in": "query",
                        "description": "filed (default), triage or dismissed",
                        "schema": {"enum": list(STATUSES)},
                    },
                    _query(
                        "q",
                        "Only mail with this text in its subject, sender name or address",
                        {"type": "string", "maxLength": MAX_QUERY},
                    ),
                    _query("direction", "in (received) or out (sent)", {"enum": ["in", "out"]}),
                    _query(
                        "sort",
                        "date, from or subject; a leading - sorts descending",
                        {"enum": [p + k for k in ("date", "from", "subject") for p in ("", "-")]},
                    ),
                    _query(
                        "page",
                        "Page number",
                        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                    ),
                    _query(
                        "per_page",
                        "Rows per page",
                        {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
                    ),
                ],
                "responses": {
                    "200": _json("A page of messages", _ref("MessageList")),
                    **_err("401", "422"),
                },
            },
            "post": {
                "operationId": "message_create",
                "tags": ["messages"],
                "summary": "File a raw message; unmatched mail waits in the user's triage queue",
                "description": "The body is an RFC 822 message, or an Outlook .msg file (told "
                "by its content): a .msg is archived as RFC 822 with the original .msg as its "
                "last attachment. Anything else, an empty file, a damaged .msg or an Outlook "
                "item that is no e-mail (a calendar item, task, note or contact) is refused with "
                "422 and a message that says why.",
                "parameters": [
                    _query("partner_id", "File it to this partner"),
                    _query("deal_id", "File it to this deal (and its partner)"),
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "message/rfc822": {
                            # what the upload must at least look like: a header line first
                            "schema": {"type": "string", "pattern": "^[!-9;-~]+[ \\t]*:"}
                        },
                        "application/vnd.ms-outlook": {
                            "schema": {"type": "string", "format": "binary"}
                        },
                    },
                },
                "responses": {
                    "201": _json("Archived", _ref("MessageFiled")),
                    "200": _json("Already archived (a duplicate)", _ref("MessageFiled")),
                    "413": {"description": "Too large"},
                    "415": {"description": "Neither message/rfc822 nor application/vnd.ms-outlook"},
                    # the very bytes of a message filed to records the user cannot see, with no
                    # partner or deal of theirs chosen: nothing is named, nothing is written
                    **_err("401", "404", "409", "422"),
                },
            },
        },
        f"{PREFIX}/messages/{{message_id}}": {
            "get": {
                "operationId": "message_get",
                "tags": ["messages"],
                "summary": "One message with its links and attachments",
                "parameters": [message_id],
                "responses": {
                    "200": _json("The message", _ref("Message")),
                    **_err("401", "404"),
                },
            }
        },
        f"{PREFIX}/messages/{{message_id}}/raw": {
            "get": {
                "operationId": "message_raw",
                "tags": ["messages"],
                "summary": "The original bytes exactly as received",
                "parameters": [message_id],
                "responses": {
                    "200": {
                        "description": "RFC 822",
                        "content": {"message/rfc822": {"schema": {"type": "string"}}},
                    },
                    **_err("401", "404"),
                },
            }
        },
        f"{PREFIX}/messages/{{message_id}}/attachments/{{position}}": {
            "get": {
                "operationId": "message_attachment",
                "tags": ["messages"],
                "summary": "One attachment's bytes",
                "parameters": [
                    message_id,
                    {
                        "name": "position",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_POSITION},
                    },
                ],
                "responses": {"200": {"description": "The file", **binary}, **_err("401", "404")},
            }
        },
        f"{PREFIX}/messages/{{message_id}}/links": {
            "post": {
                "operationId": "message_link_add",
                "tags": ["messages"],
                "summary": "Link the message to a partner, person or deal by hand",
                "parameters": [message_id],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("MessageLinkInput")}},
                },
                "responses": {
                    "201": _json("The link", _ref("MessageLink")),
                    **_err("400", "401", "404", "422"),
                },
            }
        },
        f"{PREFIX}/messages/{{message_id}}/links/{{link_id}}": {
            "delete": {
                "operationId": "message_link_remove",
                "tags": ["messages"],
                "summary": "Remove a link (no rule adds it again)",
                "parameters": [message_id, _path("link_id", "The link's id")],
                "responses": {"204": {"description": "Removed"}, **_err("401", "404")},
            }
        },
    }
