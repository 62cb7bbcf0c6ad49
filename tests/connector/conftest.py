"""Connector tests share the mail archive's fixtures (a dossier to file to, ingest)."""

from __future__ import annotations

from tests.mail_archive.conftest import dossier, ingest  # noqa: F401
