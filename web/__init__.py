"""The Flask web layer: HTML pages, the REST API (/api/v1), later the add-in and /dav.

Views parse the request, call one service function in crm (or another owning package) and
render. Nothing here builds queries; nothing imports web.
"""

from web.app import create_app

__all__ = ["create_app"]
