"""Domain errors, named by meaning. The web layer converts them to HTTP once, in one handler."""

from __future__ import annotations


class DossierError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DossierError):
    """The record does not exist or the user may not see it (the two are indistinguishable)."""

    code = "not_found"
    status = 404


class PermissionDenied(DossierError):
    code = "forbidden"
    status = 403


class Conflict(DossierError):
    code = "conflict"
    status = 409


class ValidationError(DossierError):
    """Bad input; ``errors`` maps a field name to what is wrong with it."""

    code = "invalid"
    status = 422

    def __init__(self, errors: dict[str, str], message: str | None = None) -> None:
        self.errors = errors
        super().__init__(message or "; ".join(f"{k}: {v}" for k, v in errors.items()))


class AuthenticationFailed(DossierError):
    code = "unauthorized"
    status = 401


class BadFile(DossierError):
    """A file that cannot be used as given: the wrong format, too large, damaged or unsafe."""

    code = "bad_file"
    status = 422
