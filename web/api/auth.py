"""Bearer tokens: every /api/ request names its user by ``Authorization: Bearer TOKEN``.

The web session cookie is never consulted here (web.security skips /api/ paths), so a page
in a browser cannot act through the API on the user's behalf. The check runs before routing,
so even a path that does not exist answers 401 to a caller without a valid token.
"""

from __future__ import annotations

from flask import Flask, Response, g, request

from crm.errors import AuthenticationFailed
from crm.models import User
from crm.services.users import record_token_use, token_use_due, user_for_token
from web import db
from web.security import write_quietly

REALM = 'Bearer realm="Dossier API"'
MAX_TOKEN_LENGTH = 200


def api_user() -> User:
    """The user whose token authenticated this request."""
    user: User | None = g.get("api_user")
    if user is None:
        raise AuthenticationFailed("send an API token: Authorization: Bearer TOKEN")
    return user


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationFailed(
            "send an API token: Authorization: Bearer TOKEN (make one with `dossier token create`)"
        )
    g.api_token_sent = True
    if len(token) > MAX_TOKEN_LENGTH:
        raise AuthenticationFailed("invalid API token")
    return token


def authenticate() -> None:
    if not is_api_request():
        return
    token = bearer_token()
    # first, before this request's own transaction begins (a writing request's would hold
    # SQLite's write lock); a read, and at most once a minute a write that cannot fail us
    with db.database().session(write=False) as s:
        token_id = token_use_due(s, token)
    if token_id is not None:
        write_quietly("an API token's last use", lambda unit: record_token_use(unit, token_id))
    g.api_user = user_for_token(db.session(), token)


def challenge(response: Response) -> Response:
    if is_api_request() and response.status_code == 401:
        response.headers["WWW-Authenticate"] = (
            f'{REALM}, error="invalid_token"' if g.get("api_token_sent") else REALM
        )
    return response


def init_app(app: Flask) -> None:
    app.before_request(authenticate)
    app.after_request(challenge)
