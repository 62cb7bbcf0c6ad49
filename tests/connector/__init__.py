"""Tests of the connector: mail sources, IMAP sync, filing channels, sending (the filing rules
themselves: tests/mail_archive/test_filing.py)."""
