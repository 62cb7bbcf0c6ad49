"""The app factory: ``create_app(settings)`` wires the database, security, i18n and blueprints."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import IO, Any

from flask import Flask, Request, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import text
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from crm.db import Database, database_error
from crm.errors import Busy, DossierError, ValidationError, storage_error
from crm.settings import Settings
from web import db as web_db
from web import i18n, security

HERE = Path(__file__).parent
# One request's limits: its size (a mail with its attachments, an import file) and how many
# files and fields a form may carry (werkzeug refuses more with 413 before parsing them all).
MAX_UPLOAD_MB = 25
MAX_FORM_PARTS = 500
# Headers of an HTTP error that the answer must keep (Allow on 405, RFC 9110 §15.5.6).
KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


class UploadParser(FormDataParser):
    """werkzeug's form parser, but a form it refuses part-way (too many files, too large)
    closes the temporary files it had opened for the parts before, instead of leaving them
    open until the garbage collector finds them."""

    def parse(
        self,
        stream: IO[bytes],
        mimetype: str,
        content_length: int | None,
        options: dict[str, str] | None = None,
    ) -> Any:
        opened: list[IO[bytes]] = []
        factory = self.stream_factory

        def tracked(*args: Any, **kwargs: Any) -> IO[bytes]:
            opened.append(factory(*args, **kwargs))
            return opened[-1]

        self.stream_factory = tracked
        try:
            return super().parse(stream, mimetype, content_length, options)
        except BaseException:
            for file in opened:
                file.close()
            raise
        finally:
            self.stream_factory = factory


class DossierRequest(Request):
    form_data_parser_class = UploadParser


def create_app(settings: Settings, database: Database | None = None) -> Flask:
    app = Flask(
        __name__, template_folder=str(HERE / "templates"), static_folder=str(HERE / "static")
    )
    app.request_class = DossierRequest
    app.config.update(
        SECRET_KEY=settings.session_secret(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="dossier_session",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(days=14),
        MAX_CONTENT_LENGTH=MAX_UPLOAD_MB * 1024 * 1024,
        MAX_FORM_PARTS=MAX_FORM_PARTS,
        JSON_SORT_KEYS=False,
        DOSSIER_SETTINGS=settings,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    web_db.init_app(app, database or Database(settings))
    security.init_app(app)
    i18n.init_app(app)

    from web.api import register_api
    from web.views import register_blueprints

    register_blueprints(app)
    register_api(app)
    register_error_handlers(app)
    app.before_request(refuse_nul_characters)
    from web import helpers

    helpers.init_app(app)

    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        """Workers, outbox lag, mail syncs and disk, without names (no login needed); 503
        when the database does not answer (web.views.system)."""
        from sqlalchemy.exc import SQLAlchemyError

        from web.views.system import health

        headers = {"Cache-Control": "no-store"}
        try:
            session = web_db.session()
            session.execute(text("SELECT 1"))
            return health(session, settings), 200, headers
        except SQLAlchemyError as exc:
            app.logger.warning("healthz: the database does not answer: %s", exc)
            web_db.discard()
            return {"status": "unavailable"}, 503, headers

    return app


def refuse_nul_characters() -> None:
    """A NUL character in a query parameter or form field is no text anyone typed, and
    PostgreSQL's text columns cannot store it: refuse the request before any view sees it
    (browsers and werkzeug turn invalid UTF-8 into U+FFFD, so NUL is the one left). JSON bodies
    are checked where they are read (web.api.common.json_object)."""
    # an API body is read by the view (a form parse here would consume it)
    sources = (request.args,) if request.path.startswith("/api/") else (request.args, request.form)
    bad = {
        name: "contains a NUL character"
        for values in sources
        for name, value in values.items(multi=True)
        if "\x00" in value or "\x00" in name
    }
    if bad:
        raise ValidationError({k.replace("\x00", "") or "field": v for k, v in bad.items()})


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def error_response(
    status: int,
    code: str,
    message: str,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> ResponseReturnValue:
    """Every error in one shape: JSON for the API and JSON clients, an HTML page otherwise."""
    if wants_json():
        body: dict[str, Any] = {"code": code, "message": message}
        if fields:
            body["fields"] = fields
        return jsonify(error=body), status, headers or {}
    page = render_template(
        "error.html", status=status, code=code, message=message, fields=fields or {}
    )
    return page, status, headers or {}


def too_large_message() -> str:
    return _(
        "The upload is too large: one request may carry at most %(mb)d MB and %(parts)d files "
        "and form fields. Send fewer or smaller files at a time.",
        mb=MAX_UPLOAD_MB,
        parts=MAX_FORM_PARTS,
    )


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DossierError)
    def dossier_error(exc: DossierError) -> ResponseReturnValue:
        fields = exc.errors if isinstance(exc, ValidationError) else None
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Busy) else None
        return error_response(exc.status, exc.code, exc.message, fields, headers)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        code = (exc.name or "error").lower().replace(" ", "_")
        message = exc.description or exc.name
        if isinstance(exc, RequestEntityTooLarge):
            message = too_large_message()
        kept = {k: v for k, v in exc.get_headers() if k in KEPT_HEADERS}
        return error_response(exc.code or 500, code, message, headers=kept)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> ResponseReturnValue:
        # A locked database or a full disk is no bug: the user can retry, or an admin act.
        known = database_error(exc) or storage_error(exc)
        if known is not None:
            app.logger.warning("%s: %s", known.code, exc)
            web_db.discard()
            return dossier_error(known)
        app.logger.exception("unexpected error", exc_info=exc)
        web_db.discard()
        return error_response(500, "internal_error", "Something went wrong on the server.")
