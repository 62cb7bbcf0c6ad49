"""CRM events <-> iCalendar: publishing and two-way sync over CalDAV, the embedded CalDAV/CardDAV
server, ICS feeds and significant days (DESIGN.md, Layout). Imports crm only, never mail_archive.
"""
