"""The CRM domain: partners, persons, deals, activities, users, permissions and the database.

This package is the bottom layer. It imports no other Dossier package and no web framework:
the web layer, the connectors and the CLI call the service functions in ``crm.services``.
"""
