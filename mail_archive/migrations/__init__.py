"""The mail archive's Alembic version chain (branch "mail_archive"), in ``versions/``.

Found through the entry point group ``dossier.migrations``: crm upgrades every package's chain
without importing any of them.
"""
