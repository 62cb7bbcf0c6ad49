"""Stored files out to the browser or an API client: the blob store of this app's data
directory, and a download of one blob (the raw message, an attachment)."""

from __future__ import annotations

from flask import Response, current_app, send_file

from crm.blobs import BlobStore
from crm.errors import NotFound
from web import db


def blob_store() -> BlobStore:
    return BlobStore(db.database().settings.blob_dir)


def send_blob(sha: str, content_type: str, filename: str) -> Response:
    """The blob as a download; never rendered by the browser (attachment, sandboxing CSP)."""
    path = blob_store().path(sha)
    if not path.exists():
        current_app.logger.error("blob %s is missing", sha)
        raise NotFound("the stored file is missing; restore the data directory from a backup")
    response = send_file(
        path, mimetype=content_type, as_attachment=True, download_name=filename, etag=sha
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
