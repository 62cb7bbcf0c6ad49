"""Service functions: the only way the web layer, the API and the CLI read and write CRM data.

Each takes the SQLAlchemy session and the acting user, checks the permission rule, validates
input with the record type's field specs and writes the outbox in the same transaction.
"""
