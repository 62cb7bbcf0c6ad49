"""The user's mail accounts: adding one (with the providers' presets, connector.presets), its
page, the connection test and "Sync now", both in the background with their progress shown as
it comes (web/static/account-status.js polls ``status``; without JavaScript the page refreshes
itself while something runs). Routes on mail's blueprint, under /mail/accounts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from connector import accounts as account_service
from connector.models import QUEUED, RUNNING, MailAccount
from connector.presets import PRESETS
from connector.probe import (
    FAILED,
    OK,
    SYNCING,
    TESTING,
    ConnectionTest,
    ConnectionTests,
    connection_tests,
)
from crm.errors import Conflict, ValidationError
from crm.models import utcnow
from crm.text import Text
from web import db
from web.i18n import datetime as local_datetime
from web.i18n import translate
from web.security import login_required, require_user
from web.views.mail import bp

# A queued or running pass whose state has not moved for this long died with its process.
STALE = dt.timedelta(minutes=10)


def _port(field: str, errors: dict[str, str]) -> int | None:
    """A port typed in the form: empty is None (the usual port), anything but a number an error
    by the field."""
    raw = request.form.get(field, "").strip()
    if not raw:
        return None
    if raw.isdigit() and len(raw) <= 5:
        return int(raw)
    errors[field] = Text(
        "“%(value)s” is not a port: enter a number from 1 to 65535", value=raw[:20]
    )
    return None


def preset_choices() -> list[dict[str, Any]]:
    """The presets as the form offers them: label and hint in the reader's language, and the
    fields each fills."""
    return [
        {"key": p.key, "label": translate(p.label), "hint": translate(p.hint), "form": p.as_form()}
        for p in PRESETS
    ]


@bp.route("/accounts", methods=["GET", "POST"])
@login_required
def accounts() -> ResponseReturnValue:
    user = require_user()
    session = db.session()
    errors: dict[str, str] = {}
    values = (
        request.form.to_dict()
        if request.method == "POST"
        else {"security": "tls", "smtp_security": "tls"}
    )
    if request.method == "POST":
        port, smtp_port = _port("port", errors), _port("smtp_port", errors)
        data = account_service.AccountInput(
            name=values.get("name", ""),
            host=values.get("host", ""),
            port=port,
            security=values.get("security", "tls"),
            username=values.get("username", ""),
            user_email=user.email,
            password=values.get("password", ""),
            folders=[f for f in values.get("folders", "").split(",") if f.strip()],
            filing_folder=values.get("filing_folder", "") or "CRM",
            smtp_host=values.get("smtp_host", ""),
            smtp_port=smtp_port,
            smtp_security=values.get("smtp_security", "tls"),
            preset=values.get("preset", ""),
        )
        try:
            created = account_service.add_account(session, db.database().settings, data)
            if errors:  # a port that is not a number: nothing is saved
                raise ValidationError(errors)
        except ValidationError as exc:
            errors = {**exc.errors, **errors}
            session.rollback()
        except Conflict as exc:
            errors = {"name": exc.message}
            session.rollback()
        else:
            from connector.scheduler import request_sync

            db.commit()
            _tests().start(created.id)  # in the background: the page answers at once
            request_sync(current_app, created.id)  # read it now, and start watching it
            flash(_("Account %(name)s added.", name=created.name), "success")
            return redirect(url_for("mail.account", account_id=created.id))
        # what a preset filled in (the form without JavaScript) shows as it was used
        for field in ("host", "security", "smtp_host", "smtp_security"):
            values[field] = getattr(data, field)
        for field, number in (("port", data.port), ("smtp_port", data.smtp_port)):
            if field not in errors and number is not None:
                values[field] = str(number)
    values.pop("password", None)
    return render_template(
        "mail/accounts.html",
        accounts=account_service.accounts_of(session, user),
        errors=errors,
        values=values,
        presets=preset_choices(),
    ), 422 if errors else 200


@bp.get("/accounts/<int:account_id>")
@login_required
def account(account_id: int) -> ResponseReturnValue:
    user = require_user()
    found = account_service.load_account(db.session(), user, account_id)
    lines, running = status_lines(found, _tests().get(found.id))
    return render_template(
        "mail/account.html",
        account=found,
        delivery=_delivery(found.id),
        lines=lines,
        running=running,
    )


def _tests() -> ConnectionTests:
    """This process's background connection tests (connector.probe)."""
    return connection_tests(current_app, db.database())


def status_lines(
    account: MailAccount, test: ConnectionTest | None
) -> tuple[list[tuple[str, str]], bool]:
    """What the account's page says about its connection test and sync, as (kind, text)
    lines, and whether something still runs (the page then keeps asking)."""
    lines: list[tuple[str, str]] = []
    running = False
    state = account.sync_state
    if state and (account.sync_state_at is None or utcnow() - account.sync_state_at > STALE):
        state = ""
    test_failed = False
    if test is not None:
        if test.state == TESTING:
            running = True
            lines.append(("info", _("Testing the connection…")))
        elif test.state == SYNCING:
            running = True
            if not state:  # the pass has not written its first step yet
                lines.append(("info", _("Syncing…")))
        elif test.state == FAILED and test.fetched is None:
            test_failed = True
            lines.append(
                (
                    "error",
                    _("The connection test failed: %(error)s", error=translate(test.message)),
                )
            )
        elif test.state == OK and test.fetched is None:
            lines.append(
                (
                    "success",
                    _("The connection works: the IMAP and the SMTP server took the login.")
                    if test.smtp
                    else _("The connection works: the server took the login."),
                )
            )
    if state == QUEUED:
        running = True
        lines.append(("info", _("Sync queued: it begins in a moment.")))
    elif state == RUNNING:
        running = True
        lines.append(
            (
                "info",
                _(
                    "Syncing… messages read so far: %(read)s, newly filed: %(filed)s.",
                    read=account.sync_read or 0,
                    filed=account.sync_filed or 0,
                ),
            )
        )
    elif account.last_error and not test_failed and not running:
        when = f" ({local_datetime(account.last_error_at)})" if account.last_error_at else ""
        lines.append(
            ("error", _("The last sync failed: %(error)s", error=translate(account.error())) + when)
        )
    elif account.last_sync_at and account.sync_read is not None and not running:
        lines.append(
            (
                "success",
                _(
                    "Sync done %(when)s — messages read: %(read)s, newly filed: %(filed)s.",
                    when=local_datetime(account.last_sync_at),
                    read=account.sync_read,
                    filed=account.sync_filed or 0,
                ),
            )
        )
    return lines, running


def _status_answer(found: MailAccount) -> ResponseReturnValue:
    db.session().refresh(found)  # a pass in another session or process may have moved it
    lines, running = status_lines(found, _tests().get(found.id))
    test = _tests().get(found.id)
    body = {
        "state": test.state if test else "none",  # the connection test's
        "message": translate(test.message) if test else "",
        "sync": found.sync_state or "idle",
        "read": found.sync_read,
        "filed": found.sync_filed,
        "running": running,
        "lines": [{"kind": kind, "text": text} for kind, text in lines],
    }
    return body, 200, {"Cache-Control": "no-store"}


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.get("/accounts/<int:account_id>/status")
@login_required
def account_status(account_id: int) -> ResponseReturnValue:
    """What the account's connection test and sync are doing, for the page's poll
    (web/static/account-status.js)."""
    found = account_service.load_account(db.session(), require_user(), account_id)
    return _status_answer(found)


@bp.post("/accounts/<int:account_id>/test")
@login_required
def account_test(account_id: int) -> ResponseReturnValue:
    found = account_service.load_account(db.session(), require_user(), account_id)
    _tests().start(found.id)
    if _wants_json():  # the page's script: it follows the test without leaving the page
        return _status_answer(found)
    return redirect(url_for("mail.account", account_id=account_id))


def _delivery(account_id: int) -> str:
    """How new mail of the account reaches the CRM, in a sentence."""
    from connector.idle import RECONNECTING, UNSUPPORTED, WATCHING
    from connector.scheduler import delivery

    found = delivery(current_app, account_id)
    if found is None:
        return str(_("By “Sync now” and dossier sync (no background sync runs in this process)."))
    minutes, states = found
    every = str(_("every %(n)s minutes", n=f"{minutes:g}"))
    watching = [folder for folder, state in sorted(states.items()) if state == WATCHING]
    if watching:
        return str(
            _(
                "At once in %(folders)s (the server announces it: IMAP IDLE); the rest %(every)s.",
                folders=", ".join(watching),
                every=every,
            )
        )
    if states and all(state == UNSUPPORTED for state in states.values()):
        return str(
            _("%(every)s (the server does not announce new mail).", every=every.capitalize())
        )
    if any(state == RECONNECTING for state in states.values()):
        return str(_("%(every)s (announcing new mail: reconnecting).", every=every.capitalize()))
    return every.capitalize()


@bp.post("/accounts/<int:account_id>/sync")
@login_required
def account_sync(account_id: int) -> ResponseReturnValue:
    """One pass now: by the background sync (in this process or another), else in the
    background of this one after a connection test; the page follows it either way."""
    from connector.scheduler import sync_now

    user = require_user()
    found = account_service.load_account(db.session(), user, account_id)
    db.release()  # a mail-sync worker in another process is asked through a row of its own
    if not sync_now(current_app, db.database(), found.id):
        _tests().start(found.id, then_sync=True)
    if _wants_json():
        return _status_answer(account_service.load_account(db.session(), user, account_id))
    return redirect(url_for("mail.account", account_id=account_id))


@bp.post("/accounts/<int:account_id>/password")
@login_required
def account_password(account_id: int) -> ResponseReturnValue:
    user = require_user()
    session = db.session()
    found = account_service.load_account(session, user, account_id)
    try:
        account_service.set_password(
            session, db.database().settings, found, request.form.get("password", "")
        )
    except ValidationError:
        flash(_("Enter the new password."), "error")
        return redirect(url_for("mail.account", account_id=account_id))
    db.commit()
    _tests().start(found.id)
    flash(_("Password saved (encrypted)."), "success")
    return redirect(url_for("mail.account", account_id=account_id))


@bp.post("/accounts/<int:account_id>/delete")
@login_required
def account_delete(account_id: int) -> ResponseReturnValue:
    user = require_user()
    session = db.session()
    found = account_service.load_account(session, user, account_id)
    account_service.delete_account(session, found)
    db.commit()
    _tests().forget(account_id)
    flash(_("Account removed; the mail it archived stays."), "success")
    return redirect(url_for("mail.accounts"))
