"""/api/v1/messages: file a raw message (RFC 822 or an Outlook .msg), list and read messages, their
raw bytes, their links."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from connector.intake import file_upload, filing_archive, read_upload
from crm.errors import Conflict, DossierError, NotFound, ValidationError
from crm.models import User
from mail_archive import service
from mail_archive.models import LINK_TYPES, STATUSES, Message
from web import db
from web.api.auth import api_user
from web.api.common import ID, MAX_ID, int_arg, json_object, reject_unknown
from web.files import blob_store, send_blob

# What a message may be sent as: RFC 822, or an Outlook .msg (converted; told by its content).
UPLOAD_TYPES = ("message/rfc822", "application/vnd.ms-outlook")
# An attachment's position in its message; a page; a search text (the description says so).
MAX_POSITION, MAX_PAGE, MAX_PER_PAGE, MAX_QUERY = 100_000, 100_000, 500, 200


class UnsupportedMediaType(DossierError):
    code = "unsupported_media_type"
    status = 415


def optional_id(name: str) -> int | None:
    raw = request.args.get(name, "")
    if raw == "":
        return None
    return int_arg(name, 0, 1, MAX_ID)


def link_dict(link: Any) -> dict[str, Any]:
    return {"id": link.id, **link.as_dict()}


def message_summary(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "subject": m.subject,
        "from": {"name": m.from_name, "address": m.from_addr},
        "to": [{"name": n, "address": a} for n, a in m.to_addrs],
        "cc": [{"name": n, "address": a} for n, a in m.cc_addrs],
        "date": m.sent_at.isoformat() if m.sent_at else None,
        "archived_at": m.archived_at.isoformat(),
        "direction": m.direction,
        "status": m.status,
        "message_id": m.internet_id or None,
        "thread": m.thread_key,
        "size": m.size,
        "has_attachments": m.has_attachments,
        "auto": m.auto,
    }


def message_detail(m: Message, user: User) -> dict[str, Any]:
    """The message as ``user`` may see it: links to records they cannot see are left out, and
    the folders of other people's copies."""
    links = service.visible_links(db.session(), user, [m])[m.id]
    return {
        **message_summary(m),
        "in_reply_to": m.in_reply_to or None,
        "references": m.references,
        "text": m.body_text,
        "defects": m.defects,
        "links": [link_dict(link) for link in links],
        "attachments": [
            {
                "position": a.position,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "inline": a.inline,
                "content_id": a.content_id or None,
                "origin": a.origin,
                "url": url_for("api.message_attachment", message_id=m.id, position=a.position),
            }
            for a in m.attachments
        ],
        "sources": [
            {"kind": kind, "folder": folder} for kind, folder in service.sources_seen(user, m)
        ],
        "raw_url": url_for("api.message_raw", message_id=m.id),
    }


def create() -> ResponseReturnValue:
    ctype = (request.mimetype or "").lower()
    if ctype not in UPLOAD_TYPES:
        raise UnsupportedMediaType(
            "send the raw message with Content-Type: message/rfc822, or an Outlook .msg file "
            "with Content-Type: application/vnd.ms-outlook"
        )
    reject_unknown(request.args, {"partner_id", "deal_id"})
    partner_id, deal_id = optional_id("partner_id"), optional_id("deal_id")
    raw = request.get_data(cache=False)
    db.release()  # parsed with no write lock held: a large message must not stall other users
    upload = read_upload(raw)
    session, user = db.session(), api_user()
    archive = filing_archive(session, blob_store())
    result = file_upload(archive, user, upload, kind="api", partner_id=partner_id, deal_id=deal_id)
    db.commit()
    # explicit channel: always stored, but a copy of a message the user may not see names none
    message = service.find_message(session, user, result.message_id)
    if message is None:
        raise Conflict(
            "this message is archived already and filed to records you cannot see; "
            "choose a partner or deal of yours (partner_id, deal_id) to file it there too"
        )
    body = {
        "id": message.id,
        "status": message.status,
        "duplicate": result.duplicate,
        "links": [
            link_dict(link) for link in service.visible_links(session, user, [message])[message.id]
        ],
        "defects": message.defects,
    }
    location = url_for("api.message_get", message_id=message.id)
    return jsonify(body), 200 if result.duplicate else 201, {"Location": location}


def index() -> ResponseReturnValue:
    reject_unknown(
        request.args,
        {
            "partner_id",
            "deal_id",
            "person_id",
            "status",
            "q",
            "direction",
            "sort",
            "page",
            "per_page",
        },
    )
    status = request.args.get("status", "filed")
    if status not in STATUSES:
        raise ValidationError({"status": "must be one of " + ", ".join(STATUSES)})
    if len(request.args.get("q", "")) > MAX_QUERY:
        raise ValidationError({"q": f"is longer than {MAX_QUERY} characters"})
    page = service.list_messages(
        db.session(),
        api_user(),
        partner_id=optional_id("partner_id"),
        deal_id=optional_id("deal_id"),
        person_id=optional_id("person_id"),
        status=status,
        text=request.args.get("q", ""),
        direction=request.args.get("direction", ""),
        sort=request.args.get("sort", ""),
        page=int_arg("page", 1, 1, MAX_PAGE),
        per_page=int_arg("per_page", 50, 1, MAX_PER_PAGE),
    )
    return {"total": page.total, "items": [message_summary(m) for m in page.items]}


def get(message_id: int) -> ResponseReturnValue:
    user = api_user()
    return message_detail(service.load_message(db.session(), user, message_id), user)


def raw(message_id: int) -> ResponseReturnValue:
    message = service.load_message(db.session(), api_user(), message_id)
    service.record_download(db.session(), api_user(), message)
    db.commit()
    return send_blob(message.sha256, "message/rfc822", f"message-{message.id}.eml")


def attachment(message_id: int, position: int) -> ResponseReturnValue:
    a = service.load_attachment(db.session(), api_user(), message_id, position)
    service.record_download(db.session(), api_user(), a.message, a)
    db.commit()
    return send_blob(a.sha256, a.content_type, a.filename)


def add_link(message_id: int) -> ResponseReturnValue:
    data = json_object()
    reject_unknown(data, {"record_type", "record_id"})
    record_type, record_id = data.get("record_type"), data.get("record_id")
    errors = {}
    if record_type not in LINK_TYPES:
        errors["record_type"] = "must be one of " + ", ".join(LINK_TYPES)
    if (
        not isinstance(record_id, int)
        or isinstance(record_id, bool)
        or not 1 <= record_id <= MAX_ID
    ):
        errors["record_id"] = "must be a record id (a positive whole number)"
    if errors:
        raise ValidationError(errors)
    session, user = db.session(), api_user()
    message = service.load_message(session, user, message_id)
    try:
        link = service.add_link(session, user, message, str(record_type), int(str(record_id)))
    except NotFound as exc:  # the record named in the body, not the message of the URL
        raise ValidationError({"record_id": f"no such {record_type} (or not yours)"}) from exc
    db.commit()
    return jsonify(link_dict(link)), 201


def remove_link(message_id: int, link_id: int) -> ResponseReturnValue:
    session, user = db.session(), api_user()
    message = service.load_message(session, user, message_id)
    service.remove_link(session, user, message, link_id)
    db.commit()
    return "", 204


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/messages", "message_list", index)
    bp.add_url_rule("/messages", "message_create", create, methods=["POST"])
    bp.add_url_rule(f"/messages/<{ID}:message_id>", "message_get", get)
    bp.add_url_rule(f"/messages/<{ID}:message_id>/raw", "message_raw", raw)
    bp.add_url_rule(
        f"/messages/<{ID}:message_id>/attachments/<{ID}(max={MAX_POSITION}):position>",
        "message_attachment",
        attachment,
    )
    bp.add_url_rule(
        f"/messages/<{ID}:message_id>/links", "message_link_add", add_link, methods=["POST"]
    )
    bp.add_url_rule(
        f"/messages/<{ID}:message_id>/links/<{ID}:link_id>",
        "message_link_remove",
        remove_link,
        methods=["DELETE"],
    )
