"""Login sessions, the current user, CSRF tokens and security headers.

The web UI authenticates by a session kept in the database (crm.services.sessions): the signed
cookie carries its random id, so ending the session ends it for every copy of the cookie. Every
unsafe request must carry the session's CSRF token. The API (/api/v1) takes bearer tokens only
and ignores the cookie, so CSRF cannot reach it.

HTTPS (setting ``https``): the cookie is ``Secure`` and HSTS is sent when the server is
served over HTTPS ("on"), or when the request came over HTTPS ("auto"); behind a reverse proxy,
``trusted_proxies`` lets werkzeug's ProxyFix take the scheme and the client address from its
X-Forwarded-Proto and X-Forwarded-For (never believed without it).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, abort, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from werkzeug.middleware.proxy_fix import ProxyFix

from crm.errors import AuthenticationFailed, NotFound, PermissionDenied
from crm.models import User
from crm.services import sessions, users
from crm.settings import Settings
from web import db

F = TypeVar("F", bound=Callable[..., Any])
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
SESSION_KEY = "sid"
HSTS = "max-age=31536000"
QUIET_LOCK_WAIT_MS = 1000
log = logging.getLogger(__name__)


def current_user() -> User | None:
    user: User | None = g.get("user")
    return user


def current_session_id() -> str | None:
    """The id of this request's login session (the cookie's), when logged in."""
    found = g.get("session_id")
    return str(found) if found else None


def client_address() -> str:
    return request.remote_addr or ""


def login_user(user: User) -> None:
    """Start a new session (a fresh id and CSRF token); the view commits."""
    session.clear()
    session[SESSION_KEY] = sessions.start(
        db.session(), user, request.user_agent.string, client_address()
    )
    session["csrf"] = secrets.token_urlsafe(32)
    session.permanent = True


def renew_session(user: User) -> None:
    """After every session of the user was ended: this browser goes on in a new one, and a
    copy of its old cookie does not."""
    login_user(user)


def logout_user() -> None:
    """End this session for every copy of its cookie; the view commits."""
    session_id = session.get(SESSION_KEY)
    if isinstance(session_id, str):
        sessions.end(db.session(), session_id)
    session.clear()


def write_quietly(what: str, work: Callable[[Session], None]) -> None:
    """A small bookkeeping write of its own (a token's or a session's last use) that must never
    fail the request: it waits for the write lock at most QUIET_LOCK_WAIT_MS, and a lock it
    cannot get ("database is locked", a lock timeout) is logged and the write skipped."""
    with db.database().engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        restore = None
        try:
            if sqlite:  # a connection setting: only for this write, restored below
                restore = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
                conn.exec_driver_sql(f"PRAGMA busy_timeout={QUIET_LOCK_WAIT_MS}")
                conn.commit()
            with Session(conn) as unit:
                if not sqlite:
                    unit.execute(text(f"SET LOCAL lock_timeout = '{QUIET_LOCK_WAIT_MS}ms'"))
                work(unit)
                unit.commit()
        except OperationalError as exc:
            log.warning("skipped recording %s: %s", what, exc.orig)
        finally:
            if restore is not None:
                conn.exec_driver_sql(f"PRAGMA busy_timeout={int(restore)}")
                conn.commit()


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


def _load_user() -> None:
    """g.user from the session's row; a cookie whose session has ended logs out."""
    session_id = session.get(SESSION_KEY)
    if session_id is None:
        if "user_id" in session:  # a cookie from before sessions were kept: log in again
            session.clear()
        return
    s = db.session()
    row = sessions.find(s, session_id) if isinstance(session_id, str) else None
    found: User | None = None
    if row is not None:
        try:
            found = users.get_user(s, row.user_id)
        except NotFound:
            found = None
    if row is None or found is None or not found.active:
        session.clear()
        return
    g.user, g.session_id = found, session_id
    if sessions.touch_due(row):
        row_id = row.id
        if request.method in db.READ_METHODS:  # a page view reads only: a unit of its own
            write_quietly("a session's last use", lambda unit: sessions.touch(unit, row_id))
        else:
            sessions.touch(s, row_id)


class SessionCookie(SecureCookieSessionInterface):
    """Flask's signed cookie, ``Secure`` as the ``https`` setting says (per request in auto)."""

    def __init__(self, https: str) -> None:
        self.https = https

    def get_cookie_secure(self, app: Flask) -> bool:
        return self.https == "on" or (self.https == "auto" and request.is_secure)


def init_app(app: Flask) -> None:
    settings: Settings = app.config["DOSSIER_SETTINGS"]
    app.session_interface = SessionCookie(settings.https)
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]

    @app.before_request
    def load_user() -> ResponseReturnValue | None:
        if request.path.startswith("/api/"):
            return None  # the API authenticates by token (web.api.auth)
        _load_user()
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
        if settings.https == "on" or (settings.https == "auto" and request.is_secure):
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response

    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["current_user"] = current_user
