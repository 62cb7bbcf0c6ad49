"""Blueprints, one per area of the UI, plus the REST API."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from web.views import (
        activities,
        admin,
        audit_log,
        auth,
        deals,
        mail,
        mail_accounts,  # noqa: F401  (its pages are on mail's blueprint)
        my_day,
        partners,
        persons,
        system,
    )

    for module in (
        auth,
        my_day,
        partners,
        persons,
        deals,
        activities,
        mail,
        admin,
        system,
        audit_log,
    ):
        app.register_blueprint(module.bp)
