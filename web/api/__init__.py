"""The REST API under /api/v1: JSON, bearer tokens, errors as {"error": {"code", "message"}}."""

from __future__ import annotations

from flask import Flask


def register_api(app: Flask) -> None:
    """Registers the /api/v1 blueprints (filled in by the API work)."""
