"""The app factory: ``create_app(settings)`` wires the database, security, i18n and blueprints."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from crm.db import Database
from crm.errors import DossierError, ValidationError
from crm.settings import Settings
from web import db as web_db
from web import i18n, security

HERE = Path(__file__).parent


def create_app(settings: Settings, database: Database | None = None) -> Flask:
    app = Flask(
        __name__, template_folder=str(HERE / "templates"), static_folder=str(HERE / "static")
    )
    app.config.update(
        SECRET_KEY=settings.session_secret(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="dossier_session",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(days=14),
        MAX_CONTENT_LENGTH=25 * 1024 * 1024,
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
    from web import helpers

    helpers.init_app(app)

    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        web_db.session().execute(text("SELECT 1"))
        return {"status": "ok"}

    return app


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def error_response(
    status: int, code: str, message: str, fields: dict[str, str] | None = None
) -> ResponseReturnValue:
    """Every error in one shape: JSON for the API and JSON clients, an HTML page otherwise."""
    if wants_json():
        body: dict[str, Any] = {"code": code, "message": message}
        if fields:
            body["fields"] = fields
        return jsonify(error=body), status
    return render_template(
        "error.html", status=status, code=code, message=message, fields=fields or {}
    ), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DossierError)
    def dossier_error(exc: DossierError) -> ResponseReturnValue:
        fields = exc.errors if isinstance(exc, ValidationError) else None
        return error_response(exc.status, exc.code, exc.message, fields)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> ResponseReturnValue:
        app.logger.exception("unexpected error", exc_info=exc)
        return error_response(500, "internal_error", "Something went wrong on the server.")
