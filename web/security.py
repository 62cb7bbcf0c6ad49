"""Login sessions, the current user, CSRF tokens and security headers.

The web UI authenticates by a signed session cookie and checks a CSRF token on every unsafe
request. The API (/api/v1) takes bearer tokens only and ignores the cookie, so CSRF cannot
reach it.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, abort, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from crm.errors import AuthenticationFailed, NotFound, PermissionDenied
from crm.models import User
from crm.services import users
from web import db

F = TypeVar("F", bound=Callable[..., Any])
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def current_user() -> User | None:
    return g.get("user")


def login_user(user: User) -> None:
    session.clear()
    session["user_id"] = user.id
    session["csrf"] = secrets.token_urlsafe(32)
    session.permanent = True


def logout_user() -> None:
    session.clear()


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def login_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return cast(F, wrapped)


def admin_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        user = current_user()
        if user is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if user.role != "admin":
            raise PermissionDenied("only an administrator may do this")
        return view(*args, **kwargs)

    return cast(F, wrapped)


def require_user() -> User:
    """The logged-in user of a view behind ``login_required``."""
    found = current_user()
    if found is None:
        raise AuthenticationFailed("log in first")
    return found


def init_app(app: Flask) -> None:
    @app.before_request
    def load_user() -> ResponseReturnValue | None:
        if request.path.startswith("/api/"):
            return None  # the API authenticates by token (web.api.auth)
        user_id = session.get("user_id")
        if user_id is not None:
            try:
                found: User | None = users.get_user(db.session(), int(user_id))
            except (NotFound, TypeError, ValueError):
                found = None  # deleted user or a tampered cookie: log out
            if found is not None and found.active:
                g.user = found
            else:
                session.clear()
        if request.method in UNSAFE:
            sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token", "")
            expected = session.get("csrf")
            if not expected or not hmac.compare_digest(str(sent), str(expected)):
                abort(
                    400,
                    description=gettext(
                        "The form has expired or did not come from Dossier (CSRF check failed). "
                        "Reload the page and try again."
                    ),
                )
        return None

    @app.after_request
    def headers(response: Any) -> Any:
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["current_user"] = current_user
