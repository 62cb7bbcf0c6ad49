"""Mail pages: all filed mail, a message with its thread and links, the triage queue, uploading
.eml and Outlook .msg files, and writing mail from the CRM (the mail accounts:
web.views.mail_accounts)."""

from __future__ import annotations

import base64
import re
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from connector import accounts as account_service
from connector.intake import Upload, file_upload, filing_archive, read_upload
from crm.blobs import BlobNotFound
from crm.errors import NotFound, ValidationError
from crm.models import Deal, Partner, Person, User
from crm.services.persons import persons
from crm.services.records import is_small_number
from mail_archive import service
from mail_archive.models import Message
from web import db
from web.files import blob_store, send_blob
from web.i18n import datetime as local_datetime
from web.i18n import translate
from web.security import login_required, require_user
from web.views.common import page_size

bp = Blueprint("mail", __name__, url_prefix="/mail")
MAX_INLINE_IMAGE = 2 * 1024 * 1024
CID_SRC = re.compile(r'src="cid/([^"]+)"')
BODY_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
    "frame-ancestors 'self'; form-action 'none'; base-uri 'none'; "
    "sandbox allow-popups allow-popups-to-escape-sandbox"
)


def page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if is_small_number(raw) and 0 < int(raw) < 100_000 else 1


def position() -> int:
    """The page number a mail list link shows (``page``; negative: counted from the end while
    the total is not known); the page itself is found by the link's cursor."""
    raw = request.args.get("page", "1")
    number = raw.removeprefix("-")
    if not (is_small_number(number) and 0 < int(number) < 100_000):
        return 1
    return -int(number) if raw.startswith("-") else int(number)


PICKER_LIMIT = 500  # records a select offers; beyond that the picker takes a number


@dataclass(frozen=True)
class Choices:
    """What the partner and deal pickers of a mail page offer (mail/_pickers.html): every
    visible partner, passive ones too, and every open deal, by name; ``*_more`` when there
    are more than ``limit``: the picker then takes any record's number."""

    partners: list[tuple[int, str]]
    partners_more: bool
    deals: list[tuple[int, str, int | None]]
    deals_more: bool
    limit: int = PICKER_LIMIT


def choices(user: User) -> Choices:
    session = db.session()
    partners, partners_more = service.partner_choices(session, user, PICKER_LIMIT)
    deals, deals_more = service.deal_choices(session, user, PICKER_LIMIT)
    return Choices(partners, partners_more, deals, deals_more)


@bp.app_context_processor
def mail_helpers() -> dict[str, Any]:
    """For every template: the triage count of the menu, and who a message is with."""

    def count() -> int:
        """Asked by the menu and the mail tabs: counted once per request."""
        from web.security import current_user

        if "triage_count" not in g:
            user = current_user()
            g.triage_count = service.triage_count(db.session(), user) if user else 0
        return int(g.triage_count)

    return {"triage_count": count, "counterpart": service.counterpart}


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    """Filed mail: sort by clicking a column, filter by text and direction; a bad sort or
    filter shows the whole list with the reason above it (400)."""
    user = require_user()
    session = db.session()
    errors: dict[str, str] = {}
    try:
        page = service.list_messages(
            session,
            user,
            text=request.args.get("q", ""),
            direction=request.args.get("direction", ""),
            sort=request.args.get("sort", ""),
            page=position(),
            per_page=page_size(),
            after=request.args.get("after", ""),
            before=request.args.get("before", ""),
            last=request.args.get("last") == "1",
            count_limit=service.COUNT_LIMIT,
        )
    except ValidationError as exc:
        errors = exc.errors
        page = service.list_messages(
            session, user, per_page=page_size(), count_limit=service.COUNT_LIMIT
        )
    return render_template(
        "mail/list.html",
        page=page,
        filed_to=service.filed_to(session, user, page.items),
        filter_errors=errors,
    ), 400 if errors else 200


@bp.get("/triage")
@login_required
def triage() -> ResponseReturnValue:
    user = require_user()
    page = service.triage_queue(db.session(), user, page=page_number(), per_page=page_size())
    g.triage_count = page.total  # the menu's badge: counted once
    return render_template(
        "mail/triage.html",
        page=page,
        choices=choices(user),
    )


def _load(message_id: int) -> tuple[Message, User]:
    user = require_user()
    return service.load_message(db.session(), user, message_id), user


@bp.post("/<int:message_id>/file")
@login_required
def file_message(message_id: int) -> ResponseReturnValue:
    message, user = _load(message_id)
    partner_id = request.form.get("partner_id", type=int)
    deal_id = request.form.get("deal_id", type=int)
    try:
        service.file_from_triage(db.session(), user, message, partner_id, deal_id)
    except ValidationError as exc:
        db.session().rollback()
        if "deal_id" in exc.errors:  # a deal of another partner than the one chosen
            flash(translate(exc.errors["deal_id"]), "error")
        else:
            flash(_("Choose a partner or a deal to file the message to."), "error")
        return redirect(url_for("mail.triage"))
    except NotFound:  # deleted meanwhile, or not the user's to see
        flash(_("No such partner or deal."), "error")
        return redirect(url_for("mail.triage"))
    db.commit()
    flash(_("Filed: %(subject)s", subject=message.subject or _("(no subject)")), "success")
    return redirect(url_for("mail.triage"))


@bp.route("/<int:message_id>/new-partner", methods=["GET", "POST"])
@login_required
def new_partner(message_id: int) -> ResponseReturnValue:
    """Triage: create a partner and its person from the sender, and file the message there."""
    message, user = _load(message_id)
    suggested = service.sender_suggestion(db.session(), message)
    values = {
        "partner_name": suggested.partner_name,
        "domain": suggested.domain,
        "person_name": suggested.person_name,
        "email": suggested.email,
    }
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {k: request.form.get(k, "") for k in values}
        try:
            partner = service.file_to_new_partner(
                db.session(),
                user,
                message,
                {"name": values["partner_name"], "domains": values["domain"]},
                {"name": values["person_name"], "emails": values["email"]},
            )
        except ValidationError as exc:
            db.session().rollback()  # nothing of it stays: no partner without its person
            errors = exc.errors
        else:
            db.commit()
            flash(
                _(
                    "Partner %(partner)s created and the message filed to it.",
                    partner=partner.name,
                ),
                "success",
            )
            return redirect(url_for("partners.show", partner_id=partner.id))
    status = 422 if errors else 200
    return render_template(
        "mail/new_partner.html", message=message, values=values, errors=errors
    ), status


@bp.post("/<int:message_id>/dismiss")
@login_required
def dismiss(message_id: int) -> ResponseReturnValue:
    message, user = _load(message_id)
    service.dismiss(db.session(), user, message)
    db.commit()
    flash(_("Set aside as not CRM mail; it stays archived."), "success")
    return redirect(url_for("mail.triage"))


@bp.route("/upload", methods=["GET", "POST"])
@login_required
def upload() -> ResponseReturnValue:
    user = require_user()
    errors: dict[str, str] = {}
    results: list[tuple[str, str, int | None]] = []
    refused: list[tuple[str, str]] = []  # (file name, why): shown by the file field
    partner_id = request.form.get("partner_id", type=int)
    deal_id = request.form.get("deal_id", type=int)
    if request.method == "POST":
        files = [f for f in request.files.getlist("files") if f.filename]
        if not files:
            errors["files"] = _("Choose one or more .eml or .msg files.")
        db.release()  # every file is parsed before the write lock is taken, not while held
        uploads: list[tuple[str, Upload]] = []
        for f in files:
            name = f.filename or ""
            try:
                uploads.append((name, read_upload(f.read())))
            except ValidationError as exc:
                refused.append((name, translate(exc.errors.get("message", exc.message))))
        session = db.session()
        archive = filing_archive(session, blob_store())  # one per request, not per file
        try:  # the choice once, before any file: a deal of another partner refuses them all
            service.check_choice(session, user, partner_id, deal_id)
        except ValidationError as exc:
            errors["deal_id"] = translate(exc.errors.get("deal_id", exc.message))
            uploads = []
        except NotFound:
            errors["partner_id"] = _("No such partner or deal.")
            uploads = []
        for name, mail in uploads:
            try:
                result = file_upload(
                    archive, user, mail, kind="upload", partner_id=partner_id, deal_id=deal_id
                )
            except NotFound:
                errors["partner_id"] = _("No such partner or deal.")
                session.rollback()
                break
            # a copy of a message the user may not see: said so, nothing named
            shown = service.find_message(session, user, result.message_id)
            status = result.status if shown is not None else "elsewhere"
            results.append((name, status, shown.id if shown else None))
        if not errors:
            db.commit()
    failed = bool(errors) or (bool(refused) and not results)
    return render_template(
        "mail/upload.html",
        errors=errors,
        results=results,
        choices=choices(user),
        refused=refused,
        partner_id=partner_id,
        deal_id=deal_id,
    ), 422 if failed else 200


@bp.get("/<int:message_id>")
@login_required
def show(message_id: int) -> ResponseReturnValue:
    message, user = _load(message_id)
    session = db.session()
    thread = service.thread_of(session, user, message)
    can_send = any(a.smtp_host for a in account_service.accounts_of(session, user))
    just_removed = None
    removed_id = request.args.get("removed", "")
    if is_small_number(removed_id):
        # restored meanwhile, or not the user's to see: nothing to undo
        with suppress(NotFound):
            just_removed = service.removed_link(session, user, message, int(removed_id))
    return render_template(
        "mail/show.html",
        message=message,
        just_removed=just_removed,
        links=service.visible_links(session, user, [message])[message.id],
        thread=thread if len(thread) > 1 else [],
        choices=choices(user),
        can_send=can_send,
        link_name=_link_name,
    )


def _link_name(link: Any) -> str:
    record = link.partner or link.deal or link.person
    if isinstance(record, Partner | Person):
        return record.name
    if isinstance(record, Deal):
        return record.title
    return link.target


@bp.get("/<int:message_id>/body")
@login_required
def body(message_id: int) -> ResponseReturnValue:
    """The message body for the sandboxed frame: sanitized HTML, inline images as data: URIs,
    or the text part; scripts, forms, plugins and remote loads are off by CSP and sandbox."""
    message, _user = _load(message_id)
    if message.body_html:
        images = {a.content_id: a for a in message.attachments if a.content_id}

        def inline(match: re.Match[str]) -> str:
            from urllib.parse import unquote

            a = images.get(unquote(match.group(1)))
            if a is None or not a.content_type.startswith("image/") or a.size > MAX_INLINE_IMAGE:
                return 'src=""'
            try:
                data = base64.b64encode(blob_store().get(a.sha256)).decode()
            except BlobNotFound:
                return 'src=""'
            return f'src="data:{escape(a.content_type)};base64,{data}"'

        content = Markup(CID_SRC.sub(inline, message.body_html))
    else:
        content = Markup("<pre>") + escape(message.body_text) + Markup("</pre>")
    html = render_template("mail/body.html", content=content)
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = BODY_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/<int:message_id>/raw")
@login_required
def raw(message_id: int) -> ResponseReturnValue:
    message, user = _load(message_id)
    service.record_download(db.session(), user, message)
    db.commit()
    return send_blob(message.sha256, "message/rfc822", f"message-{message.id}.eml")


@bp.get("/<int:message_id>/attachments/<int:position>")
@login_required
def attachment(message_id: int, position: int) -> ResponseReturnValue:
    a = service.load_attachment(db.session(), require_user(), message_id, position)
    service.record_download(db.session(), require_user(), a.message, a)
    db.commit()
    return send_blob(a.sha256, a.content_type, a.filename)


@bp.post("/<int:message_id>/links")
@login_required
def add_link(message_id: int) -> ResponseReturnValue:
    message, user = _load(message_id)
    record_type = request.form.get("record_type", "")
    record_id = request.form.get("record_id", type=int)
    if record_type == "partner":
        record_id = request.form.get("partner_id", type=int)
    elif record_type == "deal":
        record_id = request.form.get("deal_id", type=int)
    if not record_id:
        flash(_("Choose what to link the message to."), "error")
        return redirect(url_for("mail.show", message_id=message_id))
    try:
        service.add_link(db.session(), user, message, record_type, record_id)
    except (ValidationError, NotFound):
        flash(_("That record does not exist or you cannot see it."), "error")
        return redirect(url_for("mail.show", message_id=message_id))
    db.commit()
    flash(_("Link added."), "success")
    return redirect(url_for("mail.show", message_id=message_id))


@bp.post("/<int:message_id>/links/<int:link_id>/remove")
@login_required
def remove_link(message_id: int, link_id: int) -> ResponseReturnValue:
    message, user = _load(message_id)
    service.remove_link(db.session(), user, message, link_id)
    db.commit()
    # the message page offers to undo it (?removed=<link>)
    return redirect(url_for("mail.show", message_id=message_id, removed=link_id))


@bp.post("/<int:message_id>/links/<int:link_id>/restore")
@login_required
def restore_link(message_id: int, link_id: int) -> ResponseReturnValue:
    """Undo a removed link."""
    message, user = _load(message_id)
    service.restore_link(db.session(), user, message, link_id)
    db.commit()
    flash(_("The link is back."), "success")
    return redirect(url_for("mail.show", message_id=message_id))


# -- writing ----------------------------------------------------------------------------------


@bp.route("/compose", methods=["GET", "POST"])
@login_required
def compose() -> ResponseReturnValue:
    from connector.sending import Draft, SendError, send_draft

    user = require_user()
    session = db.session()
    senders = [a for a in account_service.accounts_of(session, user) if a.smtp_host]
    reply_to = request.values.get("reply_to", type=int)
    original = service.load_message(session, user, reply_to) if reply_to else None
    errors: dict[str, str] = {}
    if request.method == "POST":
        draft = Draft(
            account_id=request.form.get("account_id", type=int) or 0,
            to=request.form.get("to", ""),
            cc=request.form.get("cc", ""),
            subject=request.form.get("subject", ""),
            body=request.form.get("body", ""),
            partner_id=request.form.get("partner_id", type=int),
            deal_id=request.form.get("deal_id", type=int),
            reply_to_id=original.id if original else None,
            attachments=[
                (f.filename or "attachment", f.mimetype or "application/octet-stream", f.read())
                for f in request.files.getlist("files")
                if f.filename
            ],
        )
        try:
            db.release()  # no lock held while the SMTP server is talked to
            message_id = send_draft(db.database(), user.id, draft)
        except ValidationError as exc:
            errors = exc.errors
        except SendError as exc:
            errors = {"form": _("Not sent: %(reason)s", reason=translate(exc.message))}
        else:
            flash(_("Sent and filed."), "success")
            return redirect(url_for("mail.show", message_id=message_id))
        values = request.form.to_dict()
    else:
        values = _compose_defaults(session, user, original)
    return render_template(
        "mail/compose.html",
        senders=senders,
        values=values,
        errors=errors,
        original=original,
        choices=choices(user),
    ), 422 if errors else 200


def _compose_defaults(session: Session, user: User, original: Message | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    person_id = request.args.get("person_id", type=int)
    if person_id:
        try:
            person = persons.get(session, user, person_id)
        except NotFound:  # a stale link: an empty form
            pass
        else:
            values["to"] = ", ".join(person.emails[:1])
            values["partner_id"] = person.partner_id
    if request.args.get("deal_id", type=int):
        values["deal_id"] = request.args.get("deal_id", type=int)
    if original is not None:
        values["to"] = (
            original.from_addr
            if original.direction == "in"
            else ", ".join(a for _n, a in original.to_addrs)
        )
        subject = original.subject or ""
        values["subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
        quoted = "\n".join("> " + line for line in original.body_text.splitlines()[:200])
        when = local_datetime(original.sent_at)  # the viewer's zone, as the message page
        values["body"] = f"\n\n{when} {original.from_name or original.from_addr}:\n{quoted}"
        for link in service.visible_links(session, user, [original])[original.id]:
            if link.partner_id and "partner_id" not in values:
                values["partner_id"] = link.partner_id
            if link.deal_id and "deal_id" not in values:
                values["deal_id"] = link.deal_id
    return values
