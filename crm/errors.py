"""Domain errors, named by meaning. The web layer converts them to HTTP once, in one handler."""

from __future__ import annotations

import datetime as dt
import errno
from typing import Any


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


class StaleRecord(DossierError):
    """A save or delete based on a version of the record that is no longer current: someone
    else saved it in between. Nothing was written. Carries what is saved now (``current``, the
    record's ``as_dict``), who saved it (``updated_by``, a name or None) and when
    (``updated_at``), so the API can answer 412 with it and a form can show it beside the
    user's own values (RFC 9110 §13.1.1)."""

    code = "stale"
    status = 412

    def __init__(
        self,
        message: str,
        *,
        record: object,
        current: dict[str, Any],
        updated_by: str | None,
        updated_at: dt.datetime | None,
    ) -> None:
        super().__init__(message)
        self.record = record
        self.current = current
        self.updated_by = updated_by
        self.updated_at = updated_at


class AuthenticationFailed(DossierError):
    code = "unauthorized"
    status = 401


class BadFile(DossierError):
    """A file that cannot be used as given: the wrong format, too large, damaged or unsafe."""

    code = "bad_file"
    status = 422


class Busy(DossierError):
    """The database stayed locked by another writer longer than the session waits: nothing was
    written, and the same request will very likely succeed in a moment (503, Retry-After)."""

    code = "busy"
    status = 503
    retry_after = 2


class StorageFull(DossierError):
    """The disk (or the user's quota) holding the database or the blobs is full: nothing was
    written; an administrator has to make room (507 Insufficient Storage, RFC 4918 §11.5)."""

    code = "storage_full"
    status = 507


STORAGE_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def storage_error(exc: BaseException) -> StorageFull | None:
    """StorageFull for an OSError that says the disk or quota is full, else None."""
    if isinstance(exc, OSError) and exc.errno in STORAGE_FULL_ERRNOS:
        return StorageFull("the disk holding Dossier's data is full; nothing was saved")
    return None
