"""Log in, log out, the user's own settings (language, password)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from crm.errors import AuthenticationFailed, ValidationError
from crm.services import users
from web import db
from web.i18n import LANGUAGES
from web.security import current_user, login_required, login_user, logout_user, require_user

bp = Blueprint("auth", __name__)


def safe_next(target: str | None, default: str | None = None) -> str:
    """Only same-site paths; never an absolute URL that would send the user elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default or url_for("partners.index")


@bp.get("/")
def home() -> ResponseReturnValue:
    if current_user() is None:
        return redirect(url_for("auth.login"))
    return redirect(url_for("partners.index"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    error = None
    email = ""
    if request.method == "POST":
        email = request.form.get("email", "").strip()
        try:
            found = users.authenticate(db.session(), email, request.form.get("password", ""))
        except AuthenticationFailed:
            error = _("Wrong email or password.")
        else:
            login_user(found)
            return redirect(safe_next(request.args.get("next")))
    status = 401 if error else 200
    return render_template("login.html", error=error, email=email), status


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    logout_user()
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
                db.commit()
                flash(_("Your password has been changed."), "success")
                return redirect(url_for("auth.account"))
    return render_template("account.html", errors=errors), 422 if errors else 200
