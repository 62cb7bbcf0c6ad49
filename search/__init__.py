"""The full-text index: schema, analyzers, the indexer that drains the outbox, and queries with
permission filters (DESIGN.md, Layout). Imports crm, mail_archive and doc_library; never web.
"""
