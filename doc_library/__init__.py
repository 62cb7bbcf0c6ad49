"""Documents and their versions, check-out locks, templates (DOCX, XLSX), text extraction and PDF
rendering when LibreOffice is present (DESIGN.md, Layout). Imports crm only, never mail_archive.
"""
