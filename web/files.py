"""Stored files out to the browser or an API client: the blob store of this app's data
directory, and a download of one blob (the raw message, an attachment).

A download never fails on what was stored with the file: a type that is not a plain
``type/subtype`` (older rows kept one folded onto two lines) goes out as
application/octet-stream, and control characters are dropped from the file name, since either
would make an invalid header."""

from __future__ import annotations

import re
import unicodedata

from flask import Response, current_app, send_file

from crm.blobs import BlobStore
from crm.errors import NotFound
from web import db

DEFAULT_TYPE = "application/octet-stream"
_INVISIBLE_CATEGORY = re.compile("C|Zl|Zp")
_MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}")


def blob_store() -> BlobStore:
    return BlobStore(db.database().settings.blob_dir)


def download_type(content_type: str) -> str:
    """``content_type`` if it is a plain media type, else application/octet-stream."""
    value = content_type.strip().lower()
    return value if _MIME_TYPE.fullmatch(value) else DEFAULT_TYPE


def download_name(filename: str) -> str:
    """``filename`` without control, format (bidi) or line-separator characters, never empty."""
    name = "".join(c for c in filename if not _INVISIBLE_CATEGORY.match(unicodedata.category(c)))
    return name.strip() or "download"


def send_blob(sha: str, content_type: str, filename: str) -> Response:
    """The blob as a download; never rendered by the browser (attachment, sandboxing CSP)."""
    path = blob_store().path(sha)
    if not path.exists():
        current_app.logger.error("blob %s is missing", sha)
        raise NotFound("the stored file is missing; restore the data directory from a backup")
    response = send_file(
        path,
        mimetype=download_type(content_type),
        as_attachment=True,
        download_name=download_name(filename),
        etag=sha,
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
