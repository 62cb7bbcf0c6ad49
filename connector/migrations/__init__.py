"""The connector's Alembic version chain (branch "connector"), in ``versions/``.

Found through the entry point group ``dossier.migrations``: crm upgrades every package's chain
without importing any of them.
"""
