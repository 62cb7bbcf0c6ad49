"""Log in, log out, the user's own settings (language, password, sessions, API tokens)."""

from __future__ import annotations

import math
import unicodedata
from urllib.parse import unquote

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext

from crm.errors import AuthenticationFailed, ValidationError
from crm.services import profiles, sessions, users
from crm.services.throttle import LoginThrottled
from web import db
from web.i18n import LANGUAGES
from web.security import (
    client_address,
    current_session_id,
    current_user,
    login_required,
    login_user,
    logout_user,
    renew_session,
    require_user,
)

bp = Blueprint("auth", __name__)
MAX_NEXT = 2000


def _invisible(ch: str) -> bool:
    """Whitespace and control or format characters: browsers drop tabs and line breaks from
    a URL ("/<TAB>/evil.test" becomes "//evil.test"), and a line break cannot be a header."""
    return ch.isspace() or unicodedata.category(ch).startswith("C")


def _local_path(target: str) -> bool:
    return target.startswith("/") and not target.startswith(("//", "/\\"))


def safe_next(target: str | None, default: str | None = None) -> str:
    """Where to go back to after a form: only a path on this site, else ``default``.

    Every redirect that takes a ``next`` goes through here. Refused: anything with whitespace,
    control characters or backslashes (browsers read "\\" as "/"), absolute and
    protocol-relative URLs (``https:``, ``javascript:``, ``//host``), and the same hidden
    behind percent-encoding (``/%2F%2Fhost``, ``/%09/host``, encoded twice too), and
    anything longer than MAX_NEXT."""
    fallback = default or url_for("my_day.home")
    if not target or len(target) > MAX_NEXT or "\\" in target:
        return fallback
    if any(_invisible(ch) for ch in target) or not _local_path(target):
        return fallback
    decoded = target
    for _round in range(3):  # what a browser or a second redirect might make of it
        decoded = unquote(decoded)
        visible = "".join(ch for ch in decoded if not _invisible(ch))
        if "\\" in visible or not _local_path(visible):
            return fallback
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    error = None
    email = ""
    if request.method == "POST":
        email = request.form.get("email", "").strip()
        password = request.form.get("password", "")
        try:
            found = users.log_in(db.session(), email, password, client_address())
        except LoginThrottled as exc:
            minutes = math.ceil(exc.retry_after / 60)
            error = ngettext(
                "Too many failed attempts; try again in %(num)d minute.",
                "Too many failed attempts; try again in %(num)d minutes.",
                minutes,
            )
            page = render_template("login.html", error=error, email=email)
            return page, 429, {"Retry-After": str(exc.retry_after)}
        except AuthenticationFailed:
            db.commit()  # the failure counts towards the throttle
            error = _("Wrong email or password.")
        else:
            login_user(found)
            db.commit()
            return redirect(safe_next(request.args.get("next")))
    status = 401 if error else 200
    return render_template("login.html", error=error, email=email), status


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    logout_user()
    db.commit()
    flash(_("You have been logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/language")
def language() -> ResponseReturnValue:
    lang = request.form.get("language", "")
    if lang not in LANGUAGES:
        raise ValidationError({"language": "must be one of " + ", ".join(LANGUAGES)})
    session["lang"] = lang
    user = current_user()
    if user is not None:
        users.set_language(db.session(), user, lang)
        db.commit()
    return redirect(safe_next(request.form.get("next")))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account() -> ResponseReturnValue:
    errors: dict[str, str] = {}
    if request.method == "POST":
        new = request.form.get("new_password", "")
        if new != request.form.get("confirm_password", ""):
            errors["confirm_password"] = _("The two new passwords differ.")
        else:
            try:
                users.change_password(
                    db.session(), require_user(), request.form.get("current_password", ""), new
                )
            except ValidationError as exc:
                errors = exc.errors
            else:
                renew_session(require_user())
                db.commit()
                flash(
                    _("Your password has been changed; your other sessions have been signed out."),
                    "success",
                )
                return redirect(url_for("auth.account"))
    s, user = db.session(), require_user()
    return render_template(
        "account.html",
        errors=errors,
        sessions=sessions.list_active(s, user, current_session_id()),
        tokens=users.list_tokens(s, user),
    ), 422 if errors else 200


@bp.post("/account/profile")
@login_required
def profile() -> ResponseReturnValue:
    """The user's own phone, job title, signature and time zone."""
    s, user = db.session(), require_user()
    try:
        profiles.update_profile(s, user.id, request.form)
    except ValidationError as exc:
        s.rollback()
        return render_template(
            "account.html",
            errors={},
            profile_errors=exc.errors,
            profile_values=request.form,
            sessions=sessions.list_active(s, user, current_session_id()),
            tokens=users.list_tokens(s, user),
        ), 422
    db.commit()
    flash(_("Your details have been saved."), "success")
    return redirect(url_for("auth.account"))


@bp.post("/account/sessions/sign-out-others")
@login_required
def sign_out_others() -> ResponseReturnValue:
    """End every session of mine but this browser's (a cookie left on another computer, or
    copied from this one: this browser goes on in a new session)."""
    sessions.end_all(db.session(), require_user().id)
    renew_session(require_user())
    db.commit()
    flash(_("Your other sessions have been signed out."), "success")
    return redirect(url_for("auth.account") + "#sessions")


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> ResponseReturnValue:
    revoked = users.revoke_token(db.session(), token_id, owner=require_user())
    db.commit()
    flash(
        _("The API token “%(label)s” has been revoked.", label=revoked.label or revoked.id),
        "success",
    )
    return redirect(url_for("auth.account") + "#tokens")
