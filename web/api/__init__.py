"""The REST API under /api/v1: JSON, bearer tokens, errors as {"error": {"code", "message"}}."""

from __future__ import annotations

from flask import Blueprint, Flask


def register_api(app: Flask) -> None:
    """Registers the /api/v1 routes and the bearer-token check that guards every /api/ path."""
    from web.api import audit, auth, messages, openapi, resources, views
    from web.api.common import ID, PREFIX, IdConverter

    app.url_map.converters[ID] = IdConverter
    bp = Blueprint("api", __name__, url_prefix=PREFIX)
    resources.register(bp)
    views.register(bp)
    messages.register(bp)
    audit.register(bp)
    openapi.register(bp)
    auth.init_app(app)
    app.register_blueprint(bp)
