"""Blueprints, one per area of the UI, plus the REST API."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from web.views import activities, admin, auth, deals, mail, partners, persons

    for module in (auth, partners, persons, deals, activities, mail, admin):
        app.register_blueprint(module.bp)
